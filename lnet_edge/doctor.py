"""What this machine can run, and why not: the facts behind ``lnet-edge doctor``.

The machine (platform, CUDA driver and GPUs, DLA cores, Jetson release, ONNX Runtime providers,
the versions of the packages the registered backends run on) and, for every backend in
runners.registry, its own check: usable, or why not and the fix. Every probe is guarded: a
missing package or driver is a fact to report, never an error.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.runners.registry import BACKENDS, packages

CUDA_BINDINGS = ("cuda-python", "pycuda")  # how lnet-edge reaches the GPU (lnet_edge.cuda)


@dataclass(frozen=True)
class BackendStatus:
    backend: str
    device: str  # "cpu" or "cuda"
    usable: bool
    detail: str  # what runs, or why not
    fix: str = ""  # the pip or apt command that would make it usable


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cuda() -> dict:
    """Driver and runtime versions and GPUs through cuda-python (or pycuda)."""
    from lnet_edge.cuda import cudart, device_count, device_info

    facts: dict = {"driver": None, "runtime": None, "gpus": []}
    rt = cudart()
    if rt is not None:
        for key, call in (("driver", rt.cudaDriverGetVersion), ("runtime", rt.cudaRuntimeGetVersion)):
            try:
                err, v = call()
                if int(err) == 0 and v:
                    facts[key] = f"{v // 1000}.{(v % 1000) // 10}"
            except Exception:  # noqa: BLE001 - no driver library at all
                pass
    for i in range(device_count()):
        d = device_info(i)
        facts["gpus"].append(
            {"index": i, "name": d.name, "compute_capability": d.compute_capability, "memory_mib": d.memory_mib}
        )
    return facts


def _jetson() -> dict | None:
    release = Path("/etc/nv_tegra_release")
    if platform.machine() != "aarch64" or not release.is_file():
        return None
    facts = {"l4t": release.read_text().splitlines()[0].strip("# ").strip(), "power_mode": None}
    try:
        out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=10).stdout
        facts["power_mode"] = " ".join(out.split())[:120] or None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return facts


def _ort_providers() -> list[str]:
    try:
        import onnxruntime

        return list(onnxruntime.get_available_providers())
    except ImportError:
        return []


def _dla_cores() -> int | None:
    """DLA cores seen by full TensorRT (Jetson Xavier/Orin); None where it cannot be asked."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    try:
        import tensorrt as trt

        return int(trt.Builder(trt.Logger(trt.Logger.ERROR)).num_DLA_cores)
    except Exception:  # noqa: BLE001 - no GPU or driver: TensorRT cannot make a builder
        return None


def facts() -> dict:
    """Everything ``doctor`` reports, as plain data (the ``--json`` output)."""
    info = {
        "platform": {"os": platform.system(), "arch": platform.machine(), "python": platform.python_version()},
        "packages": {dist: _version(dist) for dist in (*packages(), *CUDA_BINDINGS)},
        "cuda": _cuda(),
        "dla_cores": _dla_cores(),
        "jetson": _jetson(),
        "onnxruntime_providers": _ort_providers(),
    }
    info["backends"] = [asdict(b) for b in backends()]
    return info


def backends() -> list[BackendStatus]:
    """Usable or not, with the reason and the fix, for every registered backend."""
    out = []
    for spec in BACKENDS.values():
        found = spec.check()
        out.append(BackendStatus(spec.name, spec.device, found.usable, found.detail, found.fix))
    return out
