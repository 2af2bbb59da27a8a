"""Latency statistics and throughput: pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnet_edge.bench.timing import latency_of, throughput, time_calls


@given(st.lists(st.floats(0.01, 1e4, allow_nan=False), min_size=2, max_size=200), st.integers(1, 64))
def test_percentiles_are_ordered_and_throughput_follows_the_mean(ms: list[float], batch: int) -> None:
    lat = latency_of(ms, warmup=3)
    assert lat.runs == len(ms) and lat.warmup == 3
    assert lat.min_ms <= lat.p50_ms <= lat.p90_ms <= lat.p99_ms <= lat.max_ms
    assert lat.min_ms <= lat.mean_ms <= lat.max_ms
    t = throughput(lat, batch, 256, 0.5)
    assert t["tiles_per_s"] == pytest.approx(batch * 1e3 / lat.mean_ms)
    assert t["km2_per_s"] == pytest.approx(t["tiles_per_s"] * (256 * 0.5) ** 2 / 1e6)


def test_warmup_calls_are_not_recorded() -> None:
    calls = []
    lat = time_calls(lambda: calls.append(1), runs=5, warmup=2)
    assert len(calls) == 7 and lat.runs == 5 and lat.warmup == 2
