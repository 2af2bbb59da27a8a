"""Small adapters to TensorRT's callback interfaces (logger, progress monitor, calibrator).

The classes are made per call because they must subclass the interfaces of whichever TensorRT
module (``tensorrt`` or ``tensorrt_rtx``) is in use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lnet_edge.errors import LnetError


def make_logger(trt, verbose: bool = False):
    """A TensorRT logger that keeps errors and warnings so a failure can quote them."""

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.messages: list[str] = []

        def log(self, severity, msg: str) -> None:
            if severity <= trt.ILogger.Severity.WARNING or verbose:
                self.messages.append(f"[{severity.name}] {msg}")

        def summary(self) -> str:
            errors = [m for m in self.messages if "ERROR" in m.split("]")[0]]
            return " | ".join((errors or self.messages)[-3:])[:800] or "no message from TensorRT"

    return Logger()


def progress_monitor(trt, report: Callable[[str, str, int, int], None]):
    """An IProgressMonitor forwarding (event, phase, step, steps) to ``report``."""

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.steps: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase, num_steps: int) -> None:
            self.steps[phase_name] = num_steps
            report("start", phase_name, 0, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            report("step", phase_name, step + 1, self.steps.get(phase_name, 0))
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            report("finish", phase_name, self.steps.get(phase_name, 0), self.steps.get(phase_name, 0))

    return Monitor()


def cache_calibrator(trt, cache: Path | None):
    """An INT8 calibrator that only replays a calibration cache (TensorRT < 10.12 flag path), of
    the calibrator class the cache's header names, after checking that the header's version tag
    is the installed TensorRT's (TensorRT would otherwise recalibrate without data, or fail)."""
    from lnet_edge.cache_header import CALIBRATORS, parse_header, version_tag

    if cache is None or not Path(cache).is_file():
        raise LnetError(f"calibration cache {cache} does not exist: make it with 'lnet-edge calibrate'")
    blob = Path(cache).read_bytes()
    tag, algorithm = parse_header(blob.split(b"\n", 1)[0].decode(errors="replace"), Path(cache))
    if tag != version_tag(trt.__version__):
        raise LnetError(
            f"calibration cache {cache} is tagged for TensorRT {tag}, this TensorRT is {trt.__version__} "
            f"({version_tag(trt.__version__)}): remake it with 'lnet-edge calibrate ... --trt-version {trt.__version__}'"
        )
    base = getattr(trt, CALIBRATORS[algorithm])

    class CacheCalibrator(base):
        def __init__(self) -> None:
            base.__init__(self)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names):
            return None  # no data: the cache holds every scale

        def read_calibration_cache(self):
            return blob

        def write_calibration_cache(self, data) -> None:
            pass

    return CacheCalibrator()
