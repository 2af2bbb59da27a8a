"""What this machine can run, and why not: the facts behind ``lnet-edge doctor``.

Every probe is guarded: a missing package or driver is a fact to report, never an error.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.engines.flavour import rtx_runs_on


@dataclass(frozen=True)
class BackendStatus:
    backend: str
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


def _torch() -> dict | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return {"version": torch.__version__, "cuda": bool(torch.cuda.is_available())}


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
    cuda = _cuda()
    jetson = _jetson()
    trt, rtx = _version("tensorrt"), _version("tensorrt-rtx") or _version("tensorrt_rtx")
    info = {
        "platform": {"os": platform.system(), "arch": platform.machine(), "python": platform.python_version()},
        "tensorrt": trt,
        "tensorrt_rtx": rtx,
        "cuda": cuda,
        "dla_cores": _dla_cores(),
        "jetson": jetson,
        "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
        "onnxruntime_providers": _ort_providers(),
        "torch": _torch(),
        "cuda_python": _version("cuda-python"),
        "pycuda": _version("pycuda"),
    }
    info["backends"] = [asdict(b) for b in backends(info)]
    return info


def backends(info: dict) -> list[BackendStatus]:
    """Usable or not, with the reason and the fix, for every backend lnet-edge has."""
    gpus = info["cuda"]["gpus"]
    ccs = [g["compute_capability"] for g in gpus]
    jetson = info["jetson"] is not None
    cuda_binding = info["cuda_python"] or info["pycuda"]
    out = [
        BackendStatus(
            "onnxruntime (CPU)",
            "CPUExecutionProvider" in info["onnxruntime_providers"],
            "the embedded default" if info["onnxruntime"] else "onnxruntime is not installed",
            "" if info["onnxruntime"] else "pip install onnxruntime",
        ),  # fmt: skip
    ]
    ort_cuda = "CUDAExecutionProvider" in info["onnxruntime_providers"]
    out.append(
        BackendStatus(
            "onnxruntime (CUDA)",
            ort_cuda and bool(gpus),
            "CUDA execution provider on " + ", ".join(g["name"] for g in gpus)
            if ort_cuda and gpus
            else ("no CUDA GPU visible" if ort_cuda else "onnxruntime has no CUDA execution provider"),
            ""
            if ort_cuda
            else ("Jetson: the onnxruntime-gpu wheel for your JetPack" if jetson else "pip install onnxruntime-gpu"),
        )
    )
    torch = info["torch"]
    out.append(
        BackendStatus(
            "torch",
            torch is not None,
            (f"{torch['version']}, " + ("CUDA" if torch["cuda"] else "CPU only"))
            if torch
            else "torch is not installed",
            "" if torch else "pip install torch==2.13.0 (CPU) or your CUDA build, then pip install -e '.[train]'",
        )
    )
    if info["tensorrt"] is None:
        trt = BackendStatus("tensorrt", False, "TensorRT is not installed",
                            "JetPack: sudo apt install python3-libnvinfer; datacenter: NVIDIA's index or an NGC "
                            "container, then pip install -e '.[tensorrt]'")  # fmt: skip
    elif not gpus:
        trt = BackendStatus("tensorrt", False, f"TensorRT {info['tensorrt']} is installed but no CUDA GPU is visible",
                            "" if cuda_binding else "pip install 'cuda-python>=12.6,<13'")  # fmt: skip
    elif not cuda_binding:
        trt = BackendStatus("tensorrt", False, "neither cuda-python nor pycuda is installed",
                            "pip install 'cuda-python>=12.6,<13'")  # fmt: skip
    else:
        trt = BackendStatus("tensorrt", True, f"TensorRT {info['tensorrt']} on {', '.join(ccs)}")
    out.append(trt)
    if info["tensorrt_rtx"] is None:
        rtx = BackendStatus("tensorrt-rtx", False, "TensorRT-RTX is not installed", "pip install -e '.[tensorrt-rtx]'")
    else:
        runnable = [cc for cc in ccs if rtx_runs_on(cc)]
        if runnable and cuda_binding:
            rtx = BackendStatus(
                "tensorrt-rtx", True, f"TensorRT-RTX {info['tensorrt_rtx']}: builds and runs on {', '.join(runnable)}"
            )
        else:
            why = (
                f"the GPU's compute capability {', '.join(ccs)} is not one the RTX runtime runs on (7.5 and later, not 9.0)"
                if gpus
                else "no CUDA GPU visible"
            )
            rtx = BackendStatus("tensorrt-rtx", False, f"TensorRT-RTX {info['tensorrt_rtx']} builds plans here (no GPU "
                                f"needed) but cannot run them: {why}",
                                "" if gpus else "run plans on an RTX or Ampere GPU")  # fmt: skip
    out.append(rtx)
    return out
