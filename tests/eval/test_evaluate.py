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
