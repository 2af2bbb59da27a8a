"""ONNX Runtime runner (CPU by default): the embedded backend of lnet-edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.errors import LnetError
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME, Runner


def ort_session(
    model,
    threads: int | None = None,
    providers: tuple[str, ...] = ("CPUExecutionProvider",),
    simulate_qdq: bool = False,
):
    """The one place an ONNX Runtime session is made (runner, export parity, fp16 check,
    calibration gate): all graph optimisations, ``threads`` intra-op threads (None: ORT's
    default, every core), ``model`` a path or serialised bytes. ``simulate_qdq``: run a QDQ
    model's quantize/dequantize pairs around float operators instead of fusing them into int8
    kernels, whose arithmetic depends on the CPU (see calibration/gate.py)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if simulate_qdq:
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
    if threads:
        opts.intra_op_num_threads = threads
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, opts, providers=list(providers))


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"

    def __init__(
        self,
        path: Path,
        threads: int | None = None,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        self.path, self.threads, self.providers, self.precision = Path(path), threads, providers, precision
        self.session = None

    def activate_impl(self) -> None:
        try:
            self.session = ort_session(self.path, self.threads, self.providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise LnetError(f"ONNX Runtime cannot load {self.path}: {str(exc)[:300]}") from exc

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs = self.session.run(None, feed)
        names = [o.name for o in self.session.get_outputs()]
        result = dict(zip(names, outs))
        return {OUTPUT_NAME: result.get(OUTPUT_NAME, outs[0]).astype(np.float32, copy=False)}

    def deactivate_impl(self) -> None:
        self.session = None


class OnnxRuntimeCudaRunner(OnnxRuntimeRunner):
    """ONNX Runtime's CUDA execution provider (the ``onnxruntime-gpu`` wheel) with I/O binding:
    the input is copied to the device once per call and the output fetched once, and the runner
    refuses to start when ONNX Runtime would quietly fall back to the CPU.

    ``cuda_graph``: ONNX Runtime captures the first call as a CUDA graph and replays it, which
    needs one shape and fixed device buffers: every batch is padded to the first call's batch
    size, a larger one is an error, and input and output live in device OrtValues updated in place.
    """

    name = "onnxruntime-cuda"

    def __init__(self, path: Path, device_id: int = 0, cuda_graph: bool = False, precision: str = "fp32") -> None:
        provider = (
            "CUDAExecutionProvider",
            {"device_id": str(device_id), "enable_cuda_graph": "1" if cuda_graph else "0"},
        )
        super().__init__(path, None, (provider, "CPUExecutionProvider"), precision)
        self.device_id, self.cuda_graph = device_id, cuda_graph
        self._fixed = None  # cuda_graph: (input OrtValue, output OrtValue, binding, captured shape)

    def activate_impl(self) -> None:
        import warnings

        with warnings.catch_warnings():  # ORT warns, then falls back to the CPU: refused just below
            warnings.simplefilter("ignore", UserWarning)
            super().activate_impl()
        active = self.session.get_providers()
        if "CUDAExecutionProvider" not in active:
            self.session = None
            raise LnetError(
                f"ONNX Runtime could not start its CUDA provider for {self.path} (providers: {', '.join(active)}): "
                "install onnxruntime-gpu matching this machine's CUDA and cuDNN (pip install onnxruntime-gpu), "
                "or use --backend onnxruntime"
            )

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(feed[INPUT_NAME], dtype=np.float32)
        if self.cuda_graph:
            return {OUTPUT_NAME: self._replay(x)}
        binding = self.session.io_binding()
        binding.bind_cpu_input(INPUT_NAME, x)
        binding.bind_output(OUTPUT_NAME, "cuda", self.device_id)
        self.session.run_with_iobinding(binding)
        return {OUTPUT_NAME: binding.copy_outputs_to_cpu()[0].astype(np.float32, copy=False)}

    def _replay(self, x: np.ndarray) -> np.ndarray:
        import onnxruntime as ort

        n = len(x)
        if self._fixed is None:
            shape = x.shape
            x_dev = ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32, "cuda", self.device_id)
            y_dev = ort.OrtValue.ortvalue_from_shape_and_type(
                (shape[0], 1, *shape[2:]), np.float32, "cuda", self.device_id
            )
            binding = self.session.io_binding()
            binding.bind_ortvalue_input(INPUT_NAME, x_dev)
            binding.bind_ortvalue_output(OUTPUT_NAME, y_dev)
            self._fixed = (x_dev, y_dev, binding, shape)
        x_dev, y_dev, binding, shape = self._fixed
        if n > shape[0] or x.shape[1:] != shape[1:]:
            raise LnetError(
                f"--cuda-graph replays one input shape {list(shape)}; got {list(x.shape)}: "
                "run without --cuda-graph, or with one batch size and tile"
            )
        if n < shape[0]:  # padded to the captured batch; the extra rows' logits are dropped
            x = np.concatenate([x, np.zeros((shape[0] - n, *shape[1:]), np.float32)])
        x_dev.update_inplace(x)
        self.session.run_with_iobinding(binding)
        return y_dev.numpy()[:n]

    def compute_only(self, batch: np.ndarray):
        """The graph on a batch already on the device, output left there (bench)."""
        import onnxruntime as ort

        x_dev = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch, dtype=np.float32), "cuda", self.device_id)
        binding = self.session.io_binding()
        binding.bind_ortvalue_input(INPUT_NAME, x_dev)
        binding.bind_output(OUTPUT_NAME, "cuda", self.device_id)

        def call() -> None:
            self.session.run_with_iobinding(binding)
            binding.synchronize_outputs()

        return call

    def deactivate_impl(self) -> None:
        self._fixed = None
        super().deactivate_impl()
