"""Test-time augmentation through any runner: the four flips, logits averaged. Shared by eval,
training validation and the field run."""

from __future__ import annotations

import numpy as np

from lnet_edge.runners.base import Runner


def flip_logits(runner: Runner, x: np.ndarray, tta: bool = False) -> np.ndarray:
    """Logits of an NCHW batch; with ``tta``, the mean over the four flips (none, left-right,
    up-down, both), each flipped back: one runner call on a batch four times as large."""
    if not tta:
        return runner.logits(x)
    n = len(x)
    flips = np.concatenate([x, x[..., ::-1], x[..., ::-1, :], x[..., ::-1, ::-1]])
    y = runner.logits(np.ascontiguousarray(flips))
    return (y[:n] + y[n : 2 * n, ..., ::-1] + y[2 * n : 3 * n, ..., ::-1, :] + y[3 * n :, ..., ::-1, ::-1]) / 4
