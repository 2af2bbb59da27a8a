"""The ``cuda`` skip for tests that need only a CUDA device (no TensorRT), e.g. cuda_memory."""

from __future__ import annotations

import pytest


def _cuda_devices() -> int:
    from lnet_edge.cuda import device_count

    return device_count()


requires_cuda = pytest.mark.skipif(_cuda_devices() == 0, reason="needs a CUDA device and cuda-python")


@pytest.fixture()
def cuda_device():
    if _cuda_devices() == 0:
        pytest.skip("needs a CUDA device and cuda-python")
    from lnet_edge.cuda import device_info

    return device_info(0)
