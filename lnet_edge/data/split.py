"""Deterministic train/validation/test split by source image, never by tile."""

from __future__ import annotations

import hashlib

from lnet_edge.data.readers import Sample

# Data folders with a fixed held-out test part (by image): never trained on, never used to choose
# hyper-parameters or checkpoints. Bijie native gets the paper's protocol: a quarter for testing;
# its non-landslide half (bijie_negatives) the same, for false alarms on scenes never trained on.
TEST_FRACTIONS: dict[str, float] = {"bijie_native": 0.25, "bijie_negatives": 0.25}


def _unit(key: str) -> float:
    """A stable number in [0, 1) from a sample key (sha256, independent of Python's hash seed)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def _lowest(group: list[Sample], fraction: float, salt: str = "") -> set[str]:
    """Keys of the ``fraction`` of ``group`` whose salted key hashes lowest (at least one of two+)."""
    ranked = sorted(group, key=lambda s: _unit(salt + s.key))
    n = round(len(group) * fraction)
    if len(group) >= 2 and fraction > 0:
        n = max(1, n)
    return {s.key for s in ranked[:n]}


def split_test(samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """(development, test): the test part of each folder named in ``TEST_FRACTIONS``, chosen by a
    salted hash of the image key, so it depends on names only."""
    by_set = _by_set(samples)
    test_keys = {k for name, group in by_set.items() for k in _lowest(group, TEST_FRACTIONS.get(name, 0.0), "test/")}
    return [s for s in samples if s.key not in test_keys], [s for s in samples if s.key in test_keys]


def split_samples(samples: list[Sample], val_fraction: float = 0.2) -> tuple[list[Sample], list[Sample]]:
    """Split each dataset's development images so that about ``val_fraction`` go to validation.

    Test images (``split_test``) are left out of both sides. Per dataset, the images whose key
    hashes lowest go to validation (at least one image per dataset with two or more images), so
    the split depends only on names, not on order or on which other datasets are present. All
    tiles of an image go to the same side.
    """
    dev, _ = split_test(samples)
    val_keys = {k for group in _by_set(dev).values() for k in _lowest(group, val_fraction)}
    return [s for s in dev if s.key not in val_keys], [s for s in dev if s.key in val_keys]


def _by_set(samples: list[Sample]) -> dict[str, list[Sample]]:
    by_set: dict[str, list[Sample]] = {}
    for s in samples:
        by_set.setdefault(s.dataset, []).append(s)
    return by_set
