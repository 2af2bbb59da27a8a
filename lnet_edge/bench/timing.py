"""Latency statistics of repeated calls, and the energy that tegrastats saw while they ran.

A timed call is wall-clock (``time.perf_counter``) around one complete, synchronous inference,
so GPU work is finished when the clock stops. Warm-up calls run first and are not recorded:
they pay for lazy allocation, kernel selection and caches. Throughput is batch / mean latency,
the long-run rate; p50/p90/p99 describe one call's latency.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call over ``runs`` recorded calls (``warmup`` excluded)."""

    runs: int
    warmup: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    def to_dict(self) -> dict:
        return asdict(self)


def latency_of(ms: list[float], warmup: int) -> Latency:
    """Percentiles (linear interpolation, numpy's default) and mean of ``ms``."""
    a = np.asarray(ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    # the float sum can round a mean of equal values just outside [min, max]: pin it back
    mean = float(np.clip(a.mean(), a.min(), a.max()))
    return Latency(len(a), warmup, float(p50), float(p90), float(p99), mean, float(a.min()), float(a.max()))


def time_calls(fn: Callable[[], object], runs: int, warmup: int) -> Latency:
    """Call ``fn`` ``warmup`` times unrecorded, then ``runs`` times recorded."""
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return latency_of(ms, warmup)


def throughput(latency: Latency, batch: int, tile: int, gsd_m: float) -> dict:
    """tiles/s = batch / mean latency; km²/s = tiles/s x (tile x gsd)² / 1e6 (no overlap)."""
    tiles_per_s = batch * 1e3 / latency.mean_ms
    return {"tiles_per_s": tiles_per_s, "km2_per_s": tiles_per_s * (tile * gsd_m) ** 2 / 1e6}


class TegraStats:
    """Mean board input power while a block runs, from ``tegrastats`` (Jetson only).

    ``with TegraStats() as ts: ...`` then ``ts.mean_watts`` (None where tegrastats is absent or
    printed no VDD_IN / POM_5V_IN reading).
    """

    # board input rail: "VDD_IN 5832mW/5852mW" (JetPack 5/6: instant/average), "POM_5V_IN 2150/2150"
    # or "VDD_IN 4136/4136" (JetPack 4, no unit); the first figure, the instant one, is taken
    POWER = re.compile(r"\b(?:VDD_IN|POM_5V_IN)\s+(\d+)(?:mW)?(?:/\d+(?:mW)?)?")

    def __init__(self, interval_ms: int = 100) -> None:
        self.interval_ms, self.proc, self.mean_watts = interval_ms, None, None

    def __enter__(self) -> TegraStats:
        if shutil.which("tegrastats"):
            self.proc = subprocess.Popen(
                ["tegrastats", "--interval", str(self.interval_ms)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=5)
        self.mean_watts = self.mean_board_watts(out or "")

    @classmethod
    def mean_board_watts(cls, text: str) -> float | None:
        """Mean of the board input power readings in tegrastats output, in watts."""
        mw = [int(m) for m in cls.POWER.findall(text)]
        return sum(mw) / len(mw) / 1e3 if mw else None
