"""Tiles to probabilities: resampling to the model's resolution, normalisation, padding, the
runner call (optionally with the four flips), the non-finite check, and the way back."""

from __future__ import annotations

import numpy as np

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.data.normalize import normalize
from lnet_edge.data.tiles import pad_to
from lnet_edge.errors import LnetError
from lnet_edge.eval.predict import flip_logits, resize, scaled_size
from lnet_edge.runners.base import Runner


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Probabilities from logits, in float32 after the engine (fp16/int8 never squeeze them)."""
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32)))).astype(np.float32)


def predict_tiles(
    runner: Runner, tiles: list[np.ndarray], config: ModelConfig, batch: int, factor: float = 1.0, tta: bool = False
) -> list[np.ndarray]:
    """Probability of each HxWxC tile. Each tile is resampled by ``factor`` (model pixels per
    scene pixel; 1: not), reflect-padded (bottom/right) to at least the model tile, run (with
    ``tta``: the four flips averaged), and its logits cut and resampled back to HxW."""
    out: list[np.ndarray] = []
    for i in range(0, len(tiles), batch):
        chunk = tiles[i : i + batch]
        sizes = [(scaled_size(c.shape[0], factor), scaled_size(c.shape[1], factor)) for c in chunk]
        ph = max(config.tile, -(-max(s[0] for s in sizes) // TILE_MULTIPLE) * TILE_MULTIPLE)
        pw = max(config.tile, -(-max(s[1] for s in sizes) // TILE_MULTIPLE) * TILE_MULTIPLE)
        scaled = [resize(c.astype(np.float32), *s) if factor != 1.0 else c for c, s in zip(chunk, sizes)]
        x = np.stack([normalize(pad_to(c, ph, pw), config.norm) for c in scaled])
        logits = flip_logits(runner, x, tta)
        if not np.isfinite(logits).all():
            raise LnetError(
                f"the model produced NaN or infinite values ({runner.name}): its weights are broken; "
                "re-export it from a good checkpoint or use another -m"
            )
        for lg, (sh, sw), c in zip(logits[:, 0], sizes, chunk):
            lg = resize(np.ascontiguousarray(lg[:sh, :sw], dtype=np.float32), c.shape[0], c.shape[1])
            out.append(sigmoid(lg))
    return out


def scene_tiling(config: ModelConfig, overlap: int, factor: float) -> tuple[int, int]:
    """(tile, overlap) in scene pixels: the model tile and ``overlap`` divided by ``factor``."""
    tile = max(TILE_MULTIPLE, round(config.tile / factor))
    return tile, min(round(overlap / factor), tile - 1)
