"""Training data: tiles of the training images (augmented on the fly) and whole validation
images, loaded once into memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.augment import augment
from lnet_edge.data.normalize import normalize
from lnet_edge.data.readers import Sample, list_samples, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.data.tiles import cut_tiles
from lnet_edge.errors import LnetError
from lnet_edge.lazy import lazy_import

torch = lazy_import("torch")


def load_split(roots: list[Path], config: ModelConfig, val_fraction: float) -> tuple[list[Sample], list[Sample]]:
    samples = [s for root in roots for s in list_samples(root)]
    train, val = split_samples(samples, val_fraction)
    if not train or not val:
        raise LnetError(
            f"{len(samples)} images in {', '.join(map(str, roots))} give {len(train)} for training and "
            f"{len(val)} for validation: give at least two images per data folder"
        )
    return train, val


class TileDataset(torch.utils.data.Dataset):
    """Training tiles of the given samples; augmentation seeded by (seed, epoch, index)."""

    def __init__(self, samples: list[Sample], config: ModelConfig, seed: int, augment_tiles: bool = True) -> None:
        self.config, self.seed, self.augment_tiles, self.epoch = config, seed, augment_tiles, 0
        self.tiles: list[tuple[np.ndarray, np.ndarray]] = []
        self.datasets: list[str] = []  # the data folder of each tile
        for s in samples:
            image, mask = read_pair(s, config.bands)
            cut = cut_tiles(image, mask, config.tile)
            self.tiles.extend(cut)
            self.datasets.extend([s.dataset] * len(cut))
        self.value_range = (
            255.0 if self.tiles[0][0].dtype == np.uint8 else float(max(float(t[0].max()) for t in self.tiles[:50]))
        )

    def sqrt_balanced_weights(self) -> list[float]:
        """Per-tile sampling weights that give each data folder a share of an epoch proportional to
        the square root of its tile count: small sets are seen more often without starving the
        large one."""
        counts = {d: self.datasets.count(d) for d in set(self.datasets)}
        total = sum(np.sqrt(n) for n in counts.values())
        return [float(np.sqrt(counts[d]) / total / counts[d]) for d in self.datasets]

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, i: int):
        image, mask = self.tiles[i]
        if self.augment_tiles:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            image, mask = augment(image, mask, rng, self.value_range)
        x = normalize(image, self.config.norm)
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
