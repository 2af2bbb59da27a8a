"""The candidate (backend, precision) entries of a bench, one small factory per backend.

A :class:`Backend` says which precisions it runs and which artifact each uses (``sources``),
why it cannot run here (``unavailable``: None, or the reason with the command that fixes it),
and how to open an entry as a Runner. Everything else in the bench loops over ``BACKENDS`` and never
branches on a backend's name. Entries travel to worker processes as plain dicts (``Entry``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.bench.artifacts import Artifacts
from lnet_edge.engines.flavour import rtx_runs_on
from lnet_edge.lazy import PIP_HINTS
from lnet_edge.runners.base import Runner
from lnet_edge.runners.registry import BACKENDS as REGISTRY
from lnet_edge.runners.registry import missing_module


@dataclass(frozen=True)
class Entry:
    """One row family of the bench: a backend at one precision, and the file it runs."""

    backend: str
    precision: str
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


@dataclass(frozen=True)
class Backend:
    name: str
    device: str
    sources: dict[str, str]  # precision -> the artifact it runs: "checkpoint" or an ONNX precision
    unavailable: Callable[[], str | None]
    open: Callable[[Entry, Settings], tuple[Runner, dict]]  # (runner, facts such as plan size/build seconds)
    compute_only: bool = False  # GPU: also time Runner.compute_only (no host copies)


def _cuda_device() -> tuple[str, str] | None:
    """(name, compute capability) of CUDA device 0, None where none is visible."""
    from lnet_edge.cuda import device_count, device_info

    try:
        return (lambda d: (d.name, d.compute_capability))(device_info(0)) if device_count() else None
    except Exception:  # a broken driver means: no usable device
        return None


# --- PyTorch eager (CPU fp32; CUDA fp32/fp16) -------------------------------------------------


def _torch_open(entry: Entry, s: Settings) -> tuple[Runner, dict]:
    import torch

    from lnet_edge.model.checkpoint import load_model
    from lnet_edge.runners.torch import TorchRunner

    if s.threads and entry.device == "cpu":
        torch.set_num_threads(s.threads)
    model, _ = load_model(Path(entry.artifact))
    return TorchRunner(model, entry.device, entry.precision), {}


def _torch_cuda_unavailable() -> str | None:
    if missing_module("torch"):
        return missing_module("torch")
    import torch

    if not torch.cuda.is_available():
        built = (
            f"built for CUDA {torch.version.cuda}"
            if torch.version.cuda
            else "a CPU-only build: install a CUDA build of torch"
        )
        return f"no CUDA device visible to PyTorch (torch {torch.__version__}, {built})"
    return None


# --- ONNX Runtime (CPU) -----------------------------------------------------------------------


def _ort_open(entry: Entry, s: Settings) -> tuple[Runner, dict]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeRunner

    return OnnxRuntimeRunner(Path(entry.artifact), s.threads, precision=entry.precision), {}


def _ort_cuda_open(entry: Entry, s: Settings) -> tuple[Runner, dict]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeCudaRunner

    return OnnxRuntimeCudaRunner(Path(entry.artifact), cuda_graph=s.cuda_graph, precision=entry.precision), {}


def _torch_compile_open(entry: Entry, s: Settings) -> tuple[Runner, dict]:
    """PyTorch with ``torch.compile`` (Inductor): what a datacenter user picks instead of TensorRT.
    Compilation happens on the first calls of each shape, inside the bench's warm-up."""
    from lnet_edge.model.checkpoint import load_model
    from lnet_edge.runners.torch import TorchRunner

    model, _ = load_model(Path(entry.artifact))
    return TorchRunner(model, entry.device, entry.precision, compile=True), {}


# --- TensorRT and TensorRT-RTX (same runner, same engine cache) ---------------------------------


def _trt_unavailable(module: str) -> Callable[[], str | None]:
    def reason() -> str | None:
        if missing_module(module):
            return missing_module(module)
        dev = _cuda_device()
        if dev is None:
            return f"no CUDA device visible (with cuda-python: {PIP_HINTS['cuda']}): {module} has no runtime here"
        name, cc = dev
        if module == "tensorrt_rtx" and not rtx_runs_on(cc):
            return f"TensorRT-RTX does not run on {name} (compute capability {cc}); use full TensorRT there"
        return None

    return reason


def _trt_open(flavour: str) -> Callable[[Entry, Settings], tuple[Runner, dict]]:
    def open_(entry: Entry, s: Settings) -> tuple[Runner, dict]:
        from lnet_edge.engines.cache import cached_plan
        from lnet_edge.engines.flavour import Flavour
        from lnet_edge.engines.options import BuildOptions, Profile
        from lnet_edge.runners.tensorrt import TensorRTRunner

        b, t = sorted(s.batches), sorted(s.tiles)
        profile = Profile(b[0], b[len(b) // 2], b[-1], t[0], t[len(t) // 2], t[-1])
        t0 = time.perf_counter()
        options = BuildOptions(flavour=Flavour(flavour), profile=profile)
        plan = cached_plan(Path(entry.artifact), options, s.work / "engines")
        build = time.perf_counter() - t0  # includes the cache check; near zero when the plan was cached
        runner = TensorRTRunner(plan, cuda_graph=s.cuda_graph)  # check_plan first: a plan that does not fit says why
        return runner, {"plan": str(plan), "plan_bytes": plan.stat().st_size, "plan_build_seconds": round(build, 2)}

    return open_


CHECKPOINT = "checkpoint"
TRT_SOURCES = {"fp32": "fp32", "fp16": "fp16", "int8": "int8-qdq"}  # plan precision -> the ONNX it is built from

BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("torch", "cpu", {"fp32": CHECKPOINT}, REGISTRY["torch"].unavailable, _torch_open),
        Backend(
            "onnxruntime",
            "cpu",
            {p: p for p in ("fp32", "fp16", "int8-cpu", "int8-qdq")},
            REGISTRY["onnxruntime"].unavailable,
            _ort_open,
        ),
        Backend("tensorrt", "cuda", TRT_SOURCES, _trt_unavailable("tensorrt"), _trt_open("tensorrt"), True),
        Backend(
            "tensorrt-rtx",
            "cuda",
            TRT_SOURCES,
            _trt_unavailable("tensorrt_rtx"),
            _trt_open("tensorrt-rtx"),
            True,
        ),
        Backend(
            "torch-cuda",
            "cuda",
            {"fp32": CHECKPOINT, "fp16": CHECKPOINT},
            _torch_cuda_unavailable,
            _torch_open,
            True,
        ),
        Backend(
            "torch-compile",
            "cuda",
            {"fp32": CHECKPOINT, "fp16": CHECKPOINT},
            _torch_cuda_unavailable,
            _torch_compile_open,
            True,
        ),
        Backend(
            "onnxruntime-cuda",
            "cuda",
            {"fp32": "fp32", "fp16": "fp16"},
            REGISTRY["onnxruntime-cuda"].unavailable,
            _ort_cuda_open,
            True,
        ),
    )
}


def candidates(art: Artifacts, wanted: list[str] | None = None) -> list[Entry]:
    """Every (backend, precision) entry, or those whose backend name or ``backend/precision``
    key is in ``wanted``; an entry that cannot run here carries the reason."""
    out = []
    for backend in BACKENDS.values():
        why = backend.unavailable()
        for precision, source in backend.sources.items():
            if wanted and backend.name not in wanted and f"{backend.name}/{precision}" not in wanted:
                continue
            path = art.checkpoint if source == CHECKPOINT else art.onnx.get(source)
            reason = why or (None if path else art.missing.get(source, f"no {source} ONNX was made"))
            out.append(Entry(backend.name, precision, backend.device, str(path) if path else None, reason))
    return out


def needed_sources(wanted: list[str] | None = None) -> tuple[str, ...]:
    """The ONNX precisions the selected, runnable entries need ("fp32" always: the reference)."""
    out = {"fp32"}
    for backend in BACKENDS.values():
        if backend.unavailable() is None:
            out |= {
                src
                for p, src in backend.sources.items()
                if src != CHECKPOINT and (not wanted or backend.name in wanted or f"{backend.name}/{p}" in wanted)
            }
    return tuple(sorted(out))


def known_keys() -> list[str]:
    return [f"{b.name}/{p}" for b in BACKENDS.values() for p in b.sources]
