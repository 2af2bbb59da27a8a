"""The model contract: what every lnet-edge model takes and gives, checked where models enter.

One input ``image``: float32, rank 4 (N, C, H, W), C the configuration's band count, H and W
dynamic or fixed to the configuration's tile (a multiple of ``TILE_MULTIPLE``). One output
``logits``: float32, rank 4 (N, 1, H, W). Runners feed and read these names and nothing else.

:func:`check_io` is the one check. It runs when an ONNX model is read for ``build``, ``pack``,
``calibrate``, ``export``'s fp16 step and ``infer``/``eval`` (through
``onnx_meta.config_from_metadata`` and ``engines.onnx_info.read_onnx``) and when a
TensorRT plan is loaded, so a model that breaks the contract is refused once, by file and field,
before any work, instead of failing every scene later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.errors import LnetError

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DTYPE = "float32"
FIX = "re-export the model with 'lnet-edge export' (or restore the original file)"


@dataclass(frozen=True)
class Tensor:
    """One graph input or output as the contract sees it."""

    name: str
    dtype: str  # numpy's name ("float32"), or what the file says when numpy has none
    shape: tuple[int | None, ...] | None  # None: rank unknown; a None dimension: dynamic


def check_io(path: Path | str, inputs: list[Tensor], outputs: list[Tensor], config: ModelConfig) -> None:
    """Refuse a model whose inputs or outputs break the contract, with one error that names the
    file and the field (the first one at fault)."""
    for kind, tensors, name in (("input", inputs, INPUT_NAME), ("output", outputs, OUTPUT_NAME)):
        if len(tensors) != 1:
            names = ", ".join(repr(t.name) for t in tensors) or "none"
            _refuse(path, f"{kind}s", f"{len(tensors)} ({names})", f"exactly one, '{name}'")
        t = tensors[0]
        if t.name != name:
            _refuse(path, f"{kind} name", repr(t.name), repr(name))
        if t.dtype != DTYPE:
            _refuse(path, f"{kind} '{name}' dtype", t.dtype, DTYPE)
        if t.shape is None or len(t.shape) != 4:
            rank = "unknown" if t.shape is None else f"{len(t.shape)} {_dims(t.shape)}"
            _refuse(path, f"{kind} '{name}' rank", rank, "4 (N, C, H, W)")
    _check_dims(path, inputs[0].shape, outputs[0].shape, config)


def _check_dims(path, image: tuple, logits: tuple, config: ModelConfig) -> None:
    if image[1] is not None and image[1] != config.in_channels:
        raise LnetError(
            f"{path}: metadata field 'config.bands' lists {config.in_channels} bands but the graph "
            f"takes {image[1]} channels (input '{INPUT_NAME}' dimension 1): restore the metadata or re-export the model"
        )
    for d in image[2:]:
        if d is not None and d % TILE_MULTIPLE:
            _refuse(path, f"input '{INPUT_NAME}' height/width", d, f"a multiple of {TILE_MULTIPLE} px (or dynamic)")
        if d is not None and d != config.tile:
            raise LnetError(
                f"{path}: metadata field 'config.tile' is {config.tile} but the graph takes {d} px: "
                "restore the metadata or re-export the model"
            )
    if logits[1] is not None and logits[1] != 1:
        _refuse(path, f"output '{OUTPUT_NAME}' channels (dimension 1)", logits[1], "1 (one landslide logit per pixel)")


def _dims(shape: tuple) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _refuse(path, field: str, got, want) -> None:
    raise LnetError(f"{path}: {field} is {got} but lnet-edge models need {want}: {FIX}")


def onnx_io(model) -> tuple[list[Tensor], list[Tensor]]:
    """The graph inputs (initializers listed as inputs by old exporters left out) and outputs of
    an onnx.ModelProto."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [_onnx_tensor(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [_onnx_tensor(v) for v in model.graph.output]


def _onnx_tensor(value) -> Tensor:
    import onnx

    if not value.type.HasField("tensor_type"):
        return Tensor(value.name, "not a tensor", None)
    tt = value.type.tensor_type
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name
    except (KeyError, ValueError):  # UNDEFINED (0) and types numpy has no name for
        dtype = f"ONNX element type {tt.elem_type}"
    if not tt.HasField("shape"):
        return Tensor(value.name, dtype, None)
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    return Tensor(value.name, dtype, shape)


def check_onnx(model, config: ModelConfig, path: Path | str) -> None:
    """:func:`check_io` on a loaded onnx.ModelProto."""
    check_io(path, *onnx_io(model), config)
