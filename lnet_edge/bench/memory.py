"""Memory: peak resident set of a bench worker, and the estimate that refuses a sweep before
it starts when it would not fit.

Each entry runs in its own worker process, so its peak RSS (``VmHWM``, the high-water mark of
the process's own address space) belongs to that backend alone (``ru_maxrss`` would not do:
Linux carries the parent's high-water mark across fork and exec). The report also gives the RSS
before the backend is opened (its library not yet imported, no model loaded), the common floor
of every worker.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.memory import USABLE_FRACTION, activation_bytes, available_bytes

RUNTIME_OVERHEAD_MIB = 600  # interpreter, numpy, the runtime library and its arena


def rss_mib() -> float:
    """Current resident set of this process (Linux /proc; peak RSS elsewhere)."""
    m = re.search(r"VmRSS:\s+(\d+) kB", _status())
    return int(m.group(1)) / 1024 if m else peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set of this process's address space (VmHWM; ru_maxrss where there is no /proc)."""
    m = re.search(r"VmHWM:\s+(\d+) kB", _status())
    if m:
        return int(m.group(1)) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _status() -> str:
    try:
        return Path("/proc/self/status").read_text()
    except OSError:
        return ""


def available_mib() -> float | None:
    """MemAvailable (Linux), None where unknown."""
    available = available_bytes()
    return available / 2**20 if available is not None else None


def activation_mib(config: ModelConfig, batch: int, tile: int) -> float:
    """Upper estimate of activation memory for one call: LIVE_TENSORS x sum over the five
    scales of width x pixels x 4 bytes (stage i has tile/2^i per side)."""
    return activation_bytes(config, batch, tile, tile) / 2**20


def check_fits(
    config: ModelConfig,
    batches: tuple[int, ...],
    tiles: tuple[int, ...],
    model_mib: float,
    available: float | None = None,
) -> float:
    """The estimated peak MiB of the largest call of the sweep; LnetError when it exceeds
    USABLE_FRACTION of available memory (nothing has run yet)."""
    need = activation_mib(config, max(batches), max(tiles)) + model_mib + RUNTIME_OVERHEAD_MIB
    available = available_mib() if available is None else available
    if available is not None and need > USABLE_FRACTION * available:
        raise LnetError(
            f"the sweep's largest call (batch {max(batches)}, tile {max(tiles)}) needs about {need:,.0f} MiB, "
            f"more than {USABLE_FRACTION:.0%} of the {available:,.0f} MiB available here: "
            "give smaller --batch or --tile values"
        )
    return need
