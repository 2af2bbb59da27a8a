"""ONNX Runtime runner (CPU by default): the embedded backend of lnet-edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.errors import LnetError
from lnet_edge.runners.base import OUTPUT_NAME, Runner


def ort_session(model, threads: int | None = None, providers: tuple[str, ...] = ("CPUExecutionProvider",)):
    """The one place an ONNX Runtime session is made (runner, export parity, fp16 check,
    calibration gate): all graph optimisations, ``threads`` intra-op threads (None: ORT's
    default, every core), ``model`` a path or serialised bytes."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
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
