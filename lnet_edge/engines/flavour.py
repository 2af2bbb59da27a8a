"""The two TensorRT flavours behind one import: ``tensorrt`` and ``tensorrt_rtx``.

Both Python modules expose the same names (Builder, OnnxParser, Runtime, BuilderFlag ...), so the
rest of lnet-edge imports the module through :func:`load` and never branches on the flavour
except where the two really differ (what :class:`Capabilities` records).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from enum import Enum
from types import ModuleType

from lnet_edge.errors import LnetError
from lnet_edge.lazy import lazy_import


class Flavour(str, Enum):
    tensorrt = "tensorrt"
    tensorrt_rtx = "tensorrt-rtx"

    @property
    def module_name(self) -> str:
        return self.value.replace("-", "_")


# TensorRT 10.12 deprecated the FP16/INT8 builder flags; from there on lnet-edge builds strongly
# typed networks whose precision comes from the ONNX (fp16 types, Q/DQ nodes).
STRONGLY_TYPED_FROM = (10, 12)


def installed_flavours() -> list[Flavour]:
    """The flavours whose Python module can be found, full TensorRT first."""
    return [f for f in Flavour if importlib.util.find_spec(f.module_name) is not None]


def resolve(flavour: Flavour | str | None) -> Flavour:
    """The flavour asked for, or whichever is installed (full TensorRT preferred)."""
    if flavour is not None:
        return Flavour(flavour)
    found = installed_flavours()
    if not found:
        raise LnetError(
            "no TensorRT is installed: pip install 'lnet-edge[tensorrt-rtx]' (RTX/Ampere cards, builds "
            "without a GPU) or install TensorRT from JetPack / NVIDIA's index (pip install 'lnet-edge[tensorrt]')"
        )
    return found[0]


def load(flavour: Flavour | str | None = None) -> tuple[ModuleType, Flavour]:
    """Import the TensorRT module of ``flavour`` (or the installed one)."""
    flav = resolve(flavour)
    return lazy_import(flav.module_name), flav


# The GPUs each flavour's runtime runs on, by compute capability: the one rule lnet-edge has.
# TensorRT-RTX: its support matrix (releases 1.0 to 1.5) lists 7.5 (Turing), 8.6 (Ampere), 8.9
# (Ada) and 12.0 (Blackwell), 1.5 adds 12.1 (GB10); its ahead-of-time page says a default build
# runs on "compute capability 8.0, 8.6, 8.9, 12.0, and later", so 8.0 counts and so does any
# capability above 12.1. Others (8.7 Orin, 9.0 Hopper, 10.x, 11.0) are not RTX GPUs: an H100
# refuses RTX plans at deserialisation. Full TensorRT: any CUDA GPU (its builder refuses one the
# installed release does not support, with its own message).
RTX_RUNS_ON = ((7, 5), (8, 0), (8, 6), (8, 9), (12, 0), (12, 1))
# What a TensorRT-RTX ahead-of-time build targets when no --target is given (its default set;
# 7.5 only when asked: Turing code is slower for the others).
RTX_DEFAULT_TARGETS = ("8.0", "8.6", "8.9", "12.0", "12.1")


def runs_on(flavour: Flavour | str, compute_capability: str) -> bool:
    """Whether ``flavour``'s runtime runs on a GPU of this compute capability ("8.6")."""
    if Flavour(flavour) is Flavour.tensorrt:
        return True
    cc = version_tuple(compute_capability)[:2]
    return cc in RTX_RUNS_ON or cc > RTX_RUNS_ON[-1]


def version_tuple(version: str) -> tuple[int, ...]:
    """'10.3.0.26' -> (10, 3, 0, 26); non-numeric parts are dropped."""
    out = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


@dataclass(frozen=True)
class Capabilities:
    """What the installed TensorRT can do, read from the module rather than assumed."""

    flavour: Flavour
    version: str
    strongly_typed: bool  # build precision from the ONNX types instead of builder flags
    precision_flags: bool  # BuilderFlag.FP16/INT8 and the calibrator exist
    progress_monitor: bool
    hardware_compatibility: bool
    version_compatible: bool
    timing_cache: bool
    target_compute_capabilities: bool  # RTX ahead-of-time targets
    dla: bool  # the builder sees at least one DLA core (Jetson)
    hardware_compat_levels: tuple[str, ...] = ()  # HardwareCompatibilityLevel members this TensorRT has
    jetson: bool = False  # hardware compatibility is not supported on Jetson (TensorRT docs)


def capabilities(trt: ModuleType, flavour: Flavour, dla_cores: int = 0) -> Capabilities:
    rtx = flavour is Flavour.tensorrt_rtx
    version = trt.__version__
    flags = getattr(trt, "BuilderFlag", None)

    def has_flag(name: str) -> bool:
        return flags is not None and hasattr(flags, name)

    return Capabilities(
        flavour=flavour,
        version=version,
        strongly_typed=rtx or version_tuple(version)[:2] >= STRONGLY_TYPED_FROM,
        precision_flags=not rtx and has_flag("FP16") and has_flag("INT8"),
        progress_monitor=hasattr(trt, "IProgressMonitor"),
        # TensorRT-RTX exposes these names but ignores the level (it warns "unsupported") and
        # cannot build version-compatible plans (no lean runtime): measured with RTX 1.7.
        hardware_compatibility=not rtx and hasattr(trt, "HardwareCompatibilityLevel"),
        version_compatible=not rtx and has_flag("VERSION_COMPATIBLE"),
        timing_cache=not rtx and hasattr(trt, "ITimingCache"),  # RTX: "no-ops in TensorRT-RTX"
        target_compute_capabilities=rtx and hasattr(trt, "ComputeCapability"),
        dla=dla_cores > 0,
        hardware_compat_levels=tuple(getattr(getattr(trt, "HardwareCompatibilityLevel", None), "__members__", {}))
        if not rtx
        else (),
        jetson=is_jetson(),
    )


def is_jetson() -> bool:
    """An NVIDIA Jetson (L4T): aarch64 with /etc/nv_tegra_release."""
    import platform
    from pathlib import Path

    return platform.machine() == "aarch64" and Path("/etc/nv_tegra_release").is_file()
