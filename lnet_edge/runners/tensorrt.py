"""TensorRT runner for ``tensorrt`` and ``tensorrt_rtx`` alike (the same Python API names).

Loads a plan only after ``check_plan`` has compared its manifest with this machine, then runs it
with named I/O tensors, dynamic shapes within the plan's profile and ``execute_async_v3`` on a
CUDA stream; device and pinned host memory come from :mod:`lnet_edge.cuda`.
With ``cuda_graph=True``: full TensorRT captures the enqueue of one fixed shape once (after one
plain run) and replays it; TensorRT-RTX uses its own whole-graph capture strategy. TensorRT-RTX
contexts keep a runtime cache beside the plan (``NAME.plan.rtcache``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge import cuda as cm
from lnet_edge.contract import Tensor, check_io
from lnet_edge.engines.check import check_plan
from lnet_edge.engines.flavour import Flavour
from lnet_edge.engines.runtime import deserialize, rtx_context, save_runtime_cache
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME, Runner


class TensorRTRunner(Runner):
    name = "tensorrt"

    def __init__(self, plan: Path, cuda_graph: bool = False) -> None:
        super().__init__()
        self.plan, self.cuda_graph = Path(plan), cuda_graph
        self.manifest = check_plan(self.plan)
        self.precision = self.manifest.precision
        self.name = self.manifest.flavour
        self.max_tile = self.manifest.options.profile.max_tile

    def built(self) -> dict:
        return {"plan": str(self.plan), "plan_bytes": self.plan.stat().st_size}

    def activate_impl(self) -> None:
        self.trt, self.engine, self.runtime = deserialize(self.plan, self.manifest)
        check_io(self.plan, *self._io(), self.manifest.config)  # a plan built before the build checked it
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

    def _io(self) -> tuple[list[Tensor], list[Tensor]]:
        """The plan's inputs and outputs for the model contract (height and width: the profile's)."""
        tensors: dict[bool, list[Tensor]] = {True: [], False: []}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dims = [None if d < 0 else int(d) for d in self.engine.get_tensor_shape(name)]
            shape = tuple(dims[:2] + [None] * (len(dims) - 2)) if len(dims) == 4 else tuple(dims)
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name))).name
            tensors[self.engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT].append(Tensor(name, dtype, shape))
        return tensors[True], tensors[False]

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

    def compute_only(self, batch: np.ndarray):
        """The enqueue alone on a batch already on the device (one ``infer`` sets the shape)."""
        self.infer({INPUT_NAME: batch})

        def call() -> None:
            self._execute()
            self.stream.synchronize()

        return call

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
