"""The check before loading: does this plan fit the installed TensorRT and the current GPU?

Compares the manifest with what is installed (and, for TensorRT-RTX, asks the runtime's
documented ``get_engine_validity`` about the plan's header; full TensorRT documents no header
check, so the manifest alone speaks there), and turns every mismatch into one error that names both sides and gives the exact
``lnet-edge build`` command that makes a fitting plan. TensorRT's own messages for the same
problems ("Version tag does not match", "incompatible device") come too late and say too little.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from lnet_edge.engines.flavour import Flavour, installed_flavours, runs_on, version_tuple
from lnet_edge.engines.manifest import Manifest, read_manifest
from lnet_edge.errors import LnetError
from lnet_edge.files import sha256_file

# First four bytes of a serialised plan as seen on TensorRT 10 ("ftrt") and TensorRT-RTX 1.7
# ("vtrt") plans. Not documented by NVIDIA: used only to name a flavour mismatch, never to refuse.
MAGIC = {b"ftrt": Flavour.tensorrt, b"vtrt": Flavour.tensorrt_rtx}
HEADER_BYTES = 4


@dataclass(frozen=True)
class Installed:
    """The runtime side of the check: one TensorRT flavour and version, the GPU (if any) and the
    platform (OS and CPU architecture)."""

    flavour: Flavour
    version: str
    gpu_name: str | None
    compute_capability: str | None  # "8.6"
    platform: dict | None = None  # {"os": ..., "arch": ...}; None: not known


def header_flavour(data: bytes) -> Flavour | None:
    """The flavour the plan's first bytes suggest, or None when the layout is unknown."""
    return MAGIC.get(bytes(data[:4]))


def rtx_validity(plan: Path, trt=None) -> tuple[str, list[str]]:
    """TensorRT-RTX's own verdict on a plan's header (``Runtime.engine_header_size`` and
    ``get_engine_validity``, documented since RTX 1.1): ("valid" | "suboptimal" | "invalid" |
    "unknown", the diagnostic names). "unknown" where tensorrt_rtx is not installed."""
    if trt is None:
        if Flavour.tensorrt_rtx not in installed_flavours():
            return "unknown", []
        import tensorrt_rtx as trt
    from lnet_edge.engines.runtime import header_validity
    from lnet_edge.engines.trt_glue import make_logger

    runtime = trt.Runtime(make_logger(trt))
    with open(plan, "rb") as f:
        return header_validity(trt, runtime, f.read(int(runtime.engine_header_size)))


def check_plan(plan: Path, installed: Installed | None = None, verify_hash: bool = True) -> Manifest:
    """Return the plan's manifest if the plan fits ``installed`` (default: this machine), else raise."""
    plan = Path(plan)
    if not plan.is_file():
        raise LnetError(f"plan {plan} does not exist: build it with 'lnet-edge build MODEL.onnx --out {plan}'")
    manifest = read_manifest(plan)
    size = plan.stat().st_size
    with open(plan, "rb") as f:
        head = f.read(HEADER_BYTES)
    fix = f"rebuild it: {rebuild_command(manifest, plan)}"
    if size != manifest.plan_bytes:
        raise LnetError(
            f"{plan} is truncated or replaced: the file has {size} bytes, its manifest says {manifest.plan_bytes}; {fix}"
        )
    if verify_hash and sha256_file(plan) != manifest.plan_sha256:
        raise LnetError(f"{plan} changed after its manifest was written (sha256 differs): {fix}")
    seen = header_flavour(head)
    if seen is not None and seen.value != manifest.flavour:
        raise LnetError(f"{plan} is a {seen.value} plan but its manifest says {manifest.flavour}: {fix}")
    if manifest.flavour == Flavour.tensorrt_rtx.value and installed is None:
        validity, why = rtx_validity(plan)
        if "MALFORMED_ENGINE" in why or "VERSION_MISMATCH" in why:
            raise LnetError(f"TensorRT-RTX rejects the header of {plan} ({', '.join(why)}): {fix}")
    problems = mismatches(manifest, installed or this_machine(Flavour(manifest.flavour)), plan)
    if problems:
        raise LnetError(f"{plan} does not fit this machine: {'; '.join(problems)}")
    return manifest


def mismatches(m: Manifest, here: Installed, plan: Path | None = None) -> list[str]:
    """Every way plan ``m`` does not fit ``here``, each naming both sides and the rebuild command."""
    built = f"{m.flavour} {m.trt_version}"
    if here.flavour.value != m.flavour:
        fix = rebuild_command(m, plan, flavour=here.flavour)
        return [f"it was built by {built}, this machine has {here.flavour.value} {here.version}; rebuild with {fix}"]
    problems = []
    if (
        m.platform
        and here.platform
        and (m.platform.get("os"), m.platform.get("arch"))
        != (
            here.platform.get("os"),
            here.platform.get("arch"),
        )
    ):
        built_on = f"{m.platform.get('os')}/{m.platform.get('arch')}"
        here_on = f"{here.platform.get('os')}/{here.platform.get('arch')}"
        return [
            f"it was built on {built_on}, this machine is {here_on}; plans do not cross platforms: "
            f"rebuild it here with {rebuild_command(m, plan)}"
        ]
    vc = m.options.version_compatible
    # A plan that is not version-compatible needs the very TensorRT that built it, all four parts
    # (major.minor.patch.build); a version-compatible one a runtime of the same major, not older.
    want, have = version_tuple(m.trt_version)[: 3 if vc else 4], version_tuple(here.version)[: 3 if vc else 4]
    if (want[0] != have[0] or have < want) if vc else want != have:
        problems.append(
            f"it was built by {built}{' (version-compatible)' if vc else ''}, this machine has "
            f"{here.flavour.value} {here.version}; rebuild with {rebuild_command(m, plan)}"
        )
    if here.compute_capability is None:
        problems.append(
            f"no CUDA GPU is visible here; the plan needs compute capability {' or '.join(m.targets) or '?'}"
        )
    elif not _cc_fits(m, here.compute_capability):
        problems.append(_cc_message(m, here, plan))
    return problems


def _cc_fits(m: Manifest, cc: str) -> bool:
    level = m.options.hardware_compat.value
    if level == "ampere-plus":
        return version_tuple(cc) >= (8, 0)
    return cc in m.targets


def _cc_message(m: Manifest, here: Installed, plan: Path | None) -> str:
    gpu = f"{here.gpu_name} (compute capability {here.compute_capability})"
    if m.flavour == Flavour.tensorrt_rtx.value:
        if not runs_on(Flavour.tensorrt_rtx, here.compute_capability):
            return (
                f"TensorRT-RTX does not run on {gpu} at all; build with full TensorRT instead: "
                f"{rebuild_command(m, plan, flavour=Flavour.tensorrt)}"
            )
        return (
            f"it was built for compute capability {', '.join(m.targets)}, this GPU is {gpu}; rebuild with "
            f"{rebuild_command(m, plan, target=here.compute_capability)}"
        )
    on = m.build_gpu or {}
    return (
        f"it was built on {on.get('name', '?')} (compute capability {on.get('compute_capability', '?')}), "
        f"this GPU is {gpu}; rebuild on this machine with {rebuild_command(m, plan)}"
    )


def rebuild_command(
    m: Manifest, plan: Path | str | None = None, flavour: Flavour | None = None, target: str | None = None
) -> str:
    """The ``lnet-edge build`` command that remakes ``m``'s plan with the same options here."""
    o, p = m.options, m.options.profile
    flavour = flavour or Flavour(m.flavour)
    args = [
        "lnet-edge",
        "build",
        m.source_onnx,
        "--out",
        str(plan or "engines/" + Path(m.source_onnx).stem + ".plan"),
        "--precision",
        m.precision,
        "--flavour",
        flavour.value,
        "--batch",
        f"{p.min_batch},{p.opt_batch},{p.max_batch}",
        "--tile",
        f"{p.min_tile},{p.opt_tile},{p.max_tile}",
    ]
    if o.calibration_cache:
        args += ["--calibration-cache", str(o.calibration_cache)]
    if o.workspace_mib:
        args += ["--workspace", str(o.workspace_mib)]
    if o.opt_level is not None:
        args += ["--opt-level", str(o.opt_level)]
    if flavour is Flavour.tensorrt and o.hardware_compat.value != "none":
        args += ["--hardware-compat", o.hardware_compat.value]
    if flavour is Flavour.tensorrt and o.version_compatible:
        args.append("--version-compatible")
    if flavour is Flavour.tensorrt_rtx and (target or o.targets):
        args += ["--target", target or ",".join(o.targets)]
    return shlex.join(args)


def this_machine(prefer: Flavour | None = None) -> Installed:
    """The installed TensorRT (``prefer`` if it is installed) and CUDA device 0."""
    from lnet_edge.cuda import device_count, device_info
    from lnet_edge.engines.flavour import load

    found = installed_flavours()
    trt, flavour = load(prefer if prefer in found else None)
    from lnet_edge.engines.manifest import this_platform

    dev = device_info(0) if device_count() else None
    return Installed(
        flavour, trt.__version__, dev.name if dev else None, dev.compute_capability if dev else None, this_platform()
    )
