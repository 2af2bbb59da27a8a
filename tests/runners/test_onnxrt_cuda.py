"""ONNX Runtime's CUDA provider runner, as far as a machine without a GPU takes it: the real
onnxruntime refuses the CUDA provider here, and the runner says so instead of running on the
CPU under a GPU's name. On a CUDA machine with onnxruntime-gpu, the gpu test runs the shipped
model both ways and compares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lnet_edge.errors import LnetError
from lnet_edge.runners.onnxrt import OnnxRuntimeCudaRunner, OnnxRuntimeRunner
from lnet_edge.runners.registry import BACKENDS

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"


def _no_cuda_provider() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" not in onnxruntime.get_available_providers()


@pytest.mark.skipif(not _no_cuda_provider(), reason="this onnxruntime has a CUDA provider")
def test_without_the_cuda_provider_the_runner_refuses_instead_of_falling_back_to_the_cpu() -> None:
    runner = OnnxRuntimeCudaRunner(MODEL)
    with pytest.raises(LnetError, match=r"could not start its CUDA provider.*pip install onnxruntime-gpu"):
        runner.activate()
    assert not runner.is_active
    reason = BACKENDS["onnxruntime-cuda"].unavailable()
    assert reason and "pip install onnxruntime-gpu" in reason


def test_the_cuda_runner_is_the_registered_backend_and_takes_cuda_graphs() -> None:
    runner, config = BACKENDS["onnxruntime-cuda"].open(MODEL, cuda_graph=True)
    assert isinstance(runner, OnnxRuntimeCudaRunner) and runner.name == "onnxruntime-cuda" and runner.cuda_graph
    (provider, options), cpu = runner.providers
    assert provider == "CUDAExecutionProvider" and options["enable_cuda_graph"] == "1" and cpu == "CPUExecutionProvider"
    assert config.tile == 256


@pytest.mark.skipif(_no_cuda_provider(), reason="needs onnxruntime-gpu and a CUDA device")
@pytest.mark.parametrize("cuda_graph", [False, True])
def test_cuda_logits_match_the_cpu_runner(cuda_graph: bool) -> None:
    x = np.random.default_rng(0).standard_normal((4, 3, 256, 256)).astype(np.float32)
    with OnnxRuntimeRunner(MODEL) as cpu, OnnxRuntimeCudaRunner(MODEL, cuda_graph=cuda_graph) as gpu:
        want = cpu.logits(x)
        for n in (4, 3):  # with a CUDA graph, a smaller batch is padded to the captured one
            np.testing.assert_allclose(gpu.logits(x[:n]), want[:n], atol=2e-3)
