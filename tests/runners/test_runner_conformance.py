"""Every Runner (PyTorch, ONNX Runtime, TensorRT) through the same checks on the default model.

The TensorRT instance carries the ``gpu`` marker: it runs only where a CUDA device and a
TensorRT flavour are present (conftest.py skips it elsewhere, CI included).
"""

from __future__ import annotations

import numpy as np
import pytest

from lnet_edge.defaults import DEFAULT_CHECKPOINT, DEFAULT_ONNX
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME, Runner

# Max |logit difference| allowed against PyTorch fp32 (TensorRT may use TF32 convolutions).
TOLERANCE = {"torch": 1e-5, "onnxruntime": 1e-3, "tensorrt": 5e-2}


@pytest.fixture(scope="module")
def torch_model():
    from lnet_edge.model.checkpoint import load_model

    return load_model(DEFAULT_CHECKPOINT)[0]


def make_runner(kind: str, torch_model, cache_dir) -> Runner:
    if kind == "torch":
        from lnet_edge.model.checkpoint import load_model
        from lnet_edge.runners.torch import TorchRunner

        return TorchRunner(load_model(DEFAULT_CHECKPOINT)[0])  # its own copy: not the reference object
    if kind == "onnxruntime":
        from lnet_edge.runners.onnxrt import OnnxRuntimeRunner

        return OnnxRuntimeRunner(DEFAULT_ONNX, threads=1)
    from lnet_edge.engines.cache import cached_plan
    from lnet_edge.engines.options import BuildOptions, Profile
    from lnet_edge.runners.tensorrt import TensorRTRunner

    try:
        plan = cached_plan(DEFAULT_ONNX, BuildOptions(profile=Profile(1, 2, 4, 128, 256, 256)), cache_dir)
        return TensorRTRunner(plan, cuda_graph=False)
    except LnetError as exc:
        if "does not run on" in str(exc):  # e.g. TensorRT-RTX on an H100: refused by design
            pytest.skip(str(exc))
        raise


@pytest.fixture(scope="module", params=["torch", "onnxruntime", pytest.param("tensorrt", marks=pytest.mark.gpu)])
def runner(request, torch_model, tmp_path_factory):
    r = make_runner(request.param, torch_model, tmp_path_factory.mktemp("engines"))
    yield request.param, r
    r.deactivate()


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 3, 128, 128)).astype(np.float32)


def test_use_before_activate_is_refused(runner):
    _, r = runner
    r.deactivate()
    with pytest.raises(RuntimeError, match="before activate"):
        r.infer({INPUT_NAME: np.zeros((1, 3, 128, 128), np.float32)})


@pytest.mark.parametrize("shape", [(1, 3, 128, 128), (2, 3, 128, 128), (1, 3, 256, 256)])
def test_named_output_shape_and_type(runner, shape):
    _, r = runner
    r.activate()
    out = r.infer({INPUT_NAME: np.zeros(shape, np.float32)})
    assert list(out) == [OUTPUT_NAME]
    assert out[OUTPUT_NAME].shape == (shape[0], 1, shape[2], shape[3]) and out[OUTPUT_NAME].dtype == np.float32
    assert np.isfinite(out[OUTPUT_NAME]).all()


def test_agrees_with_pytorch_and_is_deterministic(runner, torch_model, batch):
    import torch

    kind, r = runner
    r.activate()
    with torch.inference_mode():
        reference = torch_model(torch.from_numpy(batch)).numpy()
    first, second = r.logits(batch), r.logits(batch)
    assert np.abs(first - reference).max() <= TOLERANCE[kind] + 1e-6
    np.testing.assert_allclose(first, second, atol=1e-5)


def test_batch_items_are_independent(runner, batch):
    _, r = runner
    r.activate()
    together = r.logits(batch)
    alone = np.concatenate([r.logits(batch[i : i + 1]) for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, atol=1e-3)


def test_context_manager_deactivates(runner, batch):
    _, r = runner
    r.deactivate()
    with r as active:
        assert active.is_active and active.logits(batch[:1]).shape == (1, 1, 128, 128)
    assert not r.is_active
