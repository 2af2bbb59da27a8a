"""Tiles to probabilities: resampling to the model's resolution, normalisation, padding, the
runner call (optionally with the four flips), the non-finite check, and the way back.

Split in three so the field run can overlap them: :func:`prepare_batches` (runs while the runner
works on the previous strip), :func:`run_logits` (the runner alone, so that the model's stage
does nothing else) and :func:`probabilities` (checks and sigmoid, while the runner works on the
next strip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.data.resample import resize, scaled_size
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import Runner
from lnet_edge.runners.tta import flip_logits


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Probabilities from logits, in float32 after the engine (fp16/int8 never squeeze them).
    1 / (1 + exp(-x)) in float32, computed in one buffer (``out``, which may be ``x``)."""
    out = np.negative(x, out=out, dtype=np.float32)
    np.exp(out, out=out)
    out += np.float32(1)
    return np.reciprocal(out, out=out)


@dataclass
class Batch:
    """One runner call: the NCHW float32 input and, per tile, its (scaled) size and original size."""

    x: np.ndarray | None  # None once the runner has it: the field run keeps only the sizes
    sizes: list[tuple[int, int]]  # model-resolution size of each tile before padding
    shapes: list[tuple[int, int]]  # each tile's size in scene pixels


def prepare_batches(tiles: list[np.ndarray], config: ModelConfig, batch: int, factor: float = 1.0) -> list[Batch]:
    """HxWxC tiles (any dtype) in runner batches. Each tile is resampled by ``factor`` (model
    pixels per scene pixel; 1: not), reflect-padded (bottom/right) to at least the model tile and
    a multiple of 16, and normalised as in training: (x * scale - mean) / std in float32."""
    from lnet_edge.data.tiles import pad_to

    norm = config.norm
    mean, std = np.asarray(norm.mean, dtype=np.float32), np.asarray(norm.std, dtype=np.float32)
    out = []
    for i in range(0, len(tiles), batch):
        chunk = tiles[i : i + batch]
        sizes = [(scaled_size(c.shape[0], factor), scaled_size(c.shape[1], factor)) for c in chunk]
        ph = max(config.tile, -(-max(s[0] for s in sizes) // TILE_MULTIPLE) * TILE_MULTIPLE)
        pw = max(config.tile, -(-max(s[1] for s in sizes) // TILE_MULTIPLE) * TILE_MULTIPLE)
        scaled = [resize(c.astype(np.float32), *s) if factor != 1.0 else c for c, s in zip(chunk, sizes)]
        x = np.empty((len(scaled), scaled[0].shape[2], ph, pw), dtype=np.float32)  # NCHW
        for k, c in enumerate(scaled):  # scene strips keep their bands as planes: row-wise copies
            x[k] = np.moveaxis(pad_to(c, ph, pw), -1, 0)
        x *= np.float32(norm.scale)
        x -= mean[:, None, None]
        x /= std[:, None, None]
        out.append(Batch(x, sizes, [c.shape[:2] for c in chunk]))
    return out


def run_logits(runner: Runner, batches: list[Batch], tta: bool = False) -> list[np.ndarray]:
    """The runner's logits (NCHW) for each batch; with ``tta``, the four flips averaged."""
    return [flip_logits(runner, b.x, tta) for b in batches]


def probabilities(runner_name: str, batches: list[Batch], logits: list[np.ndarray]) -> list[np.ndarray]:
    """The probability (HxW float32, the tile's own size) of every tile of ``batches`` from their
    ``logits``: checked finite, cut to the tile, resampled back, passed through the sigmoid."""
    out: list[np.ndarray] = []
    for b, lg in zip(batches, logits):
        if not np.isfinite(lg).all():
            raise LnetError(
                f"the model produced NaN or infinite values ({runner_name}): its weights are broken; "
                "re-export it from a good checkpoint or use another -m"
            )
        if b.sizes == b.shapes:  # at the model's resolution: one sigmoid for the batch, in place
            own = lg.dtype == np.float32 and lg.flags.writeable  # runners return fresh arrays
            probs = sigmoid(lg[:, 0], out=lg[:, 0] if own else None)
            out += [probs[k, :h, :w] for k, (h, w) in enumerate(b.shapes)]
            continue
        # resampled: back to scene pixels in logit space, as whole-image eval does
        for k, ((sh, sw), (h, w)) in enumerate(zip(b.sizes, b.shapes)):
            tile = np.ascontiguousarray(lg[k, 0, :sh, :sw], dtype=np.float32)
            out.append(sigmoid(resize(tile, h, w)))
    return out


def scene_tiling(field_tile: int, overlap: int, factor: float) -> tuple[int, int]:
    """(tile, overlap) in scene pixels: the field tile and ``overlap`` (model pixels) divided by ``factor``."""
    tile = max(TILE_MULTIPLE, round(field_tile / factor))
    return tile, min(round(overlap / factor), tile - 1)
