"""lnet_edge/onnx_wire.py reads what the onnx package reads (metadata, graph inputs and outputs,
int8 weights), refuses what is not a protobuf, and keeps onnx out of ``infer``'s imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lnet_edge.contract import onnx_io
from lnet_edge.cpu_int8 import _int8_weights_onnx, widest_weight
from lnet_edge.defaults import DEFAULT_MODEL_DIR
from lnet_edge.errors import LnetError
from lnet_edge.onnx_meta import onnx_metadata
from lnet_edge.onnx_wire import int8_weights, read_model

SHIPPED = sorted(DEFAULT_MODEL_DIR.glob("*.onnx"))


def _widest_by_onnx(path: Path) -> tuple[str, int]:
    """The widest int8 weight as the onnx package reads the file: the reference."""
    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name: i for i in model.graph.initializer}
    widest = ("", 0)
    for node in model.graph.node:
        init = inits.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if init is not None and init.data_type == TensorProto.INT8:
            peak = int(np.abs(numpy_helper.to_array(init).astype(np.int16)).max())
            if peak > widest[1]:
                widest = (init.name, peak)
    return widest


def _same_weights(a, b) -> bool:
    """The same int8 weights by name and value (the wire reader gives them flat, once each)."""
    return {n: v.ravel().tolist() for n, v in a} == {n: v.ravel().tolist() for n, v in b}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_models_read_as_onnx_reads_them(path):
    model = onnx.load(str(path), load_external_data=False)
    wire = read_model(path)
    assert wire.metadata == {p.key: p.value for p in model.metadata_props}
    assert wire.io() == onnx_io(model)
    assert widest_weight(path) == _widest_by_onnx(path)
    assert _same_weights(int8_weights(wire), _int8_weights_onnx(path))


def _odd_model(tmp_path: Path) -> Path:
    """Dynamic and fixed dimensions, an int64 input, an initializer listed as an input, a
    non-tensor output and an int8 weight stored as int32_data, negative values included."""
    weight = helper.make_tensor("w", TensorProto.INT8, [4], [-128, -3, 0, 127])  # int32_data, not raw
    scale = numpy_helper.from_array(np.array(0.5, np.float32), "s")
    nodes = [
        helper.make_node("DequantizeLinear", ["w", "s"], ["wf"]),
        helper.make_node("Add", ["x", "wf"], ["y"]),
        helper.make_node("SequenceConstruct", ["y"], ["seq"]),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
        helper.make_tensor_value_info("n", TensorProto.INT64, [1, 2, 3]),
        helper.make_tensor_value_info("w", TensorProto.INT8, [4]),
    ]
    outputs = [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
        helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None),
    ]
    graph = helper.make_graph(nodes, "odd", inputs, outputs, [weight, scale])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"lnet_edge": '{"format": "x"}', "other": "ü"})
    path = tmp_path / "odd.onnx"
    onnx.save(model, str(path))
    return path


def test_odd_graphs_read_as_onnx_reads_them(tmp_path):
    path = _odd_model(tmp_path)
    model = onnx.load(str(path))
    wire = read_model(path)
    assert wire.io() == onnx_io(model)
    assert [t.name for t in wire.io()[0]] == ["x", "n"]  # the initializer listed as an input is left out
    assert wire.metadata == {"lnet_edge": '{"format": "x"}', "other": "ü"}
    [(name, values)] = list(int8_weights(wire))
    assert name == "w" and values.tolist() == [-128, -3, 0, 127]
    assert widest_weight(path) == _widest_by_onnx(path) == ("w", 128)
    assert _same_weights(int8_weights(wire), _int8_weights_onnx(path))


@pytest.mark.parametrize("cut", [3, 1000, -7])
def test_a_truncated_model_is_refused_by_name(tmp_path, cut):
    data = SHIPPED[0].read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[:cut])
    with pytest.raises(LnetError, match=r"cut\.onnx is not an ONNX model"):
        onnx_metadata(bad)


def test_text_is_not_a_model(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text('{"looks": "like json"}\n')
    with pytest.raises(LnetError, match="is not an ONNX model"):
        onnx_metadata(bad)


def test_infer_reads_the_bundle_without_onnx_or_dask():
    probe = (
        "import sys\n"
        "from lnet_edge.bundle import read_bundle\n"
        "from lnet_edge.defaults import DEFAULT_MODEL_DIR\n"
        "from lnet_edge.field.budget import run_budget\n"
        "from lnet_edge.runners.open import open_model\n"
        "b = read_bundle(DEFAULT_MODEL_DIR)\n"
        "for a in b.artifacts.values():\n"
        "    if a.file.endswith('.onnx'): open_model(DEFAULT_MODEL_DIR / a.file)\n"
        "run_budget(None)\n"
        "print(sorted(m for m in ('onnx', 'distributed', 'ml_dtypes') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
