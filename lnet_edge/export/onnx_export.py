"""Checkpoint -> fp32 ONNX: dynamic batch/height/width, BN folded, simplified, checked against
PyTorch on real tiles before anything is written.

Graph shape (what TensorRT and ONNX Runtime see): opset 17, the lowest opset with every op
this network needs in its current form (LayerNorm-free; DepthToSpace since 11, ReduceMean with
axes as an attribute up to 17, which keeps the attention pools constant-foldable for older
TensorRT parsers). DUpsampling is one DepthToSpace per decoder stage (``pixel_shuffle``), the MFF
branches are Conv nodes with ``dilations``, coordinate attention pools are ReduceMean, and
BatchNorm is folded into the preceding Conv by the exporter's constant folding in eval mode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.artifacts import check_targets
from lnet_edge.config import TILE_MULTIPLE as MULTIPLE
from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.export.manifest import artifact_files, export_metadata, save_artifact
from lnet_edge.export.parity import FP32_TOLERANCE, check_parity, ort_logits, parity_record
from lnet_edge.export.tiles import batch_of, tiles_from_folders
from lnet_edge.files import sha256_file
from lnet_edge.lazy import lazy_import
from lnet_edge.model.checkpoint import load_model
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME

DYNAMIC = {0: "batch", 2: "height", 3: "width"}


@dataclass(frozen=True)
class ExportOptions:
    """How ``lnet-edge export`` makes the fp32 model (saved in its manifest under "options")."""

    opset: int = 17
    simplify: bool = True
    parity_tiles: int = 2  # real validation tiles per parity size
    parity_sizes: tuple[int, ...] = ()  # empty: the config's tile and 1.5x it (rounded to 16)
    expect_preset: str | None = None  # refuse a checkpoint of another preset
    expect_bands: int | None = None  # refuse a checkpoint of another band count


def check_expected(config: ModelConfig, options: ExportOptions, checkpoint: Path) -> None:
    if options.expect_preset and config.preset != options.expect_preset:
        raise LnetError(
            f"checkpoint {checkpoint} is preset {config.preset} but {options.expect_preset} was asked for: "
            f"pass --preset {config.preset} or give an {options.expect_preset} checkpoint"
        )
    if options.expect_bands and config.in_channels != options.expect_bands:
        raise LnetError(
            f"checkpoint {checkpoint} takes {config.in_channels} bands ({','.join(config.band_names)}) but "
            f"{options.expect_bands} were asked for: pass --bands {config.in_channels} or give a matching checkpoint"
        )


def check_finite(model, checkpoint: Path) -> None:
    """Refuse weights or BatchNorm statistics that are inf/NaN (e.g. overflowed by an fp16 save):
    they would export to a model that outputs NaN."""
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise LnetError(
            f"checkpoint {checkpoint} holds non-finite values (inf/NaN) in {len(bad)} tensors, e.g. "
            f"{', '.join(bad[:3])}: re-save it in float32 (fp16 overflows BatchNorm running_var above 65504) "
            "or retrain"
        )


def parity_sizes(config: ModelConfig, options: ExportOptions) -> tuple[int, ...]:
    sizes = options.parity_sizes or (config.tile, (config.tile * 3 // 2) // MULTIPLE * MULTIPLE)
    bad = [s for s in sizes if s % MULTIPLE]
    if bad:
        raise LnetError(f"parity sizes {bad} are not divisible by {MULTIPLE}: the network pools four times")
    return tuple(sizes)


def torch_onnx_bytes(model, config: ModelConfig, opset: int) -> bytes:
    """Trace the eval-mode network with the TorchScript exporter: it needs no onnxscript, folds
    BatchNorm into Conv in eval mode and writes the graph described in the module docstring."""
    torch = lazy_import("torch")
    buf = io.BytesIO()
    dummy = torch.zeros(1, config.in_channels, config.tile, config.tile)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is the legacy path on purpose
        torch.onnx.export(
            model,
            dummy,
            buf,
            dynamo=False,
            opset_version=opset,
            do_constant_folding=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: DYNAMIC, OUTPUT_NAME: DYNAMIC},
        )
    return buf.getvalue()


def simplified(model):
    """onnxsim without fixing any input shape, then a check that the axes stayed dynamic."""
    onnxsim = lazy_import("onnxsim")
    model, ok = onnxsim.simplify(model)
    if not ok:
        raise RuntimeError("onnxsim could not validate the simplified model")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if any(dims[i].dim_value for i in DYNAMIC):
        raise RuntimeError(f"onnxsim fixed a dynamic axis: {dims}")
    return model


def onnx_from_checkpoint(
    checkpoint: Path, out: Path, data: list[Path], options: ExportOptions = ExportOptions(), overwrite: bool = False
) -> Path:
    """Export ``checkpoint`` to ``out`` (+ ``out.json``) after checking parity with PyTorch on
    real validation tiles from ``data`` (image/mask folders) at two sizes and batch sizes. Files
    already there that lnet-edge did not write are refused first, unless ``overwrite``."""
    import onnx

    check_targets(artifact_files(out), overwrite)
    torch = lazy_import("torch")
    model, _ = load_model(checkpoint)
    config: ModelConfig = model.config
    check_expected(config, options, checkpoint)
    check_finite(model, checkpoint)
    if not data:
        raise LnetError("export checks parity on real tiles: give image/mask folders with --data")
    sizes = parity_sizes(config, options)
    proto = onnx.load_from_string(torch_onnx_bytes(model, config, options.opset))
    if options.simplify:
        proto = simplified(proto)
    batches, used = [], []
    for i, size in enumerate(sizes):  # batch 1 at the first size, 2 at the second, ...
        tiles = tiles_from_folders(data, config, "val", size, limit=max(options.parity_tiles, 1 + i % 2))
        tiles = tiles[: 1 + i % 2] if len(sizes) > 1 else tiles
        batches.append(batch_of(tiles, config))
        used += tiles

    def torch_logits(batch):
        with torch.no_grad():
            return model(torch.from_numpy(batch)).numpy()

    parity = check_parity(
        torch_logits,
        ort_logits(proto.SerializeToString()),
        batches,
        FP32_TOLERANCE,
        f"ONNX export of {checkpoint} vs PyTorch",
    )
    meta = export_metadata(
        config,
        "fp32",
        sha256_file(checkpoint),
        source_checkpoint=Path(checkpoint).name,
        opset=options.opset,
        options=asdict(options),
        parity=parity_record("pytorch-fp32", FP32_TOLERANCE, parity, used),
    )
    return save_artifact(proto, out, meta, overwrite)
