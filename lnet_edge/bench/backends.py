"""The candidate (backend, precision) entries of a bench, read from the backend registry.

Every registered backend (runners.registry) gives one entry per (artifact, precision) it runs,
named ``backend/precision`` (or ``backend/artifact`` where it runs two artifacts of one
precision: ``onnxruntime/int8-cpu`` and ``onnxruntime/int8-qdq``); an entry that cannot run here
carries the reason with its fix. The bench loops over these and never branches on a backend's
name. Entries travel to worker processes as plain dicts (``Entry``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.artifacts import Precision, Role
from lnet_edge.bench.artifacts import Artifacts
from lnet_edge.runners.base import Runner
from lnet_edge.runners.registry import BACKENDS, BackendSpec


@dataclass(frozen=True)
class Entry:
    """One row family of the bench: a backend at one precision, and the file it runs."""

    backend: str
    precision: str  # the row's name in its backend (see the module docstring)
    device: str  # "cpu" or "cuda"
    artifact: str | None
    reason: str | None = None  # None: available

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.precision}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    """What a backend needs to open an entry: threads, the sweep's shapes, the engine cache."""

    threads: int | None
    batches: tuple[int, ...]
    tiles: tuple[int, ...]
    work: Path
    cuda_graph: bool = False  # TensorRT: replay the enqueue as a CUDA graph


def rows(spec: BackendSpec) -> list[tuple[str, Role, Precision]]:
    """(row name, artifact, precision) of every entry of ``spec``, fp32 first."""
    runs = sorted(spec.runs(), key=lambda run: list(Precision).index(run[1]))
    count = Counter(p for _, p in runs)
    return [(p.value if count[p] == 1 else r.value, r, p) for r, p in runs]


def role_of(entry: Entry) -> Role:
    """The artifact ``entry`` runs."""
    return next(r for name, r, _ in rows(BACKENDS[entry.backend]) if name == entry.precision)


def open_entry(entry: Entry, s: Settings) -> tuple[Runner, dict]:
    """The runner of ``entry`` and what opening it made (a TensorRT plan: its path, size and the
    seconds its opening took, the engine cache's check included; near zero when it was cached)."""
    from lnet_edge.engines.options import Profile

    spec = BACKENDS[entry.backend]
    precision = next(p for name, _, p in rows(spec) if name == entry.precision)
    b, t = sorted(s.batches), sorted(s.tiles)
    profile = Profile(b[0], b[len(b) // 2], b[-1], t[0], t[len(t) // 2], t[-1])
    t0 = time.perf_counter()
    runner, _config = spec.open(
        Path(entry.artifact),
        threads=s.threads,
        cuda_graph=s.cuda_graph,
        precision=precision,
        profile=profile,
        engines=s.work / "engines",
    )
    facts = runner.built()
    if facts:
        facts["plan_build_seconds"] = round(time.perf_counter() - t0, 2)
    return runner, facts


def candidates(art: Artifacts, wanted: list[str] | None = None) -> list[Entry]:
    """Every (backend, precision) entry, or those whose backend name or ``backend/precision``
    key is in ``wanted``; an entry that cannot run here carries the reason."""
    out = []
    for spec in BACKENDS.values():
        why = spec.unavailable()
        for name, role, _ in rows(spec):
            if wanted and spec.name not in wanted and f"{spec.name}/{name}" not in wanted:
                continue
            path = art.checkpoint if role is Role.checkpoint else art.onnx.get(role)
            reason = why or (None if path else art.missing.get(role, f"no {role} ONNX was made"))
            out.append(Entry(spec.name, name, spec.device, str(path) if path else None, reason))
    return out


def needed_sources(wanted: list[str] | None = None) -> tuple[str, ...]:
    """The ONNX models the selected, runnable entries need ("fp32" always: the reference)."""
    out = {Role.fp32.value}
    for spec in BACKENDS.values():
        if spec.unavailable() is None:
            out |= {
                role.value
                for name, role, _ in rows(spec)
                if role is not Role.checkpoint
                and (not wanted or spec.name in wanted or f"{spec.name}/{name}" in wanted)
            }
    return tuple(sorted(out))


def known_keys() -> list[str]:
    return [f"{spec.name}/{name}" for spec in BACKENDS.values() for name, _, _ in rows(spec)]
