"""fp16 export: fp32 I/O, range-sensitive nodes kept in fp32, parity with the fp32 model."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import pytest

from lnet_edge.errors import LnetError
from lnet_edge.export.fp16 import fp16_from_onnx
from lnet_edge.export.parity import FP16_TOLERANCE, compare_logits, ort_logits
from lnet_edge.export.tiles import batch_of, tiles_from_folders
from lnet_edge.onnx_meta import onnx_metadata


def test_fp16_keeps_fp32_io_and_matches_fp32(exported: Path, exported_fp16: Path, rgb_folders: list[Path]):
    from lnet_edge.export.manifest import config_of

    model = onnx.load(str(exported_fp16))
    for v in (*model.graph.input, *model.graph.output):
        assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    inits = Counter(onnx.helper.tensor_dtype_to_np_dtype(i.data_type).name for i in model.graph.initializer)
    assert inits["float16"] > inits.get("float32", 0)  # the weights really are fp16
    meta = onnx_metadata(exported_fp16)
    assert meta["precision"] == "fp16"
    kept = meta["fp32_nodes"]
    assert sum("ReduceMean" in reason for reason in kept.values()) == 8
    config = config_of(meta)
    x = batch_of(tiles_from_folders(rgb_folders, config, "val", 384, limit=2), config)  # a size parity never saw
    r = compare_logits(ort_logits(exported)(x), ort_logits(exported_fp16)(x), FP16_TOLERANCE)
    print(r.line())
    assert r.passed, r.line()


def test_fp16_refuses_a_non_fp32_export(exported_fp16: Path, rgb_folders, tmp_path: Path):
    with pytest.raises(LnetError, match="fp16 model but a fp32 one is needed"):
        fp16_from_onnx(exported_fp16, tmp_path / "again.onnx", rgb_folders)
    assert list(tmp_path.iterdir()) == []
