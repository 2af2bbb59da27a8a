"""The paper's augmentations, applied jointly to an image tile and its mask.

Rotation by 90/180/270, vertical flip, random crop (resized back: a zoom in), zoom out
(shrink, reflect-pad back), colour change (brightness, contrast, saturation) and Gaussian noise.
Geometric steps move image and mask together (masks with nearest-neighbour resampling);
photometric steps touch the image only. Inputs and outputs are raw-valued HxWxC float32.
"""

from __future__ import annotations

import cv2
import numpy as np


def _resize(arr: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    out = cv2.resize(arr, (size, size), interpolation=interp)
    return out[:, :, None] if arr.ndim == 3 and out.ndim == 2 else out


def augment(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, value_range: float = 255.0
) -> tuple[np.ndarray, np.ndarray]:
    """One random draw of every augmentation; ``value_range`` scales the photometric steps."""
    k = int(rng.integers(4))
    image, mask = np.rot90(image, k), np.rot90(mask, k)
    if rng.random() < 0.5:
        image, mask = image[::-1], mask[::-1]
    size = mask.shape[0]
    r = rng.random()
    if r < 0.3:  # random crop, resized back to the tile: zoom in
        c = int(size * rng.uniform(0.6, 0.95))
        y, x = rng.integers(0, size - c + 1, size=2)
        image = _resize(np.ascontiguousarray(image[y : y + c, x : x + c]), size, False)
        mask = _resize(np.ascontiguousarray(mask[y : y + c, x : x + c]), size, True)
    elif r < 0.45:  # zoom out: shrink and reflect-pad
        c = int(size * rng.uniform(0.7, 0.95))
        small_i = _resize(np.ascontiguousarray(image), c, False)
        small_m = _resize(np.ascontiguousarray(mask), c, True)
        p = size - c
        image = np.pad(small_i, [(0, p), (0, p), (0, 0)], mode="reflect")
        mask = np.pad(small_m, [(0, p), (0, p)], mode="reflect")
    image = np.ascontiguousarray(image, dtype=np.float32)
    if rng.random() < 0.5:  # colour change
        mean = image.mean(axis=(0, 1), keepdims=True)
        image = (image - mean) * rng.uniform(0.8, 1.2) + mean * rng.uniform(0.85, 1.15)
        if image.shape[2] == 3:
            grey = image.mean(axis=2, keepdims=True)
            image = grey + (image - grey) * rng.uniform(0.8, 1.2)
    if rng.random() < 0.3:  # Gaussian noise
        image = image + rng.normal(0.0, rng.uniform(0.0, 0.03) * value_range, image.shape).astype(np.float32)
    image = np.clip(image, 0.0, value_range)
    return image, np.ascontiguousarray(mask)
