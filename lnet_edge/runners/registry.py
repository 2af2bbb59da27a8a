"""The backends lnet-edge runs models on: one entry each, the one table every consumer reads.

Adding a backend takes one runner module (``runners/NAME.py``, a :class:`Runner`) and one
:class:`BackendSpec` in ``BACKENDS``; no other file needs to name it. From that entry
``infer --backend`` accepts the name (field/backend.py), the automatic choice for a bundle tries
the usable entries by ``priority`` over their ``roles`` (field/choice.py), ``bench`` times every
(role, precision) an entry runs (bench/backends.py), ``doctor`` reports its ``check``
(doctor.py) and ``open_model`` opens a file by its suffix (runners/open.py; the first entry that
lists a suffix is the default for files of that suffix). bundle.json's ``backends`` field
(artifacts.Role) is a record for people, read by no choice.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lnet_edge.artifacts import Precision, Role
from lnet_edge.config import ModelConfig
from lnet_edge.engines.flavour import Flavour, is_jetson, runs_on
from lnet_edge.errors import LnetError
from lnet_edge.lazy import PIP_HINTS
from lnet_edge.runners.base import Runner

# (path, *, threads, cuda_graph, precision, device, profile, engines, say) -> (runner, config); each
# opener takes the keywords it needs and ignores the others
Opener = Callable[..., tuple[Runner, ModelConfig]]


@dataclass(frozen=True)
class Availability:
    """Whether a backend runs here: what runs, or why not and the command that fixes it."""

    usable: bool
    detail: str
    fix: str = ""

    @property
    def reason(self) -> str | None:
        """None when usable, else why not and the fix, in one line."""
        if self.usable:
            return None
        return f"{self.detail}: {self.fix}" if self.fix else self.detail


@dataclass(frozen=True)
class BackendSpec:
    """One backend, as the choice, the bench, the doctor and the CLI need it."""

    name: str
    device: str  # "cpu" or "cuda"
    suffixes: tuple[str, ...]  # the model files it opens as given (.onnx, .plan, .pt)
    roles: tuple[Role, ...]  # the artifacts it runs, best first; those after fp32 only when asked
    check: Callable[[], Availability]
    open: Opener
    priority: int | None = None  # the automatic choice tries usable entries lowest first; None: never
    why: str = ""  # the automatic choice's reason for taking it
    precisions: tuple[Precision, ...] = ()  # a checkpoint's run precisions (default: each role's own)
    packages: tuple[str, ...] = ()  # the distributions it runs on (their versions: doctor, bench)
    compute_only: bool = False  # bench: also time Runner.compute_only (input already on the device)

    def unavailable(self) -> str | None:
        """None when it runs here, else the reason with the command that fixes it."""
        return self.check().reason

    def runs(self) -> list[tuple[Role, Precision]]:
        """Every (artifact, precision) it runs, best first."""
        return [(r, p) for r in self.roles for p in (self.precisions or (r.precision,))]


def missing_module(module: str) -> str | None:
    """None when ``module`` can be imported, else the reason with the pip command that fixes it."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        found = False
    if not found:
        return f"{module} is not installed: {PIP_HINTS.get(module, f'pip install {module}')}"
    return None


def _needs(module: str, fix: str | None = None) -> Availability | None:
    if missing_module(module) is None:
        return None
    return Availability(False, f"{module} is not installed", fix or PIP_HINTS.get(module, f"pip install {module}"))


def _version(*dists: str) -> str:
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def _gpu():
    """CUDA device 0 (the one lnet-edge runs on) as a cuda.Device, or the Availability saying why none."""
    from lnet_edge.cuda import cudart, device_count, device_info

    if cudart() is None and missing_module("pycuda"):
        return Availability(False, "no CUDA device can be seen: neither cuda-python nor pycuda is installed",
                            PIP_HINTS["cuda"])  # fmt: skip
    try:
        if device_count():
            return device_info(0)
    except Exception:  # a broken driver (CudaError, pycuda's own errors) means: no usable device
        pass
    return Availability(False, "no CUDA device visible")


# --- ONNX Runtime --------------------------------------------------------------------------


def _onnx_config(path: Path) -> tuple[ModelConfig, str]:
    """The configuration and precision of an lnet-edge ONNX model, its graph checked against the
    model contract; read from the wire format (onnx_wire), without the onnx package's 0.65 s import."""
    from lnet_edge.contract import check_io
    from lnet_edge.onnx_meta import config_from_metadata, metadata_from_props, read_wire

    model = read_wire(path)
    meta = metadata_from_props(model.metadata, path)
    if meta is None:
        raise LnetError(f"{path} has no lnet-edge metadata: export it with 'lnet-edge export'")
    config = config_from_metadata(meta, path)
    check_io(path, *model.io(), config)
    return config, str(meta.get("precision", "fp32"))


def _open_onnx(path: Path, threads: int | None = None, **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeRunner

    config, precision = _onnx_config(path)
    return OnnxRuntimeRunner(path, threads, precision=precision), config


def _open_onnx_cuda(path: Path, cuda_graph: bool = False, **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeCudaRunner

    config, precision = _onnx_config(path)
    return OnnxRuntimeCudaRunner(path, cuda_graph=cuda_graph, precision=precision), config


def _onnxruntime() -> Availability:
    return _needs("onnxruntime") or Availability(True, f"ONNX Runtime {_version('onnxruntime', 'onnxruntime-gpu')}")


def _onnxruntime_cuda() -> Availability:
    missing = _needs("onnxruntime", "pip install onnxruntime-gpu")
    if missing:
        return missing
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        fix = "the onnxruntime-gpu wheel for your JetPack" if is_jetson() else "pip install onnxruntime-gpu"
        return Availability(False, "ONNX Runtime has no CUDA execution provider here", f"{fix} (with a CUDA GPU)")
    gpu = _gpu()
    return gpu if isinstance(gpu, Availability) else Availability(True, f"CUDA execution provider on {gpu.name}")


# --- TensorRT and TensorRT-RTX (one runner, one engine cache) --------------------------------


def _tensorrt(flavour: Flavour) -> Callable[[], Availability]:
    """The one answer to "can this TensorRT flavour run plans here": installed, a CUDA GPU
    visible, and the GPU one the flavour's runtime runs on (engines.flavour.runs_on)."""

    def check() -> Availability:
        jetpack = flavour is Flavour.tensorrt and is_jetson()
        missing = _needs(flavour.module_name, "sudo apt install python3-libnvinfer" if jetpack else None)
        if missing:
            return missing
        gpu = _gpu()
        if isinstance(gpu, Availability):
            no_gpu = f"{flavour.value} is installed but cannot run plans here: {gpu.detail}"
            return Availability(False, no_gpu, gpu.fix)
        on = f"{gpu.name} (compute capability {gpu.compute_capability})"
        if not runs_on(flavour, gpu.compute_capability):
            return Availability(False, f"{flavour.value} builds plans here (no GPU needed) but its runtime does not "
                                f"run on {on}", "use full TensorRT on this GPU (--backend tensorrt)")  # fmt: skip
        return Availability(True, f"{flavour.value} {_version(flavour.value, flavour.module_name)} on {on}")

    return check


def _open_plan(flavour: Flavour) -> Opener:
    """Opens a plan, or an ONNX model through the engine cache (its plan built on first use)."""

    def open_(path: Path, cuda_graph: bool = False, **options) -> tuple[Runner, ModelConfig]:
        from lnet_edge.runners.tensorrt import TensorRTRunner

        path = Path(path)
        if path.suffix.lower() == ".onnx":
            path = _cached_plan(path, flavour, **options)
        runner = TensorRTRunner(path, cuda_graph=cuda_graph)  # runs check_plan: manifest vs TensorRT, GPU, platform
        return runner, runner.manifest.config

    return open_


def _cached_plan(onnx: Path, flavour: Flavour, precision=None, profile=None, engines=None, say=None, **_) -> Path:
    """The engine cache's plan of ``onnx`` for this machine (``profile`` and folder ``engines``
    default to the cache's), built first when missing; ``say`` hears how long it took."""
    import time

    from lnet_edge.engines.cache import cached_plan
    from lnet_edge.engines.options import BuildOptions

    t0 = time.perf_counter()
    options = BuildOptions(precision=precision, flavour=flavour, **({"profile": profile} if profile else {}))
    plan = cached_plan(onnx, options, engines, warn=say)
    if say:
        say(f"TensorRT plan {plan} ready in {time.perf_counter() - t0:.1f} s (built once, then cached)")
    return plan


# --- PyTorch -------------------------------------------------------------------------------


def _open_torch(default_device: str, compile: bool = False) -> Opener:
    def open_(path: Path, threads: int | None = None, precision=None, device: str | None = None, **_):
        import torch

        from lnet_edge.model.checkpoint import load_model
        from lnet_edge.runners.torch import TorchRunner

        device = device or default_device
        if threads and device == "cpu":
            torch.set_num_threads(threads)
        model, _ckpt = load_model(Path(path))
        return TorchRunner(model, device, str(precision or Precision.fp32), compile=compile), model.config

    return open_


def _torch() -> Availability:
    return _needs("torch") or Availability(True, f"torch {_version('torch')} on the CPU")


def _torch_cuda() -> Availability:
    missing = _needs("torch")
    if missing:
        return missing
    import torch

    if torch.cuda.is_available():
        return Availability(True, f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    fix = "" if torch.version.cuda else "install a CUDA build of torch"
    return Availability(False, f"no CUDA device visible to PyTorch (torch {torch.__version__}, {built})", fix)


# --- the registry --------------------------------------------------------------------------

_TRT = (Role.int8_qdq, Role.fp16, Role.fp32)
_TORCH_CUDA = {"precisions": (Precision.fp32, Precision.fp16), "packages": ("torch",), "compute_only": True}

# In the order of the bench's rows and doctor's lines: the PyTorch reference first. The first
# entry that lists a suffix opens files of that suffix by default.
BACKENDS: dict[str, BackendSpec] = {
    b.name: b
    for b in (
        BackendSpec("torch", "cpu", (".pt",), (Role.checkpoint,), _torch, _open_torch("cpu"), packages=("torch",)),
        BackendSpec("onnxruntime", "cpu", (".onnx",), (Role.int8_cpu, Role.fp32, Role.fp16, Role.int8_qdq),
                    _onnxruntime, _open_onnx, priority=40, why="no GPU backend here",
                    packages=("onnxruntime",)),
        BackendSpec("tensorrt", "cuda", (".plan",), _TRT, _tensorrt(Flavour.tensorrt),
                    _open_plan(Flavour.tensorrt), priority=10, why="a TensorRT runtime and a CUDA GPU are here",
                    packages=("tensorrt", "cuda-python"), compute_only=True),
        BackendSpec("tensorrt-rtx", "cuda", (".plan",), _TRT,
                    _tensorrt(Flavour.tensorrt_rtx),
                    _open_plan(Flavour.tensorrt_rtx), priority=20,
                    why="a TensorRT-RTX runtime and a GPU it runs on are here (no full TensorRT)",
                    packages=("tensorrt-rtx", "cuda-python"), compute_only=True),
        BackendSpec("torch-cuda", "cuda", (".pt",), (Role.checkpoint,), _torch_cuda, _open_torch("cuda"),
                    **_TORCH_CUDA),
        BackendSpec("torch-compile", "cuda", (".pt",), (Role.checkpoint,), _torch_cuda,
                    _open_torch("cuda", compile=True), **_TORCH_CUDA),
        BackendSpec("onnxruntime-cuda", "cuda", (".onnx",), (Role.fp16, Role.fp32), _onnxruntime_cuda,
                    _open_onnx_cuda, priority=30, why="ONNX Runtime's CUDA provider is here (no TensorRT)",
                    packages=("onnxruntime-gpu",), compute_only=True),
    )
}  # fmt: skip


def backend_named(name: str) -> BackendSpec:
    """The registered backend ``name``; any other name is refused with the registered ones."""
    spec = BACKENDS.get(str(name))
    if spec is None:
        raise LnetError(f"backend '{name}' is not registered: choose one of {', '.join(BACKENDS)}")
    return spec


def automatic() -> list[BackendSpec]:
    """The entries the automatic choice may take, in the order it tries them."""
    return sorted((s for s in BACKENDS.values() if s.priority is not None), key=lambda s: s.priority)


def packages() -> tuple[str, ...]:
    """The distributions the registered backends run on, each once."""
    return tuple(dict.fromkeys(p for s in BACKENDS.values() for p in s.packages))


def for_file(path: Path) -> BackendSpec:
    """The default backend of a model file, by its suffix."""
    suffix = Path(path).suffix.lower()
    for spec in BACKENDS.values():
        if suffix in spec.suffixes:
            return spec
    known = sorted({s for b in BACKENDS.values() for s in b.suffixes})
    raise LnetError(f"model {path}: unknown file type '{suffix}', expected {', '.join(known)} (or a bundle folder)")
