"""TensorRT runner for ``tensorrt`` and ``tensorrt_rtx`` alike (the same Python API names).

Loads a plan only after ``check_plan`` has compared its manifest with this machine, then runs it
with named I/O tensors, dynamic shapes within the plan's profile and ``execute_async_v3`` on a
CUDA stream; device and pinned host memory come from :mod:`lnet_edge.runners.cuda_memory`.
With ``cuda_graph=True``: full TensorRT captures the enqueue of one fixed shape once (after one
plain run) and replays it; TensorRT-RTX uses its own whole-graph capture strategy. TensorRT-RTX
contexts keep a runtime cache beside the plan (``NAME.plan.rtcache``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.engines.check import check_plan
from lnet_edge.engines.flavour import Flavour, load
from lnet_edge.engines.manifest import Manifest
from lnet_edge.engines.trt_glue import make_logger
from lnet_edge.errors import LnetError
from lnet_edge.runners import cuda_memory as cm
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME, Runner


def make_runtime(trt, manifest: Manifest, logger):
    """An IRuntime for ``manifest``'s plan. A version-compatible plan built without
    EXCLUDE_LEAN_RUNTIME embeds the lean runtime, host code that TensorRT loads only when
    ``engine_host_code_allowed`` is set (TensorRT's version-compatibility guide)."""
    runtime = trt.Runtime(logger)
    if manifest.options.version_compatible:
        runtime.engine_host_code_allowed = True
    return runtime


def deserialize(plan: Path, manifest: Manifest):
    """(trt module, ICudaEngine, IRuntime) for a plan that passed ``check_plan`` (keep the runtime alive)."""
    trt, _ = load(manifest.flavour)
    logger = make_logger(trt)
    runtime = make_runtime(trt, manifest, logger)
    data = Path(plan).read_bytes()
    if hasattr(runtime, "get_engine_validity"):  # TensorRT-RTX asks the plan's header first
        validity, diagnostics = runtime.get_engine_validity(data[: int(runtime.engine_header_size)])
        if validity == trt.EngineValidity.INVALID:
            why = [
                d
                for d in trt.EngineInvalidityDiagnostics.__members__
                if int(diagnostics) & int(getattr(trt.EngineInvalidityDiagnostics, d))
            ]
            raise LnetError(
                f"{manifest.flavour} {trt.__version__} rejects {plan}: {', '.join(why) or logger.summary()}"
            )
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise LnetError(f"{manifest.flavour} {trt.__version__} cannot load {plan}: {logger.summary()}")
    return trt, engine, runtime


def runtime_cache_path(plan: Path) -> Path:
    """Where a TensorRT-RTX plan's runtime cache (its JIT-compiled kernels) is kept: beside it."""
    return Path(plan).with_name(Path(plan).name + ".rtcache")


def rtx_context(trt, engine, plan: Path, cuda_graph: bool):
    """A TensorRT-RTX execution context made through an IRuntimeConfig: the runtime cache loaded
    from beside the plan (kernels are not JIT-compiled again at every start) and, with
    ``cuda_graph``, RTX's own whole-graph capture (manual stream capture would need user-managed
    allocation and ``is_stream_capturable``). Returns (context, runtime config, cache)."""
    config = engine.create_runtime_config()
    cache = config.create_runtime_cache()
    path = runtime_cache_path(plan)
    if path.is_file():
        cache.deserialize(path.read_bytes())  # False on a mismatch (other GPU/driver): then it starts empty
    config.set_runtime_cache(cache)
    if cuda_graph:
        config.cuda_graph_strategy = trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE
    return engine.create_execution_context(config), config, cache


def save_runtime_cache(cache, plan: Path) -> None:
    """Write the runtime cache beside the plan (temporary name, then rename); best effort."""
    import os

    path = runtime_cache_path(plan)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(memoryview(cache.serialize()))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


class TensorRTRunner(Runner):
    name = "tensorrt"

    def __init__(self, plan: Path, cuda_graph: bool = False) -> None:
        super().__init__()
        self.plan, self.cuda_graph = Path(plan), cuda_graph
        self.manifest = check_plan(self.plan)
        self.precision = self.manifest.precision
        self.name = self.manifest.flavour

    def activate_impl(self) -> None:
        self.trt, self.engine, self.runtime = deserialize(self.plan, self.manifest)
        self.rtx = self.manifest.flavour == Flavour.tensorrt_rtx.value
        self.runtime_config = self.runtime_cache = None
        if self.rtx:
            self.context, self.runtime_config, self.runtime_cache = rtx_context(
                self.trt, self.engine, self.plan, self.cuda_graph
            )
        else:
            self.context = self.engine.create_execution_context()
        if self.context is None:
            raise LnetError(f"cannot create an execution context for {self.plan} (out of GPU memory?)")
        self.stream = cm.Stream()
        self.graph, self.graph_shape = None, None
        self.buffers: dict[str, tuple[cm.DeviceBuffer, cm.PinnedArray]] = {}
        profile = self.manifest.options.profile
        max_shape = (profile.max_batch, self.manifest.config.in_channels, profile.max_tile, profile.max_tile)
        for i in range(self.engine.num_io_tensors):  # allocate once, for the largest shape allowed
            name = self.engine.get_tensor_name(i)
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name)))
            shape = max_shape if name == INPUT_NAME else (max_shape[0], 1, max_shape[2], max_shape[3])
            host = cm.PinnedArray((int(np.prod(shape)),), dtype)
            self.buffers[name] = (cm.DeviceBuffer(host.array.nbytes), host)
            self.context.set_tensor_address(name, self.buffers[name][0].ptr)

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = feed[INPUT_NAME]
        profile = self.manifest.options.profile
        if x.ndim != 4 or not profile.contains(x.shape):
            raise LnetError(
                f"input shape {tuple(x.shape)} is outside the plan's profile ({profile.describe()}): "
                f"rebuild with a wider --batch/--tile or feed smaller batches"
            )
        device_in, host_in = self.buffers[INPUT_NAME]
        staged = host_in.array[: x.size].reshape(x.shape)
        staged[...] = x  # converts to the engine's input type
        if not self.context.set_input_shape(INPUT_NAME, tuple(x.shape)):
            raise LnetError(f"TensorRT refused input shape {tuple(x.shape)} for {self.plan}")
        out_shape = tuple(self.context.get_tensor_shape(OUTPUT_NAME))
        device_out, host_out = self.buffers[OUTPUT_NAME]
        result = host_out.array[: int(np.prod(out_shape))].reshape(out_shape)
        device_in.upload(staged, self.stream)
        self._enqueue(tuple(x.shape))
        device_out.download(result, self.stream)
        self.stream.synchronize()
        return {OUTPUT_NAME: result.astype(np.float32, copy=True)}

    def _enqueue(self, shape: tuple[int, ...]) -> None:
        if not self.cuda_graph or self.rtx:  # RTX captures its own graphs (rtx_context)
            return self._execute()
        if self.graph_shape != shape:  # a graph replays one fixed shape: recapture on change
            if self.graph is not None:
                self.graph.close()
            self._execute()  # one plain run first: TensorRT finishes lazy setup outside capture
            self.graph, self.graph_shape = cm.Graph(self.stream, self._execute), shape
        self.graph.launch(self.stream)

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream.handle):
            raise LnetError(f"TensorRT failed to enqueue {self.plan}")

    def deactivate_impl(self) -> None:
        if self.runtime_cache is not None:
            save_runtime_cache(self.runtime_cache, self.plan)
        if self.graph is not None:
            self.graph.close()
        for device, host in self.buffers.values():
            device.close()
            host.close()
        self.stream.close()
        self.buffers, self.context, self.engine, self.runtime, self.graph = {}, None, None, None, None
        self.runtime_config = self.runtime_cache = None
