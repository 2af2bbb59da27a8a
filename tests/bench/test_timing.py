"""Latency statistics, throughput and the tegrastats energy reading."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnet_edge.bench.timing import TegraStats, latency_of, throughput, time_calls


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


ORIN = (
    "11-26-2026 10:00:00 RAM 3120/7620MB (lfb 4x4MB) SWAP 0/3810MB (cached 0MB) CPU [12%@1510,off] "
    "GR3D_FREQ 88%@[624] cpu@48.1C gpu@47.9C VDD_IN 6000mW/5500mW VDD_CPU_GPU_CV 2000mW/1800mW VDD_SOC 1500mW/1500mW"
)
NANO_JP4 = "RAM 2100/3964MB (lfb 25x4MB) CPU [20%@1479,off] GR3D_FREQ 76%@921 POM_5V_IN 4000/3900 POM_5V_GPU 900/800"


def test_board_power_is_read_from_every_tegrastats_format() -> None:
    assert TegraStats.mean_board_watts(ORIN + "\n" + ORIN.replace("VDD_IN 6000mW", "VDD_IN 8000mW")) == 7.0
    assert TegraStats.mean_board_watts(NANO_JP4) == 4.0  # JetPack 4 prints no unit
    assert TegraStats.mean_board_watts("RAM 2100/3964MB CPU [20%@1479]") is None  # no board rail: no figure


def test_tegrastats_runs_beside_the_timed_block(tmp_path, monkeypatch) -> None:
    """A stand-in ``tegrastats`` on PATH prints Orin lines until it is stopped: the runner starts it,
    stops it after the block and averages what it printed."""
    fake = tmp_path / "tegrastats"
    fake.write_text(f"#!/bin/sh\nwhile true; do echo '{ORIN}'; sleep 0.01; done\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with TegraStats(interval_ms=10) as ts:
        time.sleep(0.2)
    assert ts.mean_watts == 6.0


def test_no_tegrastats_means_no_energy_figure(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with TegraStats() as ts:
        pass
    assert ts.proc is None and ts.mean_watts is None
