"""TensorRT calibration cache (the text format TensorRT's IInt8Calibrator reads and writes).

Line 1 is ``TRT-<version>-<algorithm>`` (e.g. ``TRT-100300-EntropyCalibration2``); then one
``tensorname: <hex>`` line per tensor, where hex is the big-endian IEEE float32 of the tensor's
scale (amax / 127). It serves the implicit-int8 build (INT8 flag + calibrator that returns this
cache) of TensorRT older than 10.12, e.g. JetPack 6's 10.3; the scales are those of the
symmetric int8 QDQ model, keyed by the fp32 ONNX tensor names that the parser keeps.

The header's version tag and algorithms are ``cache_header``'s. ``minmax`` is written as
MinMaxCalibration (IInt8MinMaxCalibrator); ``entropy`` and ``percentile`` as
EntropyCalibration2 (IInt8EntropyCalibrator2): percentile has no TensorRT calibrator, and a
calibrator that replays a cache never recomputes the scales, so they arrive as written.
"""

from __future__ import annotations

import struct
from pathlib import Path

from lnet_edge.cache_header import version_tag
from lnet_edge.errors import LnetError
from lnet_edge.files import write_text_atomic

ALGORITHMS = {"entropy": "EntropyCalibration2", "percentile": "EntropyCalibration2", "minmax": "MinMaxCalibration"}
JETPACK6_TENSORRT = "10.3"  # the TensorRT a cache is made for when no TensorRT is installed here


def installed_tensorrt_version() -> str:
    """The full TensorRT installed here (the one the cache's flag path serves), else JetPack 6's."""
    import importlib.metadata

    try:
        return importlib.metadata.version("tensorrt")
    except importlib.metadata.PackageNotFoundError:
        return JETPACK6_TENSORRT


def activation_scales(qdq_model) -> dict[str, float]:
    """Scale of every quantized activation of a QDQ onnx.ModelProto (weights excluded)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in qdq_model.graph.initializer}
    scales = {}
    for node in qdq_model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in inits:
            scale = numpy_helper.to_array(inits[node.input[1]])
            scales[node.input[0]] = float(scale.reshape(-1)[0])
    return scales


def calibration_cache_from_qdq(
    qdq_model, out: Path, method: str = "entropy", trt_version: str = JETPACK6_TENSORRT
) -> Path:
    """Write the activation scales of ``qdq_model`` (a ModelProto) as a TensorRT cache for the
    TensorRT ``trt_version`` ('10.3', '10.3.0.26', '8.6.1')."""
    lines = [f"TRT-{version_tag(trt_version)}-{ALGORITHMS[method]}"]
    lines += [f"{name}: {struct.pack('>f', s).hex()}" for name, s in sorted(activation_scales(qdq_model).items())]
    return write_text_atomic(Path(out), "\n".join(lines) + "\n")


def read_calibration_cache(path: Path) -> tuple[str, dict[str, float]]:
    """(header, {tensor: scale}) of a TensorRT calibration cache."""
    lines = Path(path).read_text().splitlines()
    if not lines or not lines[0].startswith("TRT-"):
        raise LnetError(f"{path} is not a TensorRT calibration cache (first line must start with 'TRT-')")
    scales = {}
    for line in lines[1:]:
        name, _, hexval = line.rpartition(": ")
        scales[name] = struct.unpack(">f", bytes.fromhex(hexval))[0]
    return lines[0], scales
