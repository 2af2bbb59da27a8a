"""Model files edited by hand: the metadata of a real export is user input. Each bad edit is one
error naming the file and the field, exit code 2, no traceback, in infer, calibrate and build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import DEFAULT_ONNX, SAMPLE_SCENE, SAMPLE_TILES
from lnet_edge.errors import LnetError
from lnet_edge.export.manifest import METADATA_KEY

runner = CliRunner()


def _edit(tmp_path: Path, name: str, change) -> Path:
    """A copy of the shipped export whose embedded metadata ``change`` rewrites (text -> text)."""
    model = onnx.load(str(DEFAULT_ONNX))
    entry = next(p for p in model.metadata_props if p.key == METADATA_KEY)
    entry.value = change(entry.value)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _config_edit(**fields):
    def change(text: str) -> str:
        meta = json.loads(text)
        for key, value in fields.items():
            if key.startswith("norm_"):
                meta["config"]["norm"][key[5:]] = value
            else:
                meta["config"][key] = value
        return json.dumps(meta)

    return change


EDITS = {
    "not_json": (lambda t: t[:-7], "not valid JSON"),
    "no_config": (lambda t: json.dumps({k: v for k, v in json.loads(t).items() if k != "config"}), "no 'config'"),
    "config_string": (lambda t: json.dumps({**json.loads(t), "config": "lnet"}), "config"),
    "four_bands": (
        _config_edit(bands=[0, 1, 2, 3], band_names=["r", "g", "b", "n"], norm_mean=[0.5] * 4, norm_std=[0.25] * 4),
        "4 bands but the graph takes 3 channels",
    ),
    "tile_250": (_config_edit(tile=250), "tile 250"),
    "threshold_7": (_config_edit(threshold=7), "threshold 7"),
    "std_zero": (_config_edit(norm_std=[0.25, 0.0, 0.25]), "std"),
    "mean_nan": (lambda t: t.replace('"mean": [0.5, 0.5, 0.5]', '"mean": [NaN, 0.5, 0.5]'), "mean"),
    "variant_unknown": (_config_edit(variant="lnet9"), "unknown variant 'lnet9'"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_infer_refuses_edited_metadata_naming_file_and_field(tmp_path: Path, name: str) -> None:
    change, words = EDITS[name]
    model = _edit(tmp_path, name, change)
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-o", str(tmp_path / "out"), "-m", str(model)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert str(model) in text and words in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["not_json", "four_bands", "threshold_7"])
def test_calibrate_and_build_refuse_edited_metadata(tmp_path: Path, name: str) -> None:
    from lnet_edge.engines.onnx_info import read_onnx

    change, words = EDITS[name]
    model = _edit(tmp_path, name, change)
    result = runner.invoke(
        app, ["calibrate", "-m", str(model), "-d", str(SAMPLE_TILES), "-o", str(tmp_path / "cal"), "--tiles", "2"]
    )
    assert result.exit_code == 2 and words in " ".join(result.output.split()), result.output
    with pytest.raises(LnetError, match=words):
        read_onnx(model)  # what 'lnet-edge build' reads first


def test_an_unedited_copy_still_opens(tmp_path: Path) -> None:
    from lnet_edge.runners.open import open_model

    copy = tmp_path / "copy.onnx"
    shutil.copy(DEFAULT_ONNX, copy)
    _, config = open_model(copy)
    assert config.tile == 256 and 0 < config.threshold < 1
