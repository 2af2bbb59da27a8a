"""What ``infer`` needs from an ONNX file, read from its protobuf wire format without the onnx
package: the ``metadata_props``, the graph's inputs and outputs (contract.Tensor) and the int8
weights that DequantizeLinear nodes read.

Importing onnx costs 0.65 s (its ml_dtypes extension), a seventh of README command 1 on a 2-core
CPU, while every answer here sits in a few top-level fields of the file. Wire format
(protobuf.dev/programming-guides/encoding): each field is a varint key (number << 3 | wire type)
and a value: 0 varint, 1 eight bytes, 2 length-delimited, 5 four bytes. Field numbers are those of
onnx.proto: ModelProto graph 7, metadata_props 14; GraphProto node 1, initializer 5, input 11,
output 12; NodeProto input 1, op_type 4; TensorProto dims 1, data_type 2, int32_data 5, name 8,
raw_data 9, data_location 14; ValueInfoProto name 1, type 2; TypeProto tensor_type 1; its
Tensor elem_type 1, shape 2; TensorShapeProto dim 1; Dimension dim_value 1. The full onnx
reader stays in onnx_meta.load_onnx_graph for export, calibration and build.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.contract import Tensor

# onnx.TensorProto.DataType -> numpy's name, as contract.Tensor spells a dtype
DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 9: "bool",
          10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16"}  # fmt: skip
INT8 = 3
EXTERNAL = 1  # TensorProto.DataLocation: the values live in another file


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(buf, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int | tuple[int, int]]]:
    """(field number, wire type, value) of a message in ``buf[start:end]``: an int for wire types
    0, 1 and 5, the (start, end) of the bytes for length-delimited fields."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise WireError("truncated fixed-width field")
            value, pos = int.from_bytes(buf[pos : pos + size], "little"), pos + size
        elif wire == 2:
            size, pos = _varint(buf, pos, end)
            if pos + size > end:
                raise WireError("length-delimited field runs past its message")
            value, pos = (pos, pos + size), pos + size
        else:  # 3, 4: groups, which onnx.proto never uses; 6, 7: undefined
            raise WireError(f"wire type {wire}")
        yield number, wire, value


def _text(buf, span: tuple[int, int]) -> str:
    return bytes(buf[span[0] : span[1]]).decode("utf-8", errors="replace")


def _first(buf, span: tuple[int, int], number: int):
    return next((v for n, _, v in fields(buf, *span) if n == number), None)


@dataclass(frozen=True)
class WireModel:
    """The parts of an ONNX model ``infer`` reads; ``buf`` stays open for :func:`int8_weights`."""

    buf: object
    metadata: dict[str, str]
    graph: tuple[int, int] | None

    def io(self) -> tuple[list[Tensor], list[Tensor]]:
        """Graph inputs (initializers listed as inputs left out) and outputs, as contract.onnx_io."""
        if self.graph is None:
            return [], []
        inits, inputs, outputs = set(), [], []
        for number, wire, value in fields(self.buf, *self.graph):
            if wire != 2:
                continue
            if number == 5:
                name = _first(self.buf, value, 8)
                inits.add(_text(self.buf, name) if name else "")
            elif number in (11, 12):
                (inputs if number == 11 else outputs).append(_tensor(self.buf, value))
        return [t for t in inputs if t.name not in inits], outputs


def _tensor(buf, span: tuple[int, int]) -> Tensor:
    name, type_ = _first(buf, span, 1), _first(buf, span, 2)
    name = _text(buf, name) if name else ""
    tensor = _first(buf, type_, 1) if type_ else None
    if tensor is None:
        return Tensor(name, "not a tensor", None)
    elem = _first(buf, tensor, 1) or 0
    dtype = DTYPES.get(elem, f"ONNX element type {elem}")
    shape = _first(buf, tensor, 2)
    if shape is None:
        return Tensor(name, dtype, None)
    dims = []
    for number, _, dim in fields(buf, *shape):
        if number == 1:
            value = next((v for n, w, v in fields(buf, *dim) if n == 1 and w == 0), None)
            dims.append(value)
    return Tensor(name, dtype, tuple(dims))


def read_model(path: Path) -> WireModel:
    """Metadata and graph position of the ONNX model at ``path`` (WireError: not a protobuf)."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    metadata, graph = {}, None
    for number, wire, value in fields(buf):
        if number == 7 and wire == 2:
            graph = value
        elif number == 14 and wire == 2:
            entry = {n: _text(buf, v) for n, w, v in fields(buf, *value) if w == 2}
            metadata[entry.get(1, "")] = entry.get(2, "")
    return WireModel(buf, metadata, graph)


def int8_weights(model: WireModel) -> Iterator[tuple[str, np.ndarray | None]]:
    """(name, values) of each int8 initializer that a DequantizeLinear node reads as its data, in
    the order of the nodes; values None when they live in an external file."""
    if model.graph is None:
        return
    buf, dequantized, inits = model.buf, [], {}
    for number, wire, value in fields(buf, *model.graph):
        if number == 1 and wire == 2:
            node = [(n, v) for n, w, v in fields(buf, *value) if w == 2 and n in (1, 4)]
            if any(n == 4 and _text(buf, v) == "DequantizeLinear" for n, v in node):
                first = next((v for n, v in node if n == 1), None)
                if first is not None:
                    dequantized.append(_text(buf, first))
        elif number == 5 and wire == 2:
            name, values = _int8_tensor(buf, value)
            if name is not None:
                inits[name] = values
    for name in dict.fromkeys(dequantized):
        if name in inits:
            yield name, inits[name]


def _int8_tensor(buf, span: tuple[int, int]) -> tuple[str | None, np.ndarray | None]:
    """(name, values) of an int8 TensorProto; (None, None) for any other data type."""
    name = dtype = raw = None
    int32_data = []  # packed spans and single varints, decoded only for an int8 tensor
    external = False
    for number, wire, value in fields(buf, *span):
        if number == 2 and wire == 0:
            dtype = value
        elif number == 8 and wire == 2:
            name = _text(buf, value)
        elif number == 9 and wire == 2:
            raw = value
        elif number == 14 and wire == 0:
            external = value == EXTERNAL
        elif number == 5:
            int32_data.append((wire, value))
    if dtype != INT8:
        return None, None
    if external:
        return name, None
    if raw is not None:
        return name, np.frombuffer(bytes(buf[raw[0] : raw[1]]), np.int8)
    ints = []
    for wire, value in int32_data:
        if wire == 0:
            ints.append(value)
            continue
        pos, end = value
        while pos < end:
            v, pos = _varint(buf, pos, end)
            ints.append(v)
    # int32_data holds each int8 as an int32 varint (negative ones as 64-bit two's complement)
    return name, np.array([(v & 0xFF) for v in ints], np.uint8).view(np.int8)
