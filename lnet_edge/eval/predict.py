"""Prediction of whole images through any runner: resolution matching (the image resampled to
the model's ground sampling distance and the logits resampled back, data.resample) and test-time
augmentation (the four flips, logits averaged, runners.tta). Used by eval and training
validation; the field run shares the resampling and the flips, not this module."""

from __future__ import annotations

import numpy as np

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.data.normalize import normalize
from lnet_edge.data.resample import resize, scaled_size
from lnet_edge.data.tiles import pad_to
from lnet_edge.runners.base import Runner
from lnet_edge.runners.tta import flip_logits


def predict_logits(
    runner: Runner, image: np.ndarray, config: ModelConfig, factor: float = 1.0, tta: bool = False
) -> np.ndarray:
    """HxWxC raw image -> HxW float32 logits. The image is resampled by ``factor`` (model pixels
    per image pixel, 1: none), reflect-padded to a multiple of 16, and the logits cut and
    resampled back to HxW, so every original pixel is scored and none of the padding."""
    h, w = image.shape[:2]
    sh, sw = scaled_size(h, factor), scaled_size(w, factor)
    scaled = resize(image.astype(np.float32), sh, sw) if factor != 1.0 else image
    logits = flip_logits(runner, whole_image_input(scaled, config), tta)[0, 0, :sh, :sw]
    return resize(np.ascontiguousarray(logits, dtype=np.float32), h, w)


def whole_image_input(image: np.ndarray, config: ModelConfig) -> np.ndarray:
    """HxWxC image -> the network's (1,C,H',W') float32 input: reflect-padded at the bottom and
    right to multiples of 16, normalised. The logits' [:H, :W] are the image's."""
    h, w = image.shape[:2]
    ph, pw = -(-h // TILE_MULTIPLE) * TILE_MULTIPLE, -(-w // TILE_MULTIPLE) * TILE_MULTIPLE
    return normalize(pad_to(image, ph, pw), config.norm)[None]


def image_memory(height: int, width: int, bands: int, config: ModelConfig, factor: float, tta: bool) -> dict[str, int]:
    """Bytes :func:`predict_logits` allocates for one height x width image (an upper estimate):
    its float32 copy and the resampled image, the padded and normalised input (with ``tta`` its
    four flips), the network's activations, the logits and their way back to the image's size."""
    from lnet_edge.memory import activation_bytes

    sh, sw = scaled_size(height, factor), scaled_size(width, factor)
    ph, pw = -(-sh // TILE_MULTIPLE) * TILE_MULTIPLE, -(-sw // TILE_MULTIPLE) * TILE_MULTIPLE
    calls = 4 if tta else 1
    return {
        "the image resampled": (height * width + sh * sw) * bands * 4 if factor != 1.0 else 0,
        "the model's input": (2 + (4 if tta else 0)) * ph * pw * bands * 4,
        "network activations": activation_bytes(config, calls, ph, pw),
        "logits": (calls + (3 if tta else 0)) * ph * pw * 4 + (sh * sw + height * width) * 4,
    }


def check_images(samples, config: ModelConfig, factor: float, tta: bool, budget) -> None:
    """Refuse, before any image is scored, a set whose largest image needs more memory than
    ``budget`` (lnet_edge/memory.Budget; None: no check), with the numbers and the fixes."""
    from lnet_edge.data.readers import image_size
    from lnet_edge.memory import size_text

    if budget is None:
        return
    bands = len(config.bands)
    sizes = [(s.image, image_size(s.image)) for s in samples]
    largest = max(((p, hw) for p, hw in sizes if hw), key=lambda x: x[1][0] * x[1][1], default=None)
    if largest is None:
        return
    path, (h, w) = largest
    parts = image_memory(h, w, bands, config, factor, tta)
    top = sorted(((v, k) for k, v in parts.items() if v), reverse=True)[:2]
    fixes = []
    if factor > 1.5:
        fixes.append(
            f"the images are resampled x{factor:.4g} for the model: check --pixel-size, or give --gsd none "
            "to score them at their own pixel size"
        )
    if tta:
        fixes.append("leave out --tta (four flips at once)")
    fixes.append("score smaller images")
    what = f"scoring {path} ({w}x{h} px, the largest image)"
    budget.check(sum(parts.values()), what, ", ".join(f"{k} {size_text(v)}" for v, k in top), fixes)
