"""An engine cache so ``infer`` and ``bench`` can build a plan on first use.

Plans are keyed by (ONNX sha256, precision, flavour, TensorRT version, compute capability), as
TAO and jetson-inference name theirs; a cached plan is reused only after it passes the same
check as any other plan.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lnet_edge.engines.build import plan_from_onnx
from lnet_edge.engines.check import Installed, check_plan, this_machine
from lnet_edge.engines.onnx_info import read_onnx
from lnet_edge.engines.options import BuildOptions
from lnet_edge.errors import LnetError


def default_cache_dir() -> Path:
    """``$LNET_EDGE_CACHE`` or ``~/.cache/lnet-edge/engines``."""
    root = (
        os.environ.get("LNET_EDGE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lnet-edge"
    )
    return Path(root) / "engines"


def cache_key(onnx_sha256: str, precision: str, installed: Installed) -> str:
    cc = installed.compute_capability or "aot"
    return f"{onnx_sha256[:16]}-{precision}-{installed.flavour.value}-{installed.version}-sm{cc.replace('.', '')}"


def cached_plan(
    onnx_path: Path,
    options: BuildOptions | None = None,
    cache_dir: Path | None = None,
    installed: Installed | None = None,
    progress: Callable | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """The cached plan for ``onnx_path`` on this machine, built first if missing or unfit."""
    options = options or BuildOptions()
    info = read_onnx(onnx_path)
    installed = installed or this_machine(options.flavour)
    precision = options.precision.value if options.precision else info.metadata_precision or info.content_precision
    plan = (
        cache_dir or default_cache_dir()
    ) / f"{Path(onnx_path).stem}-{cache_key(info.sha256, precision, installed)}.plan"
    if plan.is_file():
        try:
            check_plan(plan, installed)
            return plan
        except LnetError as exc:
            if warn:
                warn(f"cached plan {plan} is unusable ({exc}); rebuilding")
    return plan_from_onnx(  # the cache folder is lnet-edge's own: an unusable plan there is replaced
        onnx_path, plan, options.with_(flavour=installed.flavour), progress=progress, warn=warn, overwrite=True
    )
