"""The memory estimate refuses a sweep that would not fit, before anything runs."""

from __future__ import annotations

import pytest

from lnet_edge.bench.memory import activation_mib, check_fits, peak_rss_mib, rss_mib
from lnet_edge.config import rgb_config
from lnet_edge.errors import LnetError


def test_estimate_grows_with_batch_and_tile() -> None:
    c = rgb_config()
    assert activation_mib(c, 4, 256) == pytest.approx(4 * activation_mib(c, 1, 256))
    assert activation_mib(c, 1, 512) > 3.9 * activation_mib(c, 1, 256)


def test_a_sweep_too_large_for_memory_is_refused() -> None:
    c = rgb_config()
    assert check_fits(c, (1, 4), (256,), 25, available=16_000) < 16_000
    with pytest.raises(LnetError, match="give smaller --batch or --tile"):
        check_fits(c, (1, 4096), (256,), 25, available=16_000)


def test_rss_readings_are_positive() -> None:
    assert 0 < rss_mib() <= peak_rss_mib()
