"""Resampling between an image's pixel size and the model's, shared by eval, training validation
and the field run (the image to the model's ground sampling distance, the logits back)."""

from __future__ import annotations

import numpy as np


def resize(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """An HxW[xC] float array resampled to height x width (area when shrinking, else bilinear)."""
    import cv2

    if arr.shape[:2] == (height, width):
        return arr
    shrink = height < arr.shape[0]
    out = cv2.resize(arr, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out[:, :, None] if arr.ndim == 3 and out.ndim == 2 else out


def scaled_size(length: int, factor: float) -> int:
    return max(1, round(length * factor))
