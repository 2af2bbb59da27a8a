"""The first line of a TensorRT calibration cache: ``TRT-<version>-<algorithm>``.

The version is TensorRT's NV_TENSORRT_VERSION: major * 10000 + minor * 100 + patch from
TensorRT 10 on (10.3.0 -> 100300), major * 1000 + minor * 100 + patch before (8.6.1 -> 8601).
TensorRT accepts a cache only when its tag and algorithm match the build's TensorRT and
calibrator, so the build replays each cache through the calibrator class its header names.
The format carries TensorRT's own calibrators' algorithms: EntropyCalibration2,
EntropyCalibration, MinMaxCalibration and LegacyCalibration.

Calibration writes the header (``calibration.trt_cache``) and the engine build reads it
(``engines.trt_glue``), so it lives here, below both.
"""

from __future__ import annotations

from pathlib import Path

from lnet_edge.errors import LnetError

# the calibrator interface that replays a cache of each algorithm
CALIBRATORS = {
    "EntropyCalibration2": "IInt8EntropyCalibrator2",
    "EntropyCalibration": "IInt8EntropyCalibrator",
    "MinMaxCalibration": "IInt8MinMaxCalibrator",
    "LegacyCalibration": "IInt8LegacyCalibrator",
}


def version_tag(version: str) -> int:
    """TensorRT's integer version of '10.3.0.26' (100300) or '8.6.1' (8601)."""
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in str(version).split(".")[:3]]
    if not parts or parts[0] == 0:
        raise LnetError(f"TensorRT version '{version}': give major.minor[.patch], e.g. 10.3")
    major, minor, patch = (parts + [0, 0])[:3]
    return major * (10000 if major >= 10 else 1000) + minor * 100 + patch


def parse_header(header: str, path: Path) -> tuple[int, str]:
    """(version tag, algorithm) of a cache's first line, or one clear error."""
    parts = header.strip().split("-")
    if len(parts) != 3 or parts[0] != "TRT" or not parts[1].isdigit() or parts[2] not in CALIBRATORS:
        raise LnetError(
            f"{path}: header '{header[:60]}' is not TRT-<version>-<algorithm> with a TensorRT calibrator's algorithm "
            f"({', '.join(CALIBRATORS)}): remake it with 'lnet-edge calibrate'"
        )
    return int(parts[1]), parts[2]
