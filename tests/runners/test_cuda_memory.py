"""cuda-python buffers, streams and graphs: needs only a CUDA device (any compute capability), no TensorRT."""

from __future__ import annotations

import numpy as np
import pytest

from lnet_edge import cuda as cm


def test_check_reports_the_cuda_error_by_name():
    rt = cm.cudart()
    if rt is None:
        pytest.skip("cuda-python is not installed")
    assert cm.check((rt.cudaError_t.cudaSuccess, 7)) == 7
    with pytest.raises(
        cm.CudaError, match=r"cudaMalloc\(1 bytes\) failed: cudaErrorMemoryAllocation \(out of memory\)"
    ):
        cm.check((rt.cudaError_t.cudaErrorMemoryAllocation, None), "cudaMalloc(1 bytes)")


def test_device_info(cuda_device):
    major, minor = map(int, cuda_device.compute_capability.split("."))
    assert major >= 5 and minor >= 0 and cuda_device.name and cuda_device.memory_mib > 0


def test_round_trip_through_device_memory(cuda_device):
    stream = cm.Stream()
    src = cm.PinnedArray((3, 257), np.float32)
    dst = cm.PinnedArray((3, 257), np.float32)
    src.array[...] = np.arange(src.array.size, dtype=np.float32).reshape(3, 257)
    a, b = cm.DeviceBuffer(src.array.nbytes), cm.DeviceBuffer(src.array.nbytes)
    try:
        a.upload(src.array, stream)
        b.copy_from(a, src.array.nbytes, stream)
        b.download(dst.array, stream)
        stream.synchronize()
        np.testing.assert_array_equal(dst.array, src.array)
        with pytest.raises(ValueError, match="device buffer"):
            a.upload(np.zeros(10_000, np.float32), stream)
    finally:
        for x in (a, b, src, dst, stream):
            x.close()


def test_graph_replays_captured_copies(cuda_device):
    stream = cm.Stream()
    host_in, host_out = cm.PinnedArray((1024,), np.float16), cm.PinnedArray((1024,), np.float16)
    a, b = cm.DeviceBuffer(2048), cm.DeviceBuffer(2048)
    graph = cm.Graph(stream, lambda: b.copy_from(a, 2048, stream))  # nothing runs while capturing
    try:
        for value in (1.5, -2.0):
            host_in.array[...] = value
            a.upload(host_in.array, stream)
            graph.launch(stream)
            b.download(host_out.array, stream)
            stream.synchronize()
            assert (host_out.array == value).all()
    finally:
        graph.close()
        for x in (a, b, host_in, host_out, stream):
            x.close()


def test_out_of_memory_is_a_clear_error(cuda_device):
    with pytest.raises(cm.CudaError, match="cudaMalloc.*failed"):
        cm.DeviceBuffer(1 << 50)  # 1 PiB
