"""Whole-image prediction through any runner (used by eval and training validation)."""

from __future__ import annotations

import numpy as np

from lnet_edge.data.normalize import normalize
from lnet_edge.data.tiles import pad_to
from lnet_edge.model.config import ModelConfig
from lnet_edge.runners.base import Runner

MULTIPLE = 16  # the network downsamples four times


def predict_logits(runner: Runner, image: np.ndarray, config: ModelConfig) -> np.ndarray:
    """HxWxC raw image -> HxW float32 logits. The image is reflect-padded to a multiple of 16
    (and at least one tile's worth of context is not needed: the network is fully convolutional)."""
    h, w = image.shape[:2]
    ph, pw = -(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE
    x = normalize(pad_to(image, ph, pw), config.norm)[None]
    return runner.logits(x)[0, 0, :h, :w]
