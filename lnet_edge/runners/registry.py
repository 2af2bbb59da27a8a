"""The backends lnet-edge runs models on: one entry each, read by everything that opens a model.

An entry gives the backend's name, the model-file suffixes it runs, its device, how to open a
file as a (Runner, ModelConfig), and why it cannot run here (None when it can, else the reason
with the command that fixes it). ``runners.open`` (a file to a Runner), ``field.backend`` (the
``--backend`` choices of ``infer``), ``field.choice`` (the automatic choice for a bundle),
``bench.backends`` and ``doctor`` all read ``BACKENDS``; none of them branches on a name that is
not here. The first entry that lists a suffix is the default for files of that suffix.

Adding a backend is one runner module plus one entry. ONNX Runtime's CUDA provider, for example,
is this entry and ``OnnxRuntimeCudaRunner`` (I/O binding, CUDA graphs):

    BackendSpec("onnxruntime-cuda", (".onnx",), "cuda", _open_onnx_cuda, _onnx_cuda_unavailable)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.lazy import PIP_HINTS
from lnet_edge.runners.base import Runner

Opener = Callable[..., tuple[Runner, ModelConfig]]  # (path, *, threads, device, cuda_graph)


@dataclass(frozen=True)
class BackendSpec:
    name: str
    suffixes: tuple[str, ...]
    device: str  # "cpu" or "cuda"
    open: Opener
    unavailable: Callable[[], str | None]


def missing_module(module: str) -> str | None:
    """None when ``module`` can be imported, else the reason with the pip command that fixes it."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as missing
        found = False
    if not found:
        return f"{module} is not installed: {PIP_HINTS.get(module, f'pip install {module}')}"
    return None


def _onnx_config(path: Path):
    from lnet_edge.export.manifest import config_from_metadata, embedded_metadata, load_onnx_graph

    graph = load_onnx_graph(path)
    meta = embedded_metadata(graph, path)
    if meta is None:
        raise LnetError(f"{path} has no lnet-edge metadata: export it with 'lnet-edge export'")
    return config_from_metadata(meta, path, graph), str(meta.get("precision", "fp32"))


def _open_torch(path: Path, threads: int | None = None, device: str = "cpu", **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.model.checkpoint import load_model
    from lnet_edge.runners.torch import TorchRunner

    model, _ckpt = load_model(path)
    return TorchRunner(model, device), model.config


def _open_onnx(path: Path, threads: int | None = None, **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeRunner

    config, precision = _onnx_config(path)
    return OnnxRuntimeRunner(path, threads, precision=precision), config


def _open_onnx_cuda(path: Path, cuda_graph: bool = False, **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.runners.onnxrt import OnnxRuntimeCudaRunner

    config, precision = _onnx_config(path)
    return OnnxRuntimeCudaRunner(path, cuda_graph=cuda_graph, precision=precision), config


def _onnx_cuda_unavailable() -> str | None:
    if missing_module("onnxruntime"):
        return missing_module("onnxruntime")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "ONNX Runtime has no CUDA execution provider here: pip install onnxruntime-gpu (with a CUDA GPU)"
    from lnet_edge.cuda import device_count

    return None if device_count() else "no CUDA device visible"


def _open_plan(path: Path, cuda_graph: bool = False, **_) -> tuple[Runner, ModelConfig]:
    from lnet_edge.runners.tensorrt import TensorRTRunner

    runner = TensorRTRunner(path, cuda_graph=cuda_graph)  # runs check_plan: manifest vs TensorRT, GPU, platform
    return runner, runner.manifest.config


def _tensorrt_unavailable() -> str | None:
    from lnet_edge.cuda import device_count

    if not any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx")):
        return "no TensorRT is installed: TensorRT from JetPack or NVIDIA's index, or pip install 'lnet-edge[tensorrt-rtx]'"
    return None if device_count() else f"no CUDA device visible (with cuda-python: {PIP_HINTS['cuda']})"


BACKENDS: dict[str, BackendSpec] = {
    b.name: b
    for b in (
        BackendSpec("onnxruntime", (".onnx",), "cpu", _open_onnx, lambda: missing_module("onnxruntime")),
        BackendSpec("onnxruntime-cuda", (".onnx",), "cuda", _open_onnx_cuda, _onnx_cuda_unavailable),
        BackendSpec("tensorrt", (".plan",), "cuda", _open_plan, _tensorrt_unavailable),
        BackendSpec("torch", (".pt",), "cpu", _open_torch, lambda: missing_module("torch")),
    )
}


def for_file(path: Path) -> BackendSpec:
    """The default backend of a model file, by its suffix."""
    suffix = Path(path).suffix.lower()
    for spec in BACKENDS.values():
        if suffix in spec.suffixes:
            return spec
    known = sorted({s for b in BACKENDS.values() for s in b.suffixes})
    raise LnetError(f"model {path}: unknown file type '{suffix}', expected {', '.join(known)} (or a bundle folder)")
