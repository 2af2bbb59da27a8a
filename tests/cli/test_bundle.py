"""From a checkpoint to a field device in three commands: export, build --int8 (calibrating
inline), pack; then the bundle's self-check and the automatic choice of backend and precision."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.bundle import read_bundle
from lnet_edge.cli.main import app
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.errors import LnetError
from lnet_edge.field.choice import Here, choose
from tests.conftest import needs_rtx, tensorrt_rtx_present

runner = CliRunner()
CPU = frozenset({"onnxruntime"})
VNNI_CPU = Here(CPU, cpu_int8="AVX-512 VNNI")


@pytest.fixture(scope="module")
def flow(shared_data: Path, tmp_path_factory) -> dict:
    """export -> build --int8 -d (calibrates inline) -> pack, in one working folder."""
    work = tmp_path_factory.mktemp("flow")
    data = ["-d", str(shared_data / "bijie_atlan_upscaled"), "-d", str(shared_data / "cas_hokkaido_iburi_atlan512")]
    fp32 = work / "export" / "lnet-edge-s.onnx"
    steps = {
        "export": ["export", "-o", str(fp32), *data],
        "build": ["build", str(fp32), "--int8", *data, "--calibration", str(work / "calibration"),
                  "--batch", "1,2,4", "--tile", "256", "--out", str(work / "engines" / "lnet-edge-s-int8.plan")],
        "pack": ["pack", "-m", str(fp32), "--calibration", str(work / "calibration"), "-o", str(work / "bundle")],
    }  # fmt: skip
    if not tensorrt_rtx_present():
        del steps["build"]
        steps["pack"] += data  # calibrate while packing instead
    results = {name: runner.invoke(app, args) for name, args in steps.items()}
    for name, result in results.items():
        assert result.exit_code == 0, (name, result.output)
    return {"work": work, "fp32": fp32, "bundle": work / "bundle", "results": results}


def test_pack_writes_a_bundle_with_every_artifact_and_gate(flow: dict) -> None:
    bundle = read_bundle(flow["bundle"])
    assert set(bundle.artifacts) == {"fp32", "fp16", "int8-qdq", "int8-cpu", "calibration-cache", "calibration-report"}
    index = json.loads((flow["bundle"] / "bundle.json").read_text())
    assert index["format"] == "lnet-edge-bundle" and index["format_version"] == 1
    for a in bundle.artifacts.values():
        assert (flow["bundle"] / a.file).is_file() and len(a.sha256) == 64
    assert bundle.artifacts["int8-cpu"].gate is not None and "passed" in bundle.artifacts["int8-cpu"].gate


@needs_rtx
def test_build_int8_calibrated_inline_and_named_once_per_precision(flow: dict) -> None:
    out = " ".join(flow["results"]["build"].output.split())
    assert "calibrating" in out and (flow["work"] / "engines" / "lnet-edge-s-int8.plan").is_file()
    again = runner.invoke(app, ["build", str(flow["fp32"]), "--int8", "--calibration", str(flow["work"] / "calibration"),
                                "--batch", "1,2,4", "--tile", "256"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "calibrating" not in again.output  # found by the fp32 model's sha256
    assert Path("engines/lnet-edge-s-int8.plan").is_file()  # the default name: NAME-PRECISION.plan
    for p in Path("engines").glob("lnet-edge-s-int8.plan*"):
        p.unlink()


def test_build_int8_without_calibration_names_the_command(flow: dict, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(flow["fp32"]), "--int8", "--calibration", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "lnet-edge calibrate -m" in " ".join(result.output.split())


def test_a_changed_or_missing_artifact_or_a_newer_index_is_refused(flow: dict, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    shutil.copytree(flow["bundle"], copy)
    target = copy / read_bundle(copy).artifacts["int8-cpu"].file
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(LnetError, match=r"int8-cpu\.onnx \(int8-cpu\) changed: sha256"):
        read_bundle(copy)
    target.unlink()
    with pytest.raises(LnetError, match="is missing"):
        read_bundle(copy)
    shutil.copy(flow["bundle"] / read_bundle(flow["bundle"]).artifacts["int8-cpu"].file, target)
    index = json.loads((copy / "bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps({**index, "format_version": 9}))
    with pytest.raises(LnetError, match="format_version 9, newer than this lnet-edge reads"):
        read_bundle(copy)


def test_the_automatic_choice_on_this_kind_of_cpu_is_int8(flow: dict) -> None:
    bundle = read_bundle(flow["bundle"])
    if not bundle.artifacts["int8-cpu"].passed:
        pytest.skip("the int8 model of this export failed its gate")
    c = choose(bundle, VNNI_CPU)
    assert (c.backend, c.precision, c.role) == ("onnxruntime", "int8", "int8-cpu") and "VNNI" in c.reason
    plain = choose(bundle, Here(CPU, None))
    assert plain.precision == "fp32" and "no int8 dot-product" in plain.reason
    assert choose(bundle, VNNI_CPU, precision="fp32").precision == "fp32"
    gpu = choose(bundle, Here(CPU | {"tensorrt", "onnxruntime-cuda"}, cpu_int8=None))
    assert (gpu.backend, gpu.precision) == ("tensorrt", "int8")
    with pytest.raises(LnetError, match=r"--backend tensorrt: it cannot run here .*use --backend auto or onnxruntime"):
        choose(bundle, VNNI_CPU, backend="tensorrt")
    cuda = Here(CPU | {"onnxruntime-cuda"}, cpu_int8="AVX-512 VNNI")
    assert choose(bundle, cuda).backend == "onnxruntime-cuda"
    assert choose(bundle, cuda, backend="onnxruntime-cuda").backend == "onnxruntime-cuda"
    assert choose(bundle, cuda, backend="onnxruntime").backend == "onnxruntime"  # the CPU provider, as registered
    no_provider = Here(CPU, "AVX-512 VNNI", why_not={"onnxruntime-cuda": "ONNX Runtime has no CUDA execution provider"})
    with pytest.raises(LnetError, match="--backend onnxruntime-cuda: ONNX Runtime has no CUDA execution provider"):
        choose(bundle, no_provider, backend="onnxruntime-cuda")


def test_an_int8_model_that_failed_its_gate_is_never_chosen(flow: dict, tmp_path: Path) -> None:
    import dataclasses

    bundle = read_bundle(flow["bundle"])
    failed = {**bundle.artifacts}
    for role in ("int8-cpu", "int8-qdq"):
        failed[role] = dataclasses.replace(failed[role], gate={"passed": False, "iou_drop_points": 3.2})
    bad = dataclasses.replace(bundle, artifacts=failed)
    assert choose(bad, VNNI_CPU).precision == "fp32"
    with pytest.raises(LnetError, match=r"failed its accuracy gate \(landslide IoU -3\.20 points.*--force-precision"):
        choose(bad, VNNI_CPU, precision="int8")
    assert choose(bad, VNNI_CPU, precision="int8", force=True).precision == "int8"


def test_infer_with_the_bundle_says_what_runs_and_records_it(flow: dict, tmp_path: Path) -> None:
    from lnet_edge.defaults import SAMPLE_SCENE

    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(flow["bundle"]), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "running onnxruntime" in result.output
    summary = json.loads(next((tmp_path / "o").glob("*/*_summary.json")).read_text())
    assert summary["choice"].startswith("onnxruntime") and summary["precision"] in ("int8-cpu", "fp32")
    forced = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(flow["bundle"]), "-o", str(tmp_path / "p"),
                                 "--precision", "fp32"])  # fmt: skip
    assert forced.exit_code == 0 and "as asked" in forced.output


def _shipped_bundle(dst: Path) -> Path:
    """A copy of the shipped bundle's own files (the package folder holds others too)."""
    from lnet_edge.defaults import DEFAULT_MODEL_DIR

    index = json.loads((DEFAULT_MODEL_DIR / "bundle.json").read_text())
    dst.mkdir(parents=True)
    for name in [a["file"] for a in index["artifacts"]] + ["bundle.json", index["model_card"]]:
        shutil.copy(DEFAULT_MODEL_DIR / name, dst / name)
    return dst


def _edit_index(root: Path, change) -> None:
    index = json.loads((root / "bundle.json").read_text())
    change({a["role"]: a for a in index["artifacts"]}, index)
    (root / "bundle.json").write_text(json.dumps(index, indent=1))


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_a_bundle_path_leading_out_of_its_folder_is_refused(tmp_path: Path, where: str) -> None:
    root = _shipped_bundle(tmp_path / "site" / "bundle")
    outside = Path(shutil.copy(root / "lnet-edge-s.int8-cpu.onnx", tmp_path / "elsewhere.onnx"))  # same sha256
    name = {"dotdot": "../../elsewhere.onnx", "absolute": str(outside), "symlink": "lnet-edge-s.int8-cpu.onnx"}[where]
    if where == "symlink":
        (root / name).unlink()
        (root / name).symlink_to(outside)
    _edit_index(root, lambda by_role, _: by_role["int8-cpu"].update(file=name))
    with pytest.raises(
        LnetError, match=rf"bundle\.json: entry 'int8-cpu' names '{re.escape(name)}', which is not a file inside"
    ):
        read_bundle(root)
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(root), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not a file inside the bundle folder" in " ".join(result.output.split())


def test_swapped_fp32_and_int8_entries_are_one_error_naming_both_values(tmp_path: Path) -> None:
    root = _shipped_bundle(tmp_path / "bundle")

    def swap(by_role: dict, _) -> None:
        fp32, cpu = by_role["fp32"], by_role["int8-cpu"]
        for key in ("file", "sha256"):
            fp32[key], cpu[key] = cpu[key], fp32[key]

    _edit_index(root, swap)
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(root), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert (
        f"{root / 'bundle.json'}: entry 'fp32' (lnet-edge-s.int8-cpu.onnx) says role fp32, precision fp32, but "
        "the file's own metadata says role int8-cpu, precision int8" in text
    ), text
    assert text.count("error:") == 1 and not (tmp_path / "out").exists()


def test_a_relabelled_precision_is_refused(tmp_path: Path) -> None:
    root = _shipped_bundle(tmp_path / "bundle")
    _edit_index(root, lambda by_role, _: by_role["int8-qdq"].update(precision="fp16"))
    with pytest.raises(
        LnetError,
        match=re.escape(
            "entry 'int8-qdq' (lnet-edge-s.int8-qdq.onnx) says role int8-qdq, precision fp16, "
            "but the file's own metadata says role int8-qdq, precision int8"
        ),
    ):
        read_bundle(root)
