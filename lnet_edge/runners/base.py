"""The Runner interface every backend implements.

A runner is activated (model loaded, memory allocated), fed named float32 NCHW arrays, and
deactivated. It knows nothing about tiles, scenes or thresholds: those live in pure functions.
Every lnet-edge model has one input ``image`` (N,C,H,W float32) and one output ``logits``
(N,1,H,W float32).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from lnet_edge.contract import INPUT_NAME, OUTPUT_NAME  # the model contract (contract.py)


class Runner(ABC):
    """activate() / infer(feed) -> outputs / deactivate(), usable as a context manager."""

    name: str = "runner"
    precision: str = "fp32"
    max_tile: int | None = None  # the largest tile side the runner accepts (a TensorRT plan's profile); None: any

    def __init__(self) -> None:
        self.is_active = False

    @abstractmethod
    def activate_impl(self) -> None: ...

    @abstractmethod
    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The outputs as fresh arrays the caller owns: the field run reads them in another
        thread while the next call runs, and turns logits into probabilities in place."""

    def deactivate_impl(self) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Release what activate_impl took (optional)."""

    def activate(self) -> Runner:
        if not self.is_active:
            self.activate_impl()
            self.is_active = True
        return self

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.is_active:
            raise RuntimeError(f"{self.name} runner used before activate()")
        return self.infer_impl(feed)

    def deactivate(self) -> None:
        if self.is_active:
            self.deactivate_impl()
            self.is_active = False

    def compute_only(self, batch: np.ndarray) -> Callable[[], None]:
        """A call that times the computation alone on ``batch`` (no host-device copies where the
        backend can avoid them); the default runs the whole ``infer``. For benchmarks."""
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
        return lambda: self.infer(feed)

    def built(self) -> dict:
        """What opening this runner made besides loading it (a TensorRT plan: its path and size),
        for the bench; {} for most."""
        return {}

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Convenience: (N,C,H,W) float32 in, (N,1,H,W) float32 logits out."""
        return self.infer({INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})[OUTPUT_NAME]

    def __enter__(self) -> Runner:
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()
