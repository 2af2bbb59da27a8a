"""Image normalisation shared by training, evaluation and every runner."""

from __future__ import annotations

import numpy as np

from lnet_edge.config import Normalization


def normalize(image: np.ndarray, norm: Normalization) -> np.ndarray:
    """HxWxC raw image -> CxHxW float32: (x * scale - mean[c]) / std[c].

    Doing it in float32 on the host keeps the model input identical for every backend.
    """
    x = image.astype(np.float32) * np.float32(norm.scale)
    x -= np.asarray(norm.mean, dtype=np.float32)
    x /= np.asarray(norm.std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
