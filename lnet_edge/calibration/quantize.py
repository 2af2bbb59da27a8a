"""fp32 ONNX -> int8 ONNX with ONNX Runtime's static quantizer, in two flavours.

- ``qdq_from_onnx``: for TensorRT (strongly typed QDQ builds): symmetric int8 activations and
  weights, per-channel weights, bias left in float (``QuantizeBias: False``: TensorRT rejects
  an int32-bias DequantizeLinear), calibration method entropy, percentile or minmax.
- ``cpu_int8_from_onnx``: for ONNX Runtime on x86 CPUs: uint8 activations (asymmetric, so
  post-ReLU tensors use all 256 levels) and int8 per-channel weights (u8s8, the VNNI fast
  path), minmax, int32 bias so ORT fuses each Conv group into QLinearConv. Weights use 7 bits
  (``reduce_range``): x86 CPUs without VNNI (AVX2, AVX-512BW) multiply u8 x s8 in pairs summed
  into saturating 16-bit lanes, which 8-bit weights overflow; 7-bit ones cannot.

Ranges are computed once per calibration set and method and kept in an ORT range cache
(``ranges``), so re-quantizing with some nodes left in float (sensitivity, fallback) never
re-runs calibration. Calibration feeds the tiles in batches, one batch at a time, which bounds
memory for the histogram methods.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np


class Method(str, Enum):
    entropy = "entropy"
    percentile = "percentile"
    minmax = "minmax"


@dataclass(frozen=True)
class QdqOptions:
    """The TensorRT int8 QDQ model (saved in its manifest under "options")."""

    method: Method = Method.entropy
    percentile: float = 99.999
    batch: int = 8
    exclude_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CpuInt8Options:
    """The ONNX Runtime CPU int8 model (saved in its manifest under "options")."""

    method: Method = Method.minmax
    batch: int = 8
    exclude_nodes: tuple[str, ...] = ()
    reduce_range: bool = True  # 7-bit weights: no 16-bit saturation on CPUs without VNNI


def _reader(batch: np.ndarray, size: int):
    from onnxruntime.quantization import CalibrationDataReader

    class TileReader(CalibrationDataReader):
        """Feeds (size,C,H,W) batches; set_range lets ORT calibrate one slice at a time."""

        def __init__(self) -> None:
            self.items = [batch[i : i + size] for i in range(0, len(batch), size)]
            self.set_range(0, len(self.items))

        def __len__(self) -> int:
            return len(self.items)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.queue = iter(self.items[start_index:end_index])

        def get_next(self):
            item = next(self.queue, None)
            return None if item is None else {"image": item}

    return TileReader()


def _calib_method(method: Method):
    from onnxruntime.quantization import CalibrationMethod

    return {
        Method.entropy: CalibrationMethod.Entropy,
        Method.percentile: CalibrationMethod.Percentile,
        Method.minmax: CalibrationMethod.MinMax,
    }[Method(method)]


# Nodes left in float in every int8 model: a scene gate and the descriptor it reads
# (lnet_edge.model.gate). Quantized, their Concat shared one scale between pooled maxima and
# probabilities, and the gate's decisions drifted: 4-6 % of pixels flipped against fp32.
FLOAT_SCOPES = ("/gate/", "/descriptor/")


def float_nodes(fp32: Path) -> list[str]:
    """Names of ``fp32``'s nodes under FLOAT_SCOPES (none for a network without a gate)."""
    import onnx

    return [
        n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node if n.name.startswith(FLOAT_SCOPES)
    ]


def _quantize(
    fp32: Path,
    out: Path,
    batch: np.ndarray,
    ranges: Path,
    method: Method,
    batch_size: int,
    activation,
    per_channel_extra: dict,
    exclude: tuple[str, ...],
    reduce_range: bool = False,
) -> None:
    import logging

    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs pre-processing advice
    with contextlib.redirect_stdout(io.StringIO()):  # and prints histogram progress
        quantize_static(
            str(fp32),
            str(out),
            _reader(batch, batch_size),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=activation,
            weight_type=QuantType.QInt8,
            reduce_range=reduce_range,
            calibrate_method=_calib_method(method),
            nodes_to_exclude=[*exclude, *float_nodes(fp32)],
            calibration_cache_path=str(ranges),
            extra_options={"CalibStridedMinMax": 1, **per_channel_extra},
        )


def qdq_from_onnx(fp32: Path, out: Path, batch: np.ndarray, ranges: Path, options: QdqOptions = QdqOptions()) -> Path:
    """TensorRT-oriented int8 QDQ model of ``fp32`` calibrated on ``batch`` (N,C,H,W float32).
    Writes a bare model (the caller adds metadata); ``ranges`` caches the calibration."""
    from onnxruntime.quantization import QuantType

    extra = {
        "QuantizeBias": False,
        "ActivationSymmetric": True,
        "WeightSymmetric": True,
        "CalibTensorRangeSymmetric": True,
        "CalibPercentile": options.percentile,
    }
    _quantize(fp32, out, batch, ranges, options.method, options.batch, QuantType.QInt8, extra, options.exclude_nodes)
    return Path(out)


def cpu_int8_from_onnx(
    fp32: Path, out: Path, batch: np.ndarray, ranges: Path, options: CpuInt8Options = CpuInt8Options()
) -> Path:
    """ONNX Runtime CPU int8 model (u8 activations, s8 per-channel weights) of ``fp32``."""
    from onnxruntime.quantization import QuantType

    extra = {"ActivationSymmetric": False, "WeightSymmetric": True}
    _quantize(
        fp32,
        out,
        batch,
        ranges,
        options.method,
        options.batch,
        QuantType.QUInt8,
        extra,
        options.exclude_nodes,
        options.reduce_range,
    )
    return Path(out)
