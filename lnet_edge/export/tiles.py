"""Real tiles for parity checks, calibration and the accuracy gate.

Tiles come from image/mask folders through the project's deterministic split by source image
(:func:`lnet_edge.data.split.split_samples`): parity and the accuracy gate use the validation
side, calibration the training side, so calibration never sees a gate tile. A cap on the
number of tiles keeps the tiles whose key (``dataset/image/y_x``) hashes lowest, which is
deterministic and independent of folder order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.normalize import normalize
from lnet_edge.data.readers import list_samples, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.data.tiles import pad_to, tile_origins
from lnet_edge.errors import LnetError

# The RGB sets the default model is trained and checked on (folder names under shared/data).
RGB_SETS = ("bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")


@dataclass(frozen=True)
class Tile:
    """One raw tile (HxWxC, the model's bands) and its {0,1} mask."""

    key: str
    image: np.ndarray
    mask: np.ndarray

    @property
    def has_landslide(self) -> bool:
        return bool(self.mask.any())


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def tiles_from_folders(
    folders: list[Path],
    config: ModelConfig,
    side: str = "val",
    size: int | None = None,
    limit: int | None = None,
    val_fraction: float = 0.2,
) -> list[Tile]:
    """Tiles of ``size`` px (default: the config's tile) from one side ("val", "train" or
    "all") of the split, at most ``limit`` of them (lowest key hash first)."""
    size = size or config.tile
    samples = [s for f in folders for s in list_samples(Path(f))]
    if side != "all":
        train, val = split_samples(samples, val_fraction)
        samples = val if side == "val" else train
    tiles = []
    for s in samples:
        image, mask = read_pair(s, config.bands)
        image, mask = pad_to(image, size, size), pad_to(mask, size, size)
        for y in tile_origins(mask.shape[0], size):
            for x in tile_origins(mask.shape[1], size):
                tiles.append(
                    Tile(f"{s.key}/{y}_{x}", image[y : y + size, x : x + size], mask[y : y + size, x : x + size])
                )
    tiles.sort(key=lambda t: _rank(t.key))
    if not tiles:
        raise LnetError(f"no tiles on the '{side}' side of the split of {', '.join(map(str, folders))}: add images")
    return tiles[:limit] if limit else tiles


def batch_of(tiles: list[Tile], config: ModelConfig) -> np.ndarray:
    """(N,C,H,W) float32 model input from raw tiles, normalised as the model was trained."""
    return np.stack([normalize(t.image, config.norm) for t in tiles])


def tiles_sha256(tiles: list[Tile]) -> str:
    """A digest of a tile set: keys and pixel bytes, in order."""
    h = hashlib.sha256()
    for t in tiles:
        h.update(t.key.encode())
        h.update(np.ascontiguousarray(t.image).tobytes())
    return h.hexdigest()
