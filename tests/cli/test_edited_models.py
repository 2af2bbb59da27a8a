"""Model files edited by hand: the metadata of a real export is user input. Each bad edit is one
error naming the file and the field, exit code 2, no traceback, in infer, calibrate and build."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import DEFAULT_ONNX, SAMPLE_SCENE, SAMPLE_TILES
from lnet_edge.errors import LnetError
from lnet_edge.onnx_meta import METADATA_KEY

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


def _break_contract(tmp_path: Path, name: str, change) -> Path:
    """A copy of the shipped export whose graph ``change`` edits in place (metadata untouched)."""
    model = onnx.load(str(DEFAULT_ONNX))
    change(model.graph)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _rename(graph, old: str, new: str) -> None:
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def _drop_dim(graph) -> None:
    del graph.input[0].type.tensor_type.shape.dim[3]


BREAKS = {
    "input_name": (
        lambda g: _rename(g, "image", "input_0"),
        "input name is 'input_0' but lnet-edge models need 'image'",
    ),
    "output_name": (lambda g: _rename(g, "logits", "out"), "output name is 'out' but lnet-edge models need 'logits'"),
    "input_dtype": (
        lambda g: g.input[0].type.tensor_type.__setattr__("elem_type", onnx.TensorProto.FLOAT16),
        "input 'image' dtype is float16 but lnet-edge models need float32",
    ),
    "input_rank": (_drop_dim, "input 'image' rank is 3 (?, 3, ?) but lnet-edge models need 4"),
    "output_channels": (
        lambda g: g.output[0].type.tensor_type.shape.dim[1].__setattr__("dim_value", 2),
        "output 'logits' channels (dimension 1) is 2 but lnet-edge models need 1",
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_the_model_contract_is_checked_where_models_enter(tmp_path: Path, name: str) -> None:
    from lnet_edge.engines.onnx_info import read_onnx
    from lnet_edge.runners.open import open_model

    change, words = BREAKS[name]
    model = _break_contract(tmp_path, name, change)
    for enter in (read_onnx, open_model):  # build's reader; infer's, eval's and bench's opener
        with pytest.raises(LnetError, match="^" + re.escape(f"{model}: {words}")):
            enter(model)


@pytest.mark.parametrize("command", ["build", "pack", "calibrate", "infer"])
def test_an_export_with_a_renamed_input_is_refused_by_every_command(tmp_path: Path, command: str) -> None:
    model = _break_contract(tmp_path, "lnet-edge-s", BREAKS["input_name"][0])
    out = tmp_path / "out"
    args = {
        "build": ["build", str(model), "--out", str(out / "m.plan"), "--tile", "256"],
        "pack": [
            "pack",
            "-m",
            str(model),
            "--calibration",
            str(tmp_path / "cal"),
            "-d",
            str(SAMPLE_TILES),
            "-o",
            str(out),
        ],
        "calibrate": ["calibrate", "-m", str(model), "-d", str(SAMPLE_TILES), "-o", str(out)],
        "infer": ["infer", str(SAMPLE_SCENE), "-m", str(model), "-o", str(out)],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"{model}: input name is 'input_0' but lnet-edge models need 'image'" in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["lnet-edge-s.onnx"]
