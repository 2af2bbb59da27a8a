"""PyTorch runner (CPU or CUDA, fp32 or fp16 on CUDA): eager, or compiled with ``torch.compile``."""

from __future__ import annotations

import numpy as np

from lnet_edge.lazy import lazy_import
from lnet_edge.runners.base import INPUT_NAME, OUTPUT_NAME, Runner


class TorchRunner(Runner):
    name = "torch"

    def __init__(self, model, device: str = "cpu", precision: str = "fp32", compile: bool = False) -> None:
        super().__init__()
        self.model, self.device, self.precision, self.compile = model, device, precision, compile
        self.torch = lazy_import("torch")
        if compile:
            self.name = "torch-compile"

    def activate_impl(self) -> None:
        dtype = self.torch.float16 if self.precision == "fp16" else self.torch.float32
        self.model = self.model.to(self.device, dtype=dtype).eval()
        if self.compile:  # Inductor; each new input shape compiles once, on its first call
            self.model = self.torch.compile(self.model)
        self.dtype = dtype

    def compute_only(self, batch: np.ndarray):
        """The forward pass on a batch already on the device, synchronised."""
        torch = self.torch
        dev = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device, dtype=self.dtype)

        def call() -> None:
            with torch.inference_mode():
                self.model(dev)
            if self.device != "cpu":
                torch.cuda.synchronize()

        return call

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(feed[INPUT_NAME]).to(self.device, dtype=self.dtype)
            y = self.model(x).float()
            if self.device != "cpu":
                torch.cuda.synchronize()
            return {OUTPUT_NAME: y.cpu().numpy()}
