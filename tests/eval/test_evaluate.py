"""lnet-edge eval on 16-bit images: the percentile stretch they get is said once on the console
and stated, with what it did, in eval.json and eval.md."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import DEFAULT_ONNX, SAMPLE_TILES

runner = CliRunner()


def _tiles(dst: Path, bits: int) -> Path:
    """The sample tiles and masks; with ``bits`` 16, the images as 16-bit copies (x257: the same picture)."""
    for sub in ("images", "masks"):
        (dst / sub).mkdir(parents=True)
    for image in sorted((SAMPLE_TILES / "images").glob("*.png"))[:2]:
        arr = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(dst / "images" / image.name), arr.astype(np.uint16) * 257 if bits == 16 else arr)
        shutil.copy(SAMPLE_TILES / "masks" / image.name, dst / "masks" / image.name)
    return dst


def _eval(data: Path, out: Path):
    result = runner.invoke(app, ["eval", "-d", str(data), "-m", str(DEFAULT_ONNX), "--split", "all", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split()), json.loads((out / "eval.json").read_text()), (out / "eval.md").read_text()


def test_eval_says_once_that_16_bit_images_are_stretched_and_records_the_rule(tmp_path: Path) -> None:
    text, report, md = _eval(_tiles(tmp_path / "tiles16", 16), tmp_path / "out16")
    assert text.count("note: images not 8-bit (2 uint16): uint8 images are fed unchanged; any other") == 1, text
    assert "2 % to 98 % percentiles mapped linearly to 0..255" in text
    assert report["scaling"]["stretched_images"] == {"uint16": 2}
    assert "2 % to 98 % percentiles" in report["scaling"]["rule"]
    assert md.startswith("Scaling: uint8 images are fed unchanged") and "Images stretched: 2 uint16." in md


def test_eval_of_8_bit_images_has_no_note_and_says_none_were_stretched(tmp_path: Path) -> None:
    text, report, md = _eval(_tiles(tmp_path / "tiles8", 8), tmp_path / "out8")
    assert "not 8-bit" not in text and report["scaling"]["stretched_images"] == {}
    assert "Images stretched: none." in md.splitlines()[0]


def _gated(path: Path, bias: float, floor: float | None = None) -> Path:
    """The shipped weights with a gate that shuts (``bias`` < 0) or passes every window."""
    import torch

    from lnet_edge.config import PRESETS
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.model.checkpoint import read_checkpoint, save_checkpoint
    from lnet_edge.model.gate import descriptor_size

    ckpt = read_checkpoint(DEFAULT_CHECKPOINT)
    state = dict(ckpt["state_dict"])
    n = descriptor_size(PRESETS[ckpt["config"]["preset"]])
    state["gate.linear.weight"], state["gate.linear.bias"] = torch.zeros(1, n), torch.full((1,), bias)
    config = {**ckpt["config"], "scene_gate": 0.5, "scene_gate_descriptor": "weighted", "scene_gate_floor": floor}
    save_checkpoint(path, {**ckpt, "config": config, "state_dict": state})
    return path


def test_eval_of_a_gated_model_counts_the_images_its_gate_shut(tmp_path: Path) -> None:
    data = _tiles(tmp_path / "tiles", 8)
    for bias, shut in ((-10.0, 2), (10.0, 0)):
        out = tmp_path / f"out{bias:+g}"
        model = _gated(tmp_path / f"gated{bias:+g}.pt", bias)
        result = runner.invoke(app, ["eval", "-d", str(data), "-m", str(model), "--split", "all", "-o", str(out)])
        assert result.exit_code == 0, result.output
        report, md = json.loads((out / "eval.json").read_text()), (out / "eval.md").read_text()
        assert report["scene_gate"]["images_shut"] == {"tiles": {"shut": shut, "images": 2}}
        assert [r["gate_shut"] for r in report["per_image"]] == [bool(shut)] * 2
        assert f"Scene gate: cut 0.5; shut whole (nothing marked): {shut} of 2 images of tiles." in md
        assert (report["overall"]["tp"] + report["overall"]["fp"] == 0) == bool(shut)


def test_eval_of_a_model_without_a_gate_says_nothing_of_one(tmp_path: Path) -> None:
    _, report, md = _eval(_tiles(tmp_path / "tiles8", 8), tmp_path / "out8")
    assert report["scene_gate"] is None and "Scene gate" not in md


def test_eval_of_a_gate_with_a_floor_counts_no_shut_images_and_says_why(tmp_path: Path) -> None:
    out, model = tmp_path / "out", _gated(tmp_path / "floor.pt", -10.0, floor=0.95)
    result = runner.invoke(
        app, ["eval", "-d", str(_tiles(tmp_path / "tiles", 8)), "-m", str(model), "--split", "all", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    report, md = json.loads((out / "eval.json").read_text()), (out / "eval.md").read_text()
    assert report["scene_gate"] == {"cut": 0.5, "floor": 0.95, "images_shut": None}
    assert "gate_shut" not in report["per_image"][0] and "shut windows are not counted" in md
