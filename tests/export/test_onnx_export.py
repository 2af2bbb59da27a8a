"""Checkpoint -> ONNX: parity on real tiles through dynamic axes, graph form, metadata, bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from lnet_edge.config import l4s_config
from lnet_edge.defaults import DEFAULT_CHECKPOINT
from lnet_edge.errors import LnetError
from lnet_edge.export.manifest import read_export_metadata
from lnet_edge.export.onnx_export import ExportOptions, onnx_from_checkpoint
from lnet_edge.export.parity import FP32_TOLERANCE, compare_logits, ort_logits
from lnet_edge.export.tiles import batch_of, tiles_from_folders
from lnet_edge.files import sha256_file
from lnet_edge.model.checkpoint import load_model, save_checkpoint


@pytest.mark.parametrize(("size", "batch"), [(256, 1), (384, 3)])
def test_parity_with_pytorch_at_two_sizes_and_batches(exported: Path, rgb_folders: list[Path], size: int, batch: int):
    import torch

    model, _ = load_model(DEFAULT_CHECKPOINT)
    x = batch_of(tiles_from_folders(rgb_folders, model.config, "val", size, limit=batch), model.config)
    assert x.shape == (batch, 3, size, size)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = ort_logits(exported)(x)  # the same file for every size and batch: dynamic axes
    r = compare_logits(ref, got, FP32_TOLERANCE)
    print(r.line())
    assert got.shape == (batch, 1, size, size)
    assert r.passed, r.line()


def test_non_square_input_runs(exported: Path):
    assert ort_logits(exported)(np.zeros((2, 3, 256, 384), np.float32)).shape == (2, 1, 256, 384)


def test_graph_form(exported: Path):
    model = onnx.load(str(exported))
    ops = Counter(n.op_type for n in model.graph.node)
    assert model.opset_import[0].version == 17
    assert ops["DepthToSpace"] == 4  # one per decoder stage (DUpsampling)
    assert ops["ReduceMean"] == 8  # coordinate attention: two pools per encoder stage
    assert not {"BatchNormalization", "GlobalAveragePool", "AveragePool", "Resize"} & set(ops)
    dilations = set()
    for n in model.graph.node:
        if n.op_type == "Conv":
            d = next((list(a.ints) for a in n.attribute if a.name == "dilations"), [1, 1])
            dilations.add(d[0])
    assert {2, 3, 5, 7} <= dilations
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("image", "logits")
    for v in (inp, out):
        dims = v.type.tensor_type.shape.dim
        assert [dims[i].dim_param for i in (0, 2, 3)] == ["batch", "height", "width"]
        assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_metadata_round_trip(exported: Path):
    from lnet_edge.onnx_meta import onnx_metadata
    from lnet_edge.runners.onnxrt import OnnxRuntimeRunner
    from lnet_edge.runners.open import open_model

    embedded = onnx_metadata(exported)
    assert embedded == json.loads(Path(f"{exported}.json").read_text())
    model, _ = load_model(DEFAULT_CHECKPOINT)
    assert embedded["config"] == json.loads(json.dumps(model.config.to_dict()))
    assert embedded["precision"] == "fp32"
    assert embedded["source_checkpoint_sha256"] == sha256_file(DEFAULT_CHECKPOINT)
    assert embedded["input"]["band_names"] == ["red", "green", "blue"]
    assert embedded["tile"] == 256 and embedded["threshold"] == model.config.threshold
    assert embedded["normalization"]["mean"] == [0.5, 0.5, 0.5]
    assert {"lnet_edge_version", "preset", "parity", "options"} <= set(embedded)
    runner, config = open_model(exported)
    assert isinstance(runner, OnnxRuntimeRunner) and config == model.config


def _untouched(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (ExportOptions(expect_preset="edge-m"), "preset edge-s"),
        (ExportOptions(expect_bands=14), "takes 3 bands"),
    ],
)
def test_refuses_checkpoint_of_another_preset_or_band_count(tmp_path: Path, rgb_folders, options, words):
    with pytest.raises(LnetError, match=words):
        onnx_from_checkpoint(DEFAULT_CHECKPOINT, tmp_path / "x.onnx", rgb_folders, options)
    assert _untouched(tmp_path) == []


def test_refuses_data_of_another_band_count(tmp_path: Path, rgb_folders):
    from lnet_edge.model.lnet import LNet

    config = l4s_config(preset="edge-xs")
    ckpt = tmp_path / "l4s.pt"
    save_checkpoint(ckpt, {"config": config.to_dict(), "state_dict": LNet(config).state_dict()})
    with pytest.raises(LnetError, match="bands"):
        onnx_from_checkpoint(ckpt, tmp_path / "out" / "x.onnx", rgb_folders[:1])
    assert _untouched(tmp_path / "out") == []


def test_refuses_a_file_that_is_not_a_checkpoint(tmp_path: Path, rgb_folders):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LnetError, match="cannot be read"):
        onnx_from_checkpoint(bad, tmp_path / "x.onnx", rgb_folders)
    assert not (tmp_path / "x.onnx").exists()


def test_refuses_onnx_that_is_not_an_lnet_edge_export(tmp_path: Path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["logits"])],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(LnetError, match="not an lnet-edge export"):
        read_export_metadata(foreign)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01garbage")
    with pytest.raises(LnetError, match="not a readable ONNX"):
        read_export_metadata(garbage)
