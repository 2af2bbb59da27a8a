"""Training data: tiles of the training images (augmented on the fly) and whole validation
images, loaded once into memory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.augment import augment
from lnet_edge.data.normalize import normalize
from lnet_edge.data.readers import Sample, list_samples, read_mask, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.data.tiles import cut_tiles
from lnet_edge.errors import LnetError
from lnet_edge.lazy import lazy_import

torch = lazy_import("torch")

WEBP_QUALITY = 95  # the quality bijie_negatives was written with (its SOURCE.md)


def load_split(
    roots: list[Path], config: ModelConfig, val_fraction: float, negatives: tuple[Path, ...] = ()
) -> tuple[list[Sample], list[Sample]]:
    """(train, validation) samples of the landslide folders ``roots`` and the non-landslide
    folders ``negatives``, whose masks must all be empty (an error names the first that is not)."""
    samples = [s for root in roots for s in list_samples(root)]
    for root in negatives:
        listed = list_samples(root)
        check_negative(listed)
        samples.extend(listed)
    train, val = split_samples(samples, val_fraction)
    if not train or not val:
        raise LnetError(
            f"{len(samples)} images in {', '.join(map(str, roots))} give {len(train)} for training and "
            f"{len(val)} for validation: give at least two images per data folder"
        )
    return train, val


def check_negative(samples: list[Sample]) -> None:
    """Refuse a folder declared negative whose masks mark anything."""
    for s in samples:
        if read_mask(s.mask).any():
            raise LnetError(
                f"mask {s.mask} marks landslide pixels, but {s.mask.parent.parent} was given as --negatives "
                "(non-landslide scenes, every mask empty): give that folder as --data instead"
            )


def recode_webp(tile: np.ndarray, quality: int = WEBP_QUALITY) -> np.ndarray:
    """An RGB uint8 tile passed through lossy WebP, as OpenCV writes it (``bijie_negatives`` was
    made so): landslide tiles look like it too, so the codec cannot tell the classes apart."""
    bgr = np.ascontiguousarray(tile[:, :, ::-1])
    ok, buf = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, quality])
    if not ok:
        raise LnetError("OpenCV could not encode a WebP tile: reinstall opencv-python-headless")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])


def sqrt_weights(datasets: list[str]) -> np.ndarray:
    """Per-tile weights (summing to 1) that give each data folder in ``datasets`` (one name per
    tile) a share proportional to the square root of its tile count."""
    counts = {d: datasets.count(d) for d in set(datasets)}
    total = sum(np.sqrt(n) for n in counts.values())
    return np.array([np.sqrt(counts[d]) / total / counts[d] for d in datasets])


class EpochSampler(torch.utils.data.Sampler):
    """``size`` tile indices an epoch, drawn with replacement by ``weights`` from a generator
    seeded by (seed, epoch): the same draw on a resumed run as on an uninterrupted one."""

    def __init__(self, weights: np.ndarray, size: int, seed: int) -> None:
        self.p = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.size, self.seed, self.epoch = size, seed, 0

    def __len__(self) -> int:
        return self.size

    def emphasise(self, indices: np.ndarray, hardness: np.ndarray, factor: float) -> None:
        """Redistribute the weight of the tiles ``indices`` among them in proportion to
        1 + ``factor`` x ``hardness`` (their total share of the epoch is kept)."""
        w = 1.0 + factor * np.asarray(hardness, dtype=np.float64)
        self.p[indices] = self.p[indices].sum() * w / w.sum()

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch, 1))
        return iter(rng.choice(len(self.p), size=self.size, p=self.p).tolist())


class TileDataset(torch.utils.data.Dataset):
    """Training tiles of the given samples; augmentation seeded by (seed, epoch, index)."""

    def __init__(
        self,
        samples: list[Sample],
        config: ModelConfig,
        seed: int,
        augment_tiles: bool = True,
        negatives: frozenset[str] = frozenset(),
        webp_share: float = 0.0,
    ) -> None:
        self.config, self.seed, self.augment_tiles, self.epoch = config, seed, augment_tiles, 0
        self.negatives, self.webp_share = negatives, webp_share  # dataset names; share of recoded tiles
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
        return sqrt_weights(self.datasets).tolist()

    def epoch_weights(self, share: float, balance_sqrt: bool) -> tuple[np.ndarray, int]:
        """Sampling weights and epoch length when the negative folders take ``share`` of each
        epoch: landslide tiles keep their own weighting (uniform, or ``sqrt`` by folder) over
        the rest, and an epoch holds as many landslide tiles as there are (N / (1 - share) draws)."""
        neg = np.array([d in self.negatives for d in self.datasets])
        n_pos, n_neg = int((~neg).sum()), int(neg.sum())
        if n_pos == 0:
            raise LnetError("no landslide tiles to train on: give at least one --data folder with landslides")
        pos_sets = [d for d, n in zip(self.datasets, neg) if not n]
        pos_w = sqrt_weights(pos_sets) if balance_sqrt else np.full(n_pos, 1.0 / n_pos)
        weights = np.zeros(len(self.datasets))
        weights[~neg] = pos_w * (1 - share)
        if n_neg:
            weights[neg] = share / n_neg
        return weights, round(n_pos / (1 - share))

    def negative_indices(self) -> np.ndarray:
        """Indices of the tiles from the negative folders."""
        return np.flatnonzero([d in self.negatives for d in self.datasets])

    def plain_tile(self, i: int) -> np.ndarray:
        """Tile ``i`` normalised, not augmented: what the network sees at inference."""
        return normalize(self.tiles[i][0], self.config.norm)

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, i: int):
        image, mask = self.tiles[i]
        if self.augment_tiles:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            recode = self.webp_share > 0 and rng.random() < self.webp_share
            if recode and image.dtype == np.uint8 and image.shape[2] == 3 and self.datasets[i] not in self.negatives:
                image = recode_webp(image)
            image, mask = augment(image, mask, rng, self.value_range)
        x = normalize(image, self.config.norm)
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
