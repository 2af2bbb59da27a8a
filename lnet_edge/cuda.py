"""Device and pinned host memory, streams and CUDA graphs through cuda-python (``cuda.bindings``).

The TensorRT runner needs only these few CUDA calls; every one is checked and a failure becomes
a :class:`CudaError` naming the call and CUDA's own error name and text. Where cuda-python is
missing and pycuda is present, pycuda provides buffers and streams (no graph capture).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from lnet_edge.errors import LnetError


class CudaError(LnetError):
    """A CUDA call failed (no device, driver too old, out of memory ...)."""


def cudart():
    """The cuda-python runtime module (12.x/13.x layout first, the older ``cuda.cudart`` second)."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # type: ignore[no-redef]
        except ImportError:
            return None
    return runtime


def _pycuda():
    try:
        import pycuda.autoinit  # noqa: F401  (creates the context pycuda works in)
        import pycuda.driver as drv
    except ImportError:
        raise LnetError("CUDA memory needs cuda-python: pip install cuda-python (or pycuda)") from None
    return drv


def check(result, call: str = "CUDA call"):
    """Unpack a cuda-python ``(err, *values)`` tuple, raising CudaError when err is not success."""
    rt = cudart()
    err, values = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
    if int(err) != 0:
        name = text = str(err)
        if rt is not None:
            name = rt.cudaGetErrorName(err)[1].decode()
            text = rt.cudaGetErrorString(err)[1].decode()
        raise CudaError(f"{call} failed: {name} ({text})")
    return values[0] if len(values) == 1 else (values or None)


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    compute_capability: str  # "8.6"
    memory_mib: int


def device_count() -> int:
    """CUDA devices visible (0 where there is no driver or no device), through cuda-python, or
    pycuda where cuda-python is missing, or 0 where neither is installed."""
    rt = cudart()
    if rt is not None:
        err, count = rt.cudaGetDeviceCount()
        return count if int(err) == 0 else 0
    drv = _pycuda_driver()
    if drv is None:
        return 0
    try:
        drv.init()
        return int(drv.Device.count())
    except Exception:  # noqa: BLE001 - pycuda raises its own LogicError/RuntimeError without a driver
        return 0


def _pycuda_driver():
    """pycuda's driver module without creating a context (None where pycuda is missing)."""
    try:
        import pycuda.driver as drv
    except ImportError:
        return None
    return drv


def device_info(index: int = 0) -> Device:
    """Name and compute capability of CUDA device ``index``."""
    rt = cudart()
    if rt is None:
        drv = _pycuda()
        dev = drv.Device(index)
        major, minor = dev.compute_capability()
        return Device(index, dev.name(), f"{major}.{minor}", dev.total_memory() // 2**20)
    prop = check(rt.cudaGetDeviceProperties(index), f"cudaGetDeviceProperties({index})")
    name = prop.name.split(b"\0")[0].decode() if isinstance(prop.name, bytes) else str(prop.name)
    return Device(index, name, f"{prop.major}.{prop.minor}", prop.totalGlobalMem // 2**20)


class Stream:
    """A CUDA stream; ``handle`` is the integer TensorRT's execute_async_v3 takes."""

    def __init__(self) -> None:
        rt = cudart()
        self._rt = rt
        if rt is None:
            self._stream = _pycuda().Stream()
            self.handle = self._stream.handle
        else:
            self._stream = check(rt.cudaStreamCreate(), "cudaStreamCreate")
            self.handle = int(self._stream)

    def synchronize(self) -> None:
        if self._rt is None:
            self._stream.synchronize()
        else:
            check(self._rt.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def close(self) -> None:
        if self._rt is not None and self._stream is not None:
            check(self._rt.cudaStreamDestroy(self._stream), "cudaStreamDestroy")
        self._stream = None


class PinnedArray:
    """A page-locked host array (fast, truly asynchronous copies); ``array`` is a NumPy view."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)
        self._rt = cudart()
        if self._rt is None:
            self.array = _pycuda().pagelocked_empty(shape, dtype)
            self.ptr = self.array.ctypes.data
        else:
            self.ptr = check(self._rt.cudaMallocHost(nbytes), f"cudaMallocHost({nbytes})")
            raw = (ctypes.c_byte * nbytes).from_address(int(self.ptr))
            self.array = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def close(self) -> None:
        if self._rt is not None and self.ptr:
            self.array = None
            check(self._rt.cudaFreeHost(self.ptr), "cudaFreeHost")
        self.ptr = 0


class DeviceBuffer:
    """``nbytes`` of device memory; ``ptr`` is the integer address TensorRT takes."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = max(int(nbytes), 1)
        self._rt = cudart()
        if self._rt is None:
            self._mem = _pycuda().mem_alloc(self.nbytes)
            self.ptr = int(self._mem)
        else:
            self.ptr = int(check(self._rt.cudaMalloc(self.nbytes), f"cudaMalloc({self.nbytes} bytes)"))

    def upload(self, host: np.ndarray, stream: Stream) -> None:
        """Copy ``host`` (pinned for a truly asynchronous copy) to the start of this buffer."""
        self._fits(host.nbytes)
        if self._rt is None:
            _pycuda().memcpy_htod_async(self.ptr, host, stream._stream)
            return
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        check(
            self._rt.cudaMemcpyAsync(self.ptr, host.ctypes.data, host.nbytes, kind, stream._stream),
            "cudaMemcpyAsync H2D",
        )

    def download(self, host: np.ndarray, stream: Stream) -> None:
        """Copy the first ``host.nbytes`` of this buffer into ``host``."""
        self._fits(host.nbytes)
        if self._rt is None:
            _pycuda().memcpy_dtoh_async(host, self.ptr, stream._stream)
            return
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        check(
            self._rt.cudaMemcpyAsync(host.ctypes.data, self.ptr, host.nbytes, kind, stream._stream),
            "cudaMemcpyAsync D2H",
        )

    def copy_from(self, other: DeviceBuffer, nbytes: int, stream: Stream) -> None:
        self._fits(nbytes)
        kind = _require_rt().cudaMemcpyKind.cudaMemcpyDeviceToDevice
        check(self._rt.cudaMemcpyAsync(self.ptr, other.ptr, nbytes, kind, stream._stream), "cudaMemcpyAsync D2D")

    def _fits(self, nbytes: int) -> None:
        if nbytes > self.nbytes:
            raise ValueError(f"copy of {nbytes} bytes into a device buffer of {self.nbytes}")

    def close(self) -> None:
        if self.ptr:
            if self._rt is None:
                self._mem.free()
            else:
                check(self._rt.cudaFree(self.ptr), "cudaFree")
        self.ptr = 0


def _require_rt():
    rt = cudart()
    if rt is None:
        raise LnetError("this needs cuda-python (pip install cuda-python); pycuda is not enough here")
    return rt


class Graph:
    """Work captured from a stream once and replayed with one launch (cuda-python only)."""

    def __init__(self, stream: Stream, enqueue) -> None:
        """Capture what ``enqueue()`` puts on ``stream`` (nothing runs during capture)."""
        rt = _require_rt()
        self._rt = rt
        mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(rt.cudaStreamBeginCapture(stream._stream, mode), "cudaStreamBeginCapture")
        try:
            enqueue()
        finally:
            self._graph = check(rt.cudaStreamEndCapture(stream._stream), "cudaStreamEndCapture")
        self._exec = check(rt.cudaGraphInstantiate(self._graph, 0), "cudaGraphInstantiate")

    def launch(self, stream: Stream) -> None:
        check(self._rt.cudaGraphLaunch(self._exec, stream._stream), "cudaGraphLaunch")

    def close(self) -> None:
        if self._exec is not None:
            check(self._rt.cudaGraphExecDestroy(self._exec), "cudaGraphExecDestroy")
            check(self._rt.cudaGraphDestroy(self._graph), "cudaGraphDestroy")
        self._exec = self._graph = None
