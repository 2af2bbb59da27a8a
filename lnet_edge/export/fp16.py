"""fp32 ONNX -> fp16 ONNX with fp32 inputs and outputs (onnxconverter-common, keep_io_types).

Which nodes stay in fp32, and why:
- every ReduceMean (the coordinate-attention pools): a mean over a whole row or column sums
  up to W (or H) values, and W grows with the tile, so an fp16 accumulator can overflow (65504)
  or lose the small terms on large scenes; the pools are a negligible share of the work;
- any node whose output, measured on real tiles through the fp32 model, reaches
  ``range_limit`` (default 65504 / 16 = 4094: a 16x headroom for unseen scenes);
- the 1x1 head, whose output is the logit that is thresholded: it costs ~0.01 % of the MACs
  and keeps the decision value itself free of fp16 rounding.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lnet_edge.artifacts import check_targets
from lnet_edge.contract import INPUT_NAME
from lnet_edge.export.manifest import (
    artifact_files,
    config_of,
    export_metadata,
    read_export_metadata,
    save_artifact,
)
from lnet_edge.export.parity import FP16_TOLERANCE, check_parity, ort_logits, parity_record
from lnet_edge.export.tiles import batch_of, tiles_from_folders
from lnet_edge.files import sha256_file
from lnet_edge.lazy import lazy_import

FP16_MAX = 65504.0


@dataclass(frozen=True)
class Fp16Options:
    """How the fp16 model is made (saved in its manifest under "options")."""

    keep_fp32_ops: tuple[str, ...] = ("ReduceMean",)
    keep_head_fp32: bool = True
    range_limit: float = FP16_MAX / 16
    range_tiles: int = 4  # real validation tiles used to measure activation ranges and parity


def activation_peaks(model, batch: np.ndarray) -> dict[str, float]:
    """max |value| of every node output of an fp32 onnx.ModelProto on ``batch``."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in known:
                probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    from lnet_edge.runners.onnxrt import ort_session

    sess = ort_session(probe.SerializeToString())
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, {INPUT_NAME: batch})
    return {n: float(np.max(np.abs(v))) if v.size else 0.0 for n, v in zip(names, values)}


def fp32_nodes(model, peaks: dict[str, float], options: Fp16Options) -> dict[str, str]:
    """Node name -> the reason it stays fp32."""
    keep = {}
    for node in model.graph.node:
        if node.op_type in options.keep_fp32_ops:
            keep[node.name] = f"{node.op_type}: accumulation over a dynamic axis"
        elif any(peaks.get(o, 0.0) >= options.range_limit for o in node.output):
            keep[node.name] = f"output reaches {max(peaks[o] for o in node.output):.0f} on real tiles"
    if options.keep_head_fp32:
        head = next(n for n in reversed(model.graph.node) if n.op_type == "Conv")
        keep.setdefault(head.name, "head: the thresholded logit")
    return keep


def fp32_outputs(model) -> None:
    """Cast any fp16 graph output back to fp32 in place. keep_io_types misses an output whose
    producer is in the block list (the converter casts that node's fp32 result to fp16)."""
    import onnx

    for out in model.graph.output:
        if out.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16:
            continue
        half_name = f"{out.name}_fp16"
        for node in model.graph.node:
            node.output[:] = [half_name if o == out.name else o for o in node.output]
            node.input[:] = [half_name if i == out.name else i for i in node.input]
        model.graph.node.append(
            onnx.helper.make_node(
                "Cast", [half_name], [out.name], to=onnx.TensorProto.FLOAT, name=f"{out.name}_to_fp32"
            )
        )
        out.type.tensor_type.elem_type = onnx.TensorProto.FLOAT


def fp16_from_onnx(
    fp32_onnx: Path, out: Path, data: list[Path], options: Fp16Options = Fp16Options(), overwrite: bool = False
) -> Path:
    """Convert an lnet-edge fp32 export to fp16 (fp32 I/O), check it against the fp32 model on
    real validation tiles from ``data``, and write ``out`` + ``out.json`` (files already there
    that lnet-edge did not write are refused first, unless ``overwrite``)."""
    import onnx

    f16 = lazy_import("onnxconverter_common.float16")
    meta = read_export_metadata(fp32_onnx, precision="fp32")
    check_targets(artifact_files(out), overwrite)
    config = config_of(meta)
    model = onnx.load(str(fp32_onnx))
    tiles = tiles_from_folders(data, config, "val", limit=options.range_tiles)
    batch = batch_of(tiles, config)
    keep = fp32_nodes(model, activation_peaks(model, batch), options)
    with warnings.catch_warnings():  # it warns about every clamped weight; the parity check decides
        warnings.simplefilter("ignore")
        half = f16.convert_float_to_float16(model, keep_io_types=True, node_block_list=list(keep))
    fp32_outputs(half)
    parity = check_parity(
        ort_logits(fp32_onnx),
        ort_logits(half.SerializeToString()),
        [batch],
        FP16_TOLERANCE,
        f"fp16 model vs fp32 {fp32_onnx}",
    )
    new_meta = export_metadata(
        config,
        "fp16",
        meta["source_checkpoint_sha256"],
        source_checkpoint=meta.get("source_checkpoint"),
        opset=meta.get("opset"),
        parent={"path": Path(fp32_onnx).name, "sha256": sha256_file(fp32_onnx)},
        options=asdict(options),
        fp32_nodes=keep,
        parity=parity_record("onnx-fp32", FP16_TOLERANCE, parity, tiles),
    )
    return save_artifact(half, out, new_meta, overwrite)
