"""Facts about this machine: CPU, GPU, driver, library versions, Jetson power mode.

The bench report states them all; the automatic backend choice and the CPU int8 checks read the
CPU's (:func:`cpu_facts`), so they live here, below both.

Every fact is best effort: a missing tool or file gives ``None``, never an error, because the
same code runs on a 2-core CI box, a datacenter GPU and a Jetson.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

# CPU flags that decide which kernels ONNX Runtime and PyTorch use (int8 VNNI, bf16, AMX ...).
CPU_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
)
PACKAGES = ("onnxruntime", "onnxruntime-gpu", "torch", "tensorrt", "tensorrt-rtx", "numpy", "lnet-edge")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def _run(cmd: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def cpu_facts() -> dict:
    """CPU model, logical cores, usable cores (affinity) and the flags in CPU_FLAGS it has."""
    info = _read("/proc/cpuinfo") or ""
    model = re.search(r"^(model name|Model|Hardware)\s*:\s*(.+)$", info, re.M)
    flags_line = re.search(r"^(flags|Features)\s*:\s*(.+)$", info, re.M)
    flags = set(flags_line.group(2).split()) if flags_line else set()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "model": model.group(2).strip() if model else (platform.processor() or None),
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "flags": [f for f in CPU_FLAGS if f in flags],
        "memory_mib": _mem_total_mib(),
    }


def _mem_total_mib() -> int | None:
    m = re.search(r"MemTotal:\s+(\d+) kB", _read("/proc/meminfo") or "")
    return int(m.group(1)) // 1024 if m else None


def gpu_facts() -> dict | None:
    """GPU 0 name, compute capability, memory and driver (None where no CUDA device is visible)."""
    from lnet_edge.cuda import cudart, device_count, device_info

    try:
        if not device_count():
            return None
        dev = device_info(0)
    except Exception:  # a broken driver is a fact about the machine, not a bench failure
        return None
    driver = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    rt = cudart()
    cuda_driver = None
    if rt is not None:
        err, version = rt.cudaDriverGetVersion()
        cuda_driver = f"{version // 1000}.{version % 1000 // 10}" if int(err) == 0 else None
    return {
        "name": dev.name,
        "compute_capability": dev.compute_capability,
        "memory_mib": dev.memory_mib,
        "driver": driver.splitlines()[0] if driver else None,
        "cuda_driver_api": cuda_driver,
    }


def jetson_facts() -> dict | None:
    """Jetson release, power mode (nvpmodel -q) and current CPU/GPU clocks; None off Jetson."""
    release = _read("/etc/nv_tegra_release")
    if release is None:
        return None
    gpu_freq = next((_read(str(p)) for p in Path("/sys/devices").glob("**/devfreq/*gpu*/cur_freq")), None)
    return {
        "release": release.splitlines()[0],
        "power_mode": _run(["nvpmodel", "-q"]),
        "cpu0_khz": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"),
        "gpu_hz": gpu_freq,
        "tegrastats": shutil.which("tegrastats") is not None,
    }


def versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def machine_facts() -> dict:
    """Everything the report states about the machine (load average included: a shared machine
    slows every backend, and the reader must know)."""
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "cpu": cpu_facts(),
        "gpu": gpu_facts(),
        "jetson": jetson_facts(),
        "versions": versions(),
        "load_average": list(os.getloadavg()),
    }


def machine_tag(facts: dict) -> str:
    """A file-name-safe machine name: the GPU's when there is one, else arch-cores-ISA."""
    if facts.get("gpu"):
        name = facts["gpu"]["name"].lower().replace("nvidia", "")
    else:
        cpu = facts["cpu"]
        best = ("amx_int8", "avx512_vnni", "avx512f", "avx2", "asimddp", "asimd")
        isa = next((f for f in best if f in cpu["flags"]), "")
        name = f"{cpu['arch']}-{cpu['usable_cores']}core-{isa.replace('_', '')}".rstrip("-")
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")
