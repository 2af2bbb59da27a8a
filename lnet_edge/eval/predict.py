"""Prediction of whole images and of tiles through any runner: resolution matching (the image
resampled to the model's ground sampling distance and the logits resampled back) and test-time
augmentation (the four flips, logits averaged). Used by eval, training validation and infer."""

from __future__ import annotations

import numpy as np

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.data.normalize import normalize
from lnet_edge.data.tiles import pad_to
from lnet_edge.runners.base import Runner


def flip_logits(runner: Runner, x: np.ndarray, tta: bool = False) -> np.ndarray:
    """Logits of an NCHW batch; with ``tta``, the mean over the four flips (none, left-right,
    up-down, both), each flipped back: one runner call on a batch four times as large."""
    if not tta:
        return runner.logits(x)
    n = len(x)
    flips = np.concatenate([x, x[..., ::-1], x[..., ::-1, :], x[..., ::-1, ::-1]])
    y = runner.logits(np.ascontiguousarray(flips))
    return (y[:n] + y[n : 2 * n, ..., ::-1] + y[2 * n : 3 * n, ..., ::-1, :] + y[3 * n :, ..., ::-1, ::-1]) / 4


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


def predict_logits(
    runner: Runner, image: np.ndarray, config: ModelConfig, factor: float = 1.0, tta: bool = False
) -> np.ndarray:
    """HxWxC raw image -> HxW float32 logits. The image is resampled by ``factor`` (model pixels
    per image pixel, 1: none), reflect-padded to a multiple of 16, and the logits cut and
    resampled back to HxW, so every original pixel is scored and none of the padding."""
    h, w = image.shape[:2]
    sh, sw = scaled_size(h, factor), scaled_size(w, factor)
    scaled = resize(image.astype(np.float32), sh, sw) if factor != 1.0 else image
    ph, pw = -(-sh // TILE_MULTIPLE) * TILE_MULTIPLE, -(-sw // TILE_MULTIPLE) * TILE_MULTIPLE
    x = normalize(pad_to(scaled, ph, pw), config.norm)[None]
    logits = flip_logits(runner, x, tta)[0, 0, :sh, :sw]
    return resize(np.ascontiguousarray(logits, dtype=np.float32), h, w)
