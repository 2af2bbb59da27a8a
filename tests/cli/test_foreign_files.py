"""Commands that write into a folder keep what they did not write: pack, export, calibrate and
build write into new or empty folders or beside existing files, replace a file of the user's only
with --overwrite, never a folder, and delete nothing (docs/style.md, 20). infer: tests/field/test_hostile.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.bundle import read_bundle
from lnet_edge.cli.main import app
from lnet_edge.defaults import DEFAULT_CHECKPOINT, DEFAULT_MODEL_DIR, DEFAULT_ONNX, SAMPLE_TILES

runner = CliRunner()
CALIBRATION = ("lnet-edge-s.int8-qdq.onnx", "lnet-edge-s.int8-cpu.onnx", "lnet-edge-s.int8-qdq.calibration.cache",
               "lnet-edge-s.calibration.json")  # fmt: skip
USERS = {"best.pt": DEFAULT_CHECKPOINT, "eval.json": DEFAULT_MODEL_DIR / "eval-val.json",
         "training-metrics.csv": DEFAULT_MODEL_DIR / "training-metrics.csv"}  # fmt: skip


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """export/ with the shipped fp32 model and its fp16 model; calibration/ with the shipped int8
    artifacts of that fp32 model."""
    from lnet_edge.export.fp16 import fp16_from_onnx

    work = tmp_path_factory.mktemp("made")
    (work / "export").mkdir()
    fp32 = Path(shutil.copy(DEFAULT_ONNX, work / "export"))
    fp16_from_onnx(fp32, fp32.with_name("lnet-edge-s.fp16.onnx"), [SAMPLE_TILES])
    (work / "calibration").mkdir()
    for name in CALIBRATION:
        shutil.copy(DEFAULT_MODEL_DIR / name, work / "calibration")
    return work


@pytest.fixture
def work(made: Path, tmp_path: Path) -> Path:
    """A copy of ``made`` whose export folder also holds the training run's own files."""
    shutil.copytree(made, tmp_path / "w")
    for name, src in USERS.items():
        shutil.copy(src, tmp_path / "w" / "export" / name)
    return tmp_path / "w"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _pack(work: Path, out: Path, *extra: str):
    model = work / "export" / "lnet-edge-s.onnx"
    return runner.invoke(
        app, ["pack", "-m", str(model), "--calibration", str(work / "calibration"), "-o", str(out), *extra]
    )


def test_pack_into_the_export_folder_keeps_the_training_runs_files(work: Path) -> None:
    export = work / "export"
    users = {name: (export / name).read_bytes() for name in USERS}
    for _ in range(2):  # the second run replaces its own earlier files, without --overwrite
        result = _pack(work, export)
        assert result.exit_code == 0, result.output
        assert {name: (export / name).read_bytes() for name in USERS} == users
    bundle = read_bundle(export)
    assert set(bundle.artifacts) == {"fp32", "fp16", "int8-qdq", "int8-cpu", "calibration-cache", "calibration-report"}
    assert not list(export.glob("*.part")) and not list(work.glob("export.*"))


def test_pack_refuses_a_users_file_at_a_bundle_name_unless_overwrite(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "site-bundle"
    out.mkdir()
    (out / "bundle.json").write_text(json.dumps({"site": "Wenchuan", "flights": [3, 4]}))
    shutil.copy(USERS["eval.json"], out / "eval.json")
    before = _snapshot(out)
    result = _pack(work, out)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{out / 'bundle.json'} already exists and was not written by lnet-edge" in text and "--overwrite" in text
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)
    again = _pack(work, out, "--overwrite")
    assert again.exit_code == 0, again.output
    assert read_bundle(out).name == "lnet-edge-s" and (out / "eval.json").read_bytes() == before["eval.json"]


def test_pack_never_writes_over_a_folder(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    (out / "lnet-edge-s.int8-cpu.onnx").mkdir(parents=True)
    (out / "lnet-edge-s.int8-cpu.onnx" / "notes.txt").write_text("flight log")
    result = _pack(work, out, "--overwrite")
    assert result.exit_code == 2 and "is a folder" in " ".join(result.output.split()), result.output
    assert (out / "lnet-edge-s.int8-cpu.onnx" / "notes.txt").read_text() == "flight log"
    assert sorted(p.name for p in out.iterdir()) == ["lnet-edge-s.int8-cpu.onnx"]


@pytest.mark.parametrize("name", ["lnet-edge-s.onnx.json", "lnet-edge-s.fp16.onnx"])
def test_export_refuses_a_users_file_before_any_work(tmp_path: Path, name: str) -> None:
    shutil.copy(USERS["eval.json"], tmp_path / name)
    before = _snapshot(tmp_path)
    out = tmp_path / "lnet-edge-s.onnx"
    result = runner.invoke(app, ["export", "-c", str(DEFAULT_CHECKPOINT), "-d", str(SAMPLE_TILES), "-o", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{tmp_path / name} already exists and was not written by lnet-edge" in text and "--overwrite" in text
    assert _snapshot(tmp_path) == before


def test_calibrate_refuses_a_users_file_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "calibration"
    out.mkdir()
    (out / "lnet-edge-s.calibration.md").write_text("# Calibration notes from the field\n")
    before = _snapshot(out)
    result = runner.invoke(app, ["calibrate", "-m", str(DEFAULT_ONNX), "-d", str(SAMPLE_TILES), "-o", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{out / 'lnet-edge-s.calibration.md'} already exists and was not written by lnet-edge" in text
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == list(before)


@pytest.mark.parametrize("name", ["m.plan", "m.plan.json"])
def test_build_refuses_a_users_file_before_building(tmp_path: Path, name: str) -> None:
    shutil.copy(USERS["eval.json"], tmp_path / name)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, ["build", str(DEFAULT_ONNX), "--out", str(tmp_path / "m.plan"), "--tile", "256"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{tmp_path / name} already exists and was not written by lnet-edge" in text and "--overwrite" in text
    assert _snapshot(tmp_path) == before
