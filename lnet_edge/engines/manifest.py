"""The manifest beside a plan: ``NAME.plan.json``, saying how the plan was made and what it needs.

The plan itself stays exactly what TensorRT serialised, so trtexec, DeepStream and Triton load
it; everything lnet-edge needs to know travels in this file instead.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.engines.options import BuildOptions
from lnet_edge.errors import LnetError
from lnet_edge.files import write_text_atomic

FORMAT = "lnet-edge-plan-manifest"
FORMAT_VERSION = 1


def this_platform() -> dict:
    """The OS and CPU architecture a plan is built on or loaded on."""
    import platform

    return {"os": platform.system(), "arch": platform.machine()}


def manifest_path(plan: Path) -> Path:
    """``engines/NAME.plan`` -> ``engines/NAME.plan.json``."""
    plan = Path(plan)
    return plan.with_name(plan.name + ".json")


@dataclass(frozen=True)
class Manifest:
    """What a plan was built from, by which TensorRT, for which GPUs, and how to feed it.

    ``build_gpu`` is ``{"name", "compute_capability"}`` of the GPU a full-TensorRT build ran on
    (None for a TensorRT-RTX ahead-of-time build, which needs no GPU); ``targets`` are the
    compute capabilities the plan runs on. ``network`` summarises the parsed network (layer
    count, layer types, tensor types): the precision evidence available without a GPU.
    """

    flavour: str
    trt_version: str
    precision: str
    strongly_typed: bool
    targets: tuple[str, ...]
    build_gpu: dict | None
    options: BuildOptions
    source_onnx: str
    onnx_sha256: str
    calibration_sha256: str | None
    config: ModelConfig
    network: dict
    plan_bytes: int
    plan_sha256: str
    lnet_edge_version: str
    build_seconds: float
    created: str
    metadata_defaulted: bool = False
    # {"os": "Linux", "arch": "x86_64"} of the build machine: plans do not cross platforms unless
    # the build targets another one. None in manifests written before it was recorded.
    platform: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("options", "config")}
        d["targets"] = list(self.targets)
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **d,
            "options": self.options.to_dict(),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        if d.get("format") != FORMAT:
            raise LnetError("not an lnet-edge plan manifest (no 'format': 'lnet-edge-plan-manifest')")
        if d.get("format_version", 0) > FORMAT_VERSION:
            raise LnetError(
                f"manifest format_version {d['format_version']} is newer than this lnet-edge reads "
                f"({FORMAT_VERSION}): upgrade lnet-edge"
            )
        d = {k: v for k, v in d.items() if k not in ("format", "format_version")}
        d["options"] = BuildOptions.from_dict(d["options"])
        d["config"] = ModelConfig.from_dict(d["config"])
        d["targets"] = tuple(d["targets"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: Path) -> Path:
        """Write atomically (temporary name, then rename), so a reader never sees half a file."""
        return write_text_atomic(path, self.to_json())


def read_manifest(plan: Path) -> Manifest:
    """The manifest beside ``plan``, with one clear error when it is missing or unreadable."""
    path = manifest_path(plan)
    if not path.is_file():
        raise LnetError(
            f"{plan} has no manifest ({path.name} missing): lnet-edge cannot check that this plan fits "
            f"the installed TensorRT and GPU; rebuild it with 'lnet-edge build MODEL.onnx --out {plan}'"
        )
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except LnetError as exc:
        raise LnetError(f"manifest {path}: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LnetError(
            f"manifest {path} is unreadable ({type(exc).__name__}: {exc}): rebuild the plan with 'lnet-edge build'"
        ) from exc
