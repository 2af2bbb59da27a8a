"""Deterministic train/validation split by source image, never by tile."""

from __future__ import annotations

import hashlib

from lnet_edge.data.readers import Sample


def _unit(key: str) -> float:
    """A stable number in [0, 1) from a sample key (sha256, independent of Python's hash seed)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def split_samples(samples: list[Sample], val_fraction: float = 0.2) -> tuple[list[Sample], list[Sample]]:
    """Split each dataset's images so that about ``val_fraction`` go to validation.

    Per dataset, the images whose key hashes lowest go to validation (at least one image per
    dataset with two or more images), so the split depends only on names, not on order or on
    which other datasets are present. All tiles of an image go to the same side.
    """
    train, val = [], []
    by_set: dict[str, list[Sample]] = {}
    for s in samples:
        by_set.setdefault(s.dataset, []).append(s)
    for group in by_set.values():
        ranked = sorted(group, key=lambda s: _unit(s.key))
        n_val = round(len(group) * val_fraction)
        if len(group) >= 2:
            n_val = max(1, n_val)
        val_keys = {s.key for s in ranked[:n_val]}
        for s in group:
            (val if s.key in val_keys else train).append(s)
    return train, val
