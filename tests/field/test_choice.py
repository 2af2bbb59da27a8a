"""The CPU int8 model by weight range and CPU kind (lnet_edge/cpu_int8.py, field/choice.py): which
CPUs get it, the one line printed when it runs at a risk or on another CPU kind than its gate's,
``pack --gate-here``, and the self-check of a weight record edited by hand."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from lnet_edge.bundle import Bundle, pack_bundle, read_bundle
from lnet_edge.cli.main import app
from lnet_edge.cpu_int8 import SEVEN_BIT_MAX, cpu_kind, widest_weight
from lnet_edge.defaults import DEFAULT_MODEL_DIR, SAMPLE_SCENE, SAMPLE_TILES
from lnet_edge.errors import LnetError
from lnet_edge.field.choice import Here, choose
from lnet_edge.files import sha256_file
from lnet_edge.onnx_meta import METADATA_KEY, onnx_metadata

runner = CliRunner()

AVX2 = {"arch": "x86_64", "flags": ["avx2", "fma"]}
AVX512 = {"arch": "x86_64", "flags": ["avx2", "fma", "avx512f", "avx512bw"]}
VNNI = {"arch": "x86_64", "flags": ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"]}
AVX_VNNI = {"arch": "x86_64", "flags": ["avx2", "fma", "avx_vnni"]}
ARM_DOT = {"arch": "aarch64", "flags": ["asimd", "asimddp"]}
ARM = {"arch": "aarch64", "flags": ["asimd"]}
OLD_X86 = {"arch": "x86_64", "flags": []}
CPU = "int8-cpu"


@pytest.fixture(scope="module")
def shipped() -> Bundle:
    """The shipped bundle: its CPU int8 model has 7-bit weights, gated on AVX-512 VNNI."""
    return read_bundle(DEFAULT_MODEL_DIR)


def _cpu_entry(bundle: Bundle, **changes) -> Bundle:
    artifacts = {**bundle.artifacts, CPU: dataclasses.replace(bundle.artifacts[CPU], **changes)}
    return dataclasses.replace(bundle, artifacts=artifacts)


def _gated(bundle: Bundle, kind: str, passed: bool = True, **changes) -> Bundle:
    """``bundle`` with its first gate tagged as run on ``kind`` (and passed or not) and no other
    gate (the shipped bundle also carries one run on AVX2 kernels)."""
    gate = {**bundle.artifacts[CPU].gate, "cpu": kind, "passed": passed}
    return _cpu_entry(bundle, gate=gate, **{"gates": None, **changes})


def _machine(facts: dict) -> Here:
    return Here.from_facts(facts)  # no GPU backend: the CPU decides


def test_cpu_kinds_come_from_the_cpu_facts() -> None:
    kinds = [cpu_kind(f) for f in (VNNI, AVX_VNNI, ARM_DOT, AVX512, AVX2, ARM, OLD_X86)]
    assert kinds == ["avx512-vnni", "avx-vnni", "arm-dotprod", "avx512", "avx2", "arm", "x86"]
    assert _machine(VNNI).cpu_int8 == "AVX-512 VNNI" and _machine(AVX2).cpu_int8 is None
    assert _machine(ARM_DOT).cpu_int8 == "Arm dot product"


@pytest.mark.parametrize(
    ("facts", "bits", "precision"),
    [
        (AVX2, 7, "int8"),  # 7-bit weights cannot saturate 16-bit pair sums
        (AVX512, 7, "int8"),
        (AVX2, 8, "fp32"),  # 8-bit weights can
        (AVX512, 8, "fp32"),
        (AVX2, None, "fp32"),  # an entry that does not say counts as 8-bit
        (VNNI, 8, "int8"),
        (VNNI, None, "int8"),
        (AVX_VNNI, 8, "int8"),
        (VNNI, 7, "int8"),
        (ARM_DOT, 8, "int8"),
        (ARM_DOT, 7, "int8"),
        (ARM, 7, "fp32"),  # Arm without the dot product: int8 is no faster there
        (OLD_X86, 7, "fp32"),  # x86 without AVX2
    ],
)
def test_the_choice_reads_the_weight_range(shipped: Bundle, facts: dict, bits: int | None, precision: str) -> None:
    c = choose(_cpu_entry(shipped, weight_bits=bits), _machine(facts))
    assert (c.backend, c.precision) == ("onnxruntime", precision)
    assert c.role == (CPU if precision == "int8" else "fp32")


def test_the_reason_says_why_in_words(shipped: Bundle) -> None:
    seven = choose(_gated(shipped, "avx512-vnni", weight_bits=7), _machine(AVX2))
    assert "7-bit weights, safe without VNNI" in seven.reason and "AVX2" in seven.reason
    assert "gated on avx512-vnni" in seven.reason
    unsaid = choose(_cpu_entry(shipped, weight_bits=None), _machine(AVX2))  # a bundle that does not say
    assert "taken as 8-bit" in unsaid.reason and "can saturate" in unsaid.reason
    assert "lnet-edge calibrate" in unsaid.reason
    assert "VNNI" in choose(shipped, _machine(VNNI)).reason
    assert "Arm dot product" in choose(shipped, _machine(ARM_DOT)).reason


def test_the_shipped_bundle_speaks_for_avx2_cpus_with_its_own_gate(shipped: Bundle) -> None:
    c = choose(shipped, _machine(AVX2))  # gated on AVX2 kernels by scripts/as_avx2.sh + pack --gate-here
    assert c.precision == "int8" and c.note == "" and "gated on avx2" in c.reason
    assert shipped.artifacts[CPU].gates["avx2"]["iou_drop_points"] <= 0.5


def test_one_line_when_int8_runs_on_another_cpu_kind_than_its_gate(shipped: Bundle) -> None:
    seven = _gated(shipped, "avx512-vnni", weight_bits=7)
    c = choose(seven, _machine(AVX2))
    assert c.precision == "int8" and "\n" not in c.note
    assert "AVX-512 VNNI" in c.note and "AVX2" in c.note and "lnet-edge pack --gate-here" in c.note
    assert choose(seven, _machine(VNNI)).note == ""  # gated on this kind
    assert choose(shipped, _machine(VNNI)).note == ""  # a gate that does not name its CPU: nothing to compare
    avx2_gate = {**seven.artifacts[CPU].gate, "cpu": "avx2", "iou_drop_points": 0.3}
    gated_here = _cpu_entry(seven, gates={"avx2": avx2_gate})
    c = choose(gated_here, _machine(AVX2))
    assert c.note == "" and "gated on avx2" in c.reason and "-0.30 points" in c.reason
    assert seven.artifacts[CPU].gate["cpu"] == "avx512-vnni"  # the first gate stays readable beside


@pytest.fixture(scope="module")
def eight_bit(tmp_path_factory) -> Path:
    """A bundle of the shipped fp32 model and a real CPU int8 model with 8-bit weights (calibrated
    on the sample tiles) whose entry says nothing of its weight range, as bundles made before
    the range was recorded."""
    from lnet_edge.calibration.quantize import CpuInt8Options, cpu_int8_from_onnx
    from lnet_edge.export.manifest import save_artifact
    from lnet_edge.export.tiles import batch_of, tiles_from_folders

    work = tmp_path_factory.mktemp("eight")
    fp32 = DEFAULT_MODEL_DIR / "lnet-edge-s.onnx"
    meta = onnx_metadata(DEFAULT_MODEL_DIR / "lnet-edge-s.int8-cpu.onnx")
    meta = {k: v for k, v in meta.items() if k != "weight_bits"}  # and no reduce_range among the options
    meta["options"] = {k: v for k, v in (meta.get("options") or {}).items() if k != "reduce_range"}
    meta["gate"] = {k: v for k, v in meta["gate"].items() if k != "cpu"}  # nor the CPU its gate ran on
    config = read_bundle(DEFAULT_MODEL_DIR, verify=False).config
    calib = batch_of(tiles_from_folders([SAMPLE_TILES], config, "all", limit=4), config)
    options = CpuInt8Options(batch=2, reduce_range=False)
    bare = cpu_int8_from_onnx(fp32, work / "bare.onnx", calib, work / "ranges.json", options)
    model = save_artifact(onnx.load(str(bare)), work / "lnet-edge-s.int8-cpu.onnx", meta)
    return pack_bundle({"fp32": fp32, CPU: model}, work / "bundle").root


def test_the_shipped_bundle_runs_int8_on_avx2(shipped: Bundle) -> None:
    assert shipped.artifacts[CPU].weight_bits == 7  # rebuilt with 7-bit weights
    c = choose(shipped, _machine(AVX2))
    assert (c.backend, c.precision) == ("onnxruntime", "int8") and "7-bit weights" in c.reason


def test_asked_int8_with_8_bit_weights_without_vnni_runs_after_one_warning(eight_bit: Path) -> None:
    shipped = read_bundle(eight_bit)
    assert shipped.artifacts[CPU].weight_bits in (None, 8)
    c = choose(shipped, _machine(AVX2), precision="int8")
    assert (c.precision, c.role) == ("int8", CPU) and "\n" not in c.note
    assert "8-bit" in c.note and "overflow" in c.note
    assert "lnet-edge pack --gate-here" in c.note and "7-bit" in c.note and "lnet-edge calibrate" in c.note
    assert "can saturate" in c.reason  # and the summary's choice says it too
    assert choose(_cpu_entry(shipped, weight_bits=7), _machine(AVX2), precision="int8").note == ""
    assert choose(shipped, _machine(VNNI), precision="int8").note == ""


def test_the_gate_run_on_this_cpu_kind_counts(eight_bit: Path) -> None:
    shipped = read_bundle(eight_bit)
    failed = {**shipped.artifacts[CPU].gate, "cpu": "avx2", "passed": False, "iou_drop_points": 4.5}
    passed = {**failed, "passed": True, "iou_drop_points": 0.2}
    seven_failed_here = _cpu_entry(shipped, weight_bits=7, gates={"avx2": failed})
    c = choose(seven_failed_here, _machine(AVX2))
    assert c.precision == "fp32" and "failed its accuracy gate" in c.reason
    assert choose(seven_failed_here, _machine(VNNI)).precision == "int8"  # the first gate speaks for others
    with pytest.raises(LnetError, match=r"failed its accuracy gate \(landslide IoU -4\.50 points.*gated on avx2"):
        choose(_cpu_entry(shipped, gates={"avx2": failed}), _machine(AVX2), precision="int8")
    eight_gated_here = _cpu_entry(shipped, gates={"avx2": passed})
    assert choose(eight_gated_here, _machine(AVX2), precision="int8").note == ""  # measured here
    assert choose(eight_gated_here, _machine(AVX2)).precision == "fp32"  # but never chosen by itself


def test_infer_prints_the_warning_once(eight_bit: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr("lnet_edge.field.choice.here", lambda: _machine(AVX2))
    result = runner.invoke(
        app, ["infer", str(SAMPLE_SCENE), "-m", str(eight_bit), "-o", str(tmp_path), "--precision", "int8"]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "overflow" in warnings[0]  # one line, not wrapped
    assert "lnet-edge pack --gate-here" in warnings[0] and "7-bit weights" in warnings[0]
    summary = json.loads(next(tmp_path.glob("*/*_summary.json")).read_text())
    assert summary["precision"] == CPU and "can saturate" in summary["choice"]


@pytest.fixture(scope="module")
def seven_bit(tmp_path_factory) -> Path:
    """A bundle of the shipped fp32 model and a real CPU int8 model with 7-bit weights (calibrated
    on the sample tiles), its first gate tagged as run on AVX-512 VNNI."""
    from lnet_edge.calibration.quantize import CpuInt8Options, cpu_int8_from_onnx
    from lnet_edge.export.manifest import save_artifact
    from lnet_edge.export.tiles import batch_of, tiles_from_folders

    work = tmp_path_factory.mktemp("seven")
    fp32 = DEFAULT_MODEL_DIR / "lnet-edge-s.onnx"
    meta = onnx_metadata(DEFAULT_MODEL_DIR / "lnet-edge-s.int8-cpu.onnx")
    config = read_bundle(DEFAULT_MODEL_DIR, verify=False).config
    calib = batch_of(tiles_from_folders([SAMPLE_TILES], config, "all", limit=4), config)
    bare = cpu_int8_from_onnx(fp32, work / "bare.onnx", calib, work / "ranges.json", CpuInt8Options(batch=2))
    meta = {**meta, "weight_bits": 7, "gate": {**meta["gate"], "cpu": "avx512-vnni"}}
    model = save_artifact(onnx.load(str(bare)), work / "lnet-edge-s.int8-cpu.onnx", meta)
    return pack_bundle({"fp32": fp32, CPU: model}, work / "bundle").root


def test_pack_records_the_weight_range_and_the_self_check_accepts_real_7_bit_weights(seven_bit: Path) -> None:
    entry = next(a for a in json.loads((seven_bit / "bundle.json").read_text())["artifacts"] if a["role"] == CPU)
    assert entry["weight_bits"] == 7 and entry["gate"]["cpu"] == "avx512-vnni"
    assert 0 < widest_weight(seven_bit / entry["file"])[1] <= SEVEN_BIT_MAX
    assert read_bundle(seven_bit).artifacts[CPU].weight_bits == 7


def test_infer_on_another_cpu_kind_than_the_gate_says_so_in_one_line(
    seven_bit: Path, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("lnet_edge.field.choice.here", lambda: _machine(AVX2))
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(seven_bit), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "passed its accuracy gate on AVX-512 VNNI kernels" in warnings[0]
    assert "AVX2" in warnings[0] and "lnet-edge pack --gate-here" in warnings[0]
    summary = json.loads(next(tmp_path.glob("*/*_summary.json")).read_text())
    assert summary["precision"] == CPU and "7-bit weights, safe without VNNI" in summary["choice"]


def _copy(bundle: Path, to: Path) -> Path:
    shutil.copytree(bundle, to)
    return to


def _edit_entry(bundle: Path, **fields) -> None:
    index = json.loads((bundle / "bundle.json").read_text())
    next(a for a in index["artifacts"] if a["role"] == CPU).update(fields)
    (bundle / "bundle.json").write_text(json.dumps(index))


def test_a_7_bit_claim_on_8_bit_weights_is_refused_naming_the_file(
    seven_bit: Path, eight_bit: Path, tmp_path: Path
) -> None:
    copy = _copy(seven_bit, tmp_path / "b")
    shutil.copy(eight_bit / "lnet-edge-s.int8-cpu.onnx", copy / "lnet-edge-s.int8-cpu.onnx")  # 8-bit
    _edit_entry(copy, sha256=sha256_file(copy / "lnet-edge-s.int8-cpu.onnx"))  # the sha256 edited to match
    with pytest.raises(
        LnetError, match=r"lnet-edge-s\.int8-cpu\.onnx \(int8-cpu\) says 7-bit weights \(bundle\.json\)"
    ):
        read_bundle(copy)
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-m", str(copy), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "lnet-edge-s.int8-cpu.onnx" in out and "up to 127" in out and "Traceback" not in out


def test_a_7_bit_claim_in_the_model_manifest_is_checked_too(eight_bit: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    fp32, cpu = DEFAULT_MODEL_DIR / "lnet-edge-s.onnx", eight_bit / "lnet-edge-s.int8-cpu.onnx"
    pack_bundle({"fp32": fp32, CPU: cpu}, copy)
    model = onnx.load(str(copy / cpu.name))
    entry = next(p for p in model.metadata_props if p.key == METADATA_KEY)
    entry.value = json.dumps({**json.loads(entry.value), "weight_bits": 7})
    onnx.save(model, str(copy / cpu.name))
    _edit_entry(copy, sha256=sha256_file(copy / cpu.name))
    with pytest.raises(LnetError, match=r"says 7-bit weights \(its manifest\) but its weight tensor .* up to 127"):
        read_bundle(copy)
    _edit_entry(copy, weight_bits="seven")
    with pytest.raises(LnetError, match=r"bundle\.json: lnet-edge-s\.int8-cpu\.onnx has weight_bits 'seven'"):
        read_bundle(copy)
    entry.value = json.dumps({**json.loads(entry.value), "weight_bits": 9})
    onnx.save(model, str(tmp_path / cpu.name))
    with pytest.raises(LnetError, match=r"metadata field 'weight_bits' is 9, not 7 or 8") as err:
        pack_bundle({"fp32": fp32, CPU: tmp_path / cpu.name}, tmp_path / "c")
    assert str(err.value).startswith(f"{tmp_path / cpu.name}:")  # the file given, not a copy


def test_pack_gate_here_records_this_cpu_beside_the_first_gate(shared_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "b"
    pack_bundle(
        {"fp32": DEFAULT_MODEL_DIR / "lnet-edge-s.onnx", CPU: DEFAULT_MODEL_DIR / "lnet-edge-s.int8-cpu.onnx"}, copy
    )
    first = read_bundle(copy).artifacts[CPU].gate
    refused = runner.invoke(app, ["pack", "--gate-here", "-m", str(copy)])
    assert refused.exit_code == 2 and "-d DATA" in " ".join(refused.output.split())
    data = ["-d", str(shared_data / "sichuan_aerial_atlan1024"), "-d", str(shared_data / "cas_hokkaido_iburi_atlan512")]
    result = runner.invoke(app, ["pack", "--gate-here", "-m", str(copy), *data])
    assert result.exit_code == 0, result.output
    kind = cpu_kind()
    assert f"gate on {kind}:" in result.output
    cpu = read_bundle(copy).artifacts[CPU]
    assert cpu.gate == first  # the first gate, unchanged and readable as before
    here = cpu.gates[kind]
    assert here["cpu"] == kind and here["tiles"]["count"] > 0 and len(here["tiles"]["sha256"]) == 64
    assert {"iou", "iou_drop_points", "passed", "max_iou_drop"} <= set(here)
    c = choose(read_bundle(copy), Here(frozenset({"onnxruntime"}), "int8 dot product", kind))
    assert c.precision == "int8" and f"gated on {kind}" in c.reason  # this CPU's gate counts here
