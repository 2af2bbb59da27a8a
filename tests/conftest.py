"""Shared fixtures and the automatic skip of ``gpu`` tests.

A test marked ``gpu`` runs only where a CUDA device and a TensorRT flavour (tensorrt or
tensorrt_rtx) are both present; everywhere else (CI included) it is skipped with the reason.
``needs_rtx`` (import it from here) skips a test where the tensorrt-rtx package is missing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("LNET_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()
BIJIE = SHARED_DATA / "bijie_atlan_upscaled"
BIJIE_NATIVE = SHARED_DATA / "bijie_native"
CAS = SHARED_DATA / "cas_hokkaido_iburi_atlan512"
SICHUAN = SHARED_DATA / "sichuan_aerial_atlan1024"
L4S = SHARED_DATA / "landslide4sense_samples"
NEGATIVES = SHARED_DATA / "bijie_negatives"


def cuda_device_present() -> bool:
    try:
        from cuda.bindings import runtime as cudart  # type: ignore
    except ImportError:
        try:
            from cuda import cudart  # type: ignore
        except ImportError:
            return False
    err, count = cudart.cudaGetDeviceCount()
    return int(err) == 0 and count > 0


def tensorrt_present() -> bool:
    return any(importlib.util.find_spec(m) is not None for m in ("tensorrt", "tensorrt_rtx"))


def tensorrt_rtx_present() -> bool:
    """TensorRT-RTX builds plans ahead of time without a GPU, so its tests need only the package."""
    return importlib.util.find_spec("tensorrt_rtx") is not None


needs_rtx = pytest.mark.skipif(not tensorrt_rtx_present(), reason="needs tensorrt-rtx (pip install tensorrt-rtx)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if cuda_device_present() and tensorrt_present():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device and TensorRT (tensorrt or tensorrt_rtx)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set LNET_SHARED_DATA)")
    return SHARED_DATA


def link_pairs(src: Path, dst: Path, n: int) -> Path:
    """A data folder ``dst`` holding symlinks to the first ``n`` image/mask pairs of ``src``."""
    for sub in ("images", "masks"):
        (dst / sub).mkdir(parents=True)
        for name in sorted(os.listdir(src / sub))[:n]:
            (dst / sub / name).symlink_to(src / sub / name)
    return dst
