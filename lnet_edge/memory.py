"""Memory budgets: how much an operation may allocate, and the refusal, with the numbers, of one
that would not fit, before its first byte is allocated.

The budget is ``--memory-limit`` when given (a size with its unit: ``4GB``, ``1.5GiB``,
``800MiB``), else USABLE_FRACTION of this machine's physical memory (of a Dask worker's own
memory limit when that is lower). Physical memory, not MemAvailable, so that a batch's scenes
are judged alike whatever else runs meanwhile; the budget bounds what one scene or image may
allocate beyond the process and its loaded model. Estimates are upper bounds computed from an
operation's inputs (sizes, resampling factor, tile and batch).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError

USABLE_FRACTION = 0.8  # of the memory a budget is drawn from: leave room for the OS and the other processes
# Live fp32 tensors per pixel of a stage, in units of that stage's width: the stage input, the
# two residual-block temporaries, the attention product, the skip kept for the decoder and the
# decoder concat. Measured peaks of ONNX Runtime and PyTorch CPU stay below this on edge-s.
LIVE_TENSORS = 8
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
EXAMPLES = "e.g. 4GB, 1.5GiB or 800MiB"


def physical_bytes() -> int | None:
    """The machine's physical memory, None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes() -> int | None:
    """MemAvailable (Linux), None where unknown."""
    try:
        m = re.search(r"MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        return None
    return int(m.group(1)) * 1024 if m else None


def size_text(n: float) -> str:
    """A byte count for people: ``850 MiB``, ``23.6 GiB``, ``1.2 TiB``."""
    if n >= 2**40:
        return f"{n / 2**40:,.1f} TiB"
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GiB"
    return f"{n / 2**20:,.0f} MiB"


@dataclass(frozen=True)
class Budget:
    """The bytes an operation may allocate, and where that number comes from (for the message)."""

    limit: int
    source: str  # "--memory-limit 4GB" or "80% of this machine's 23.5 GiB"

    def check(self, need: int, what: str, detail: str, fixes: list[str]) -> None:
        """An LnetError when ``need`` bytes exceed the budget: what needs them (the largest parts),
        the budget and its source, and how to fix it (``fixes``, then --memory-limit)."""
        if need <= self.limit:
            return
        fixes = [*fixes, "or raise --memory-limit if this machine really has the memory"]
        raise LnetError(
            f"{what} needs about {size_text(need)} of memory ({detail}), more than its budget of "
            f"{size_text(self.limit)} ({self.source}): nothing was allocated; {'; '.join(fixes)}"
        )


def parse_memory_limit(text: str | None) -> int | None:
    """``--memory-limit``: None for ``auto`` (or no option), else bytes from a size with its unit
    (B, KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: powers of 1024)."""
    if text is None or text.strip().lower() == "auto":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?i?B)\s*", text, re.IGNORECASE)
    unit = UNITS.get(m.group(2).lower()) if m else None
    if unit is None or float(m.group(1)) * unit < 2**20:
        raise LnetError(
            f"--memory-limit '{text}': give a size of at least 1 MiB with its unit, {EXAMPLES}, "
            f"or auto ({USABLE_FRACTION:.0%} of this machine's memory)"
        )
    return int(float(m.group(1)) * unit)


def budget(limit: int | None, text: str | None = None, ceiling: int | None = None) -> Budget | None:
    """The budget of a run: ``limit`` bytes (given as ``text``), else USABLE_FRACTION of the
    physical memory, or of ``ceiling`` (a Dask worker's memory limit) when that is lower; None
    where neither is known (no check)."""
    if limit is not None:
        return Budget(limit, f"--memory-limit {text}" if text else "the --memory-limit")
    total, where = physical_bytes(), "this machine's"
    if ceiling and (total is None or ceiling < total):
        total, where = ceiling, "this Dask worker's memory limit of"
    if not total:
        return None
    return Budget(int(USABLE_FRACTION * total), f"{USABLE_FRACTION:.0%} of {where} {size_text(total)}")


def activation_bytes(config: ModelConfig, images: int, height: int, width: int) -> int:
    """Upper estimate of the network's activations for one call on ``images`` inputs of
    height x width: LIVE_TENSORS x sum over the five scales of width x pixels x 4 bytes (stage i
    has 1/2^i of each side), plus the input and output."""
    pixels = height * width
    per_image = sum(w * pixels / 4**i for i, w in enumerate(config.widths)) * 4 * LIVE_TENSORS
    return int(images * (per_image + (config.in_channels + 1) * pixels * 4))
