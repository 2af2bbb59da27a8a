"""How raw band values reach the range a model was trained on (0..255 for the shipped models).

``infer`` stretches each non-uint8 scene with it and ``eval`` each non-uint8 image, so that both
score the same values: one rule, here below both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERCENTILES = (2.0, 98.0)  # per-band stretch of non-uint8 scenes to the uint8 training range


@dataclass(frozen=True)
class Scaling:
    """x_uint8_range = (x - low[band]) * gain[band], clipped to [0, 255] when ``clip``."""

    low: tuple[float, ...]
    gain: tuple[float, ...]
    clip: bool
    method: str

    def apply(self, data: np.ndarray) -> np.ndarray:
        """Scaled values (float32); ``data`` itself, any dtype, when the method is "none"."""
        if self.method == "none":
            return data
        x = data.astype(np.float32)
        x -= np.asarray(self.low, dtype=np.float32)
        x *= np.asarray(self.gain, dtype=np.float32)
        return np.clip(x, 0, 255, out=x) if self.clip else x


def percentile_scaling(data) -> Scaling:
    """The percentile stretch of CxHxW (masked) band values; NaN and inf values are left out."""
    lows, gains = [], []
    for band in data:
        v = np.ma.compressed(band)
        v = v[np.isfinite(v)]
        lo, hi = np.percentile(v, PERCENTILES) if v.size else (0.0, 255.0)
        lows.append(float(lo))
        gains.append(255.0 / float(hi - lo) if hi > lo else 1.0)
    return Scaling(tuple(lows), tuple(gains), True, f"percentile {PERCENTILES[0]:g}-{PERCENTILES[1]:g}")


def fill_nonfinite(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxWxC ``data`` with every pixel that has a NaN or infinite band value set to 0 in all its
    bands, and the HxW mask of those pixels (none in integer data, which is returned as it is)."""
    nonfinite = np.zeros(data.shape[:2], dtype=bool)
    if data.dtype.kind == "f":
        nonfinite = ~np.isfinite(data).all(axis=-1)
        if nonfinite.any():
            data = np.where(nonfinite[..., None], 0, data).astype(data.dtype)
    return data, nonfinite
