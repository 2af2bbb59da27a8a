"""The options of one engine build: a frozen dataclass, saved in the manifest beside the plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path

from lnet_edge.artifacts import Precision
from lnet_edge.config import TILE_MULTIPLE
from lnet_edge.engines.flavour import Flavour
from lnet_edge.errors import LnetError


class HardwareCompat(str, Enum):
    """TensorRT's hardware-compatibility level (full TensorRT >= 8.6 only)."""

    none = "none"
    ampere_plus = "ampere-plus"
    same_cc = "same-cc"


@dataclass(frozen=True)
class Profile:
    """One optimisation profile: batch and (square) tile side, each as min <= opt <= max."""

    min_batch: int = 1
    opt_batch: int = 4
    max_batch: int = 8
    min_tile: int = 128
    opt_tile: int = 256
    max_tile: int = 512

    def __post_init__(self) -> None:
        for what in ("batch", "tile"):
            lo, opt, hi = (getattr(self, f"{k}_{what}") for k in ("min", "opt", "max"))
            if lo < 1 or not lo <= opt <= hi:
                raise LnetError(
                    f"profile {what} min/opt/max = {lo}/{opt}/{hi}: need 1 <= min <= opt <= max "
                    f"(e.g. --{what} {max(lo, 1)},{max(lo, 1)},{max(hi, lo, 1)})"
                )
        for k in ("min", "opt", "max"):
            tile = getattr(self, f"{k}_tile")
            if tile % TILE_MULTIPLE:
                raise LnetError(
                    f"profile {k} tile {tile} is not a multiple of {TILE_MULTIPLE}: L-Net down-samples 4 times"
                )

    def shapes(self, channels: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) NCHW shapes of the ``image`` input."""
        return tuple(
            (getattr(self, f"{k}_batch"), channels, getattr(self, f"{k}_tile"), getattr(self, f"{k}_tile"))
            for k in ("min", "opt", "max")
        )  # type: ignore[return-value]

    def is_static(self) -> bool:
        """min = opt = max for batch and tile (what DLA requires)."""
        return self.min_batch == self.opt_batch == self.max_batch and self.min_tile == self.opt_tile == self.max_tile

    def contains(self, shape: tuple[int, ...]) -> bool:
        n, _, h, w = shape
        return self.min_batch <= n <= self.max_batch and all(self.min_tile <= s <= self.max_tile for s in (h, w))

    def describe(self) -> str:
        return (
            f"batch {self.min_batch}..{self.max_batch} (opt {self.opt_batch}), "
            f"tile {self.min_tile}..{self.max_tile} (opt {self.opt_tile})"
        )

    @classmethod
    def parse(cls, batch: str, tile: str) -> Profile:
        """From the CLI's 'min,opt,max' strings (one number means min = opt = max)."""
        b, t = _triple(batch, "batch"), _triple(tile, "tile")
        return cls(*b, *t)


def _triple(text: str, what: str) -> tuple[int, int, int]:
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise LnetError(f"--{what} '{text}': give min,opt,max as integers, e.g. 1,4,8") from None
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3:
        raise LnetError(f"--{what} '{text}': give one number or min,opt,max")
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class BuildOptions:
    """Everything ``plan_from_onnx`` needs besides the ONNX file.

    ``precision`` None means: the precision the ONNX was made for (its metadata or Q/DQ/fp16
    content). ``flavour`` None means: whichever TensorRT is installed. ``targets`` are the
    compute capabilities of a TensorRT-RTX ahead-of-time build ("8.6", "12.0"; empty: RTX's
    default set).
    """

    precision: Precision | None = None
    flavour: Flavour | None = None
    profile: Profile = field(default_factory=Profile)
    workspace_mib: int | None = None
    timing_cache: Path | None = None
    opt_level: int | None = None
    dla_core: int | None = None
    gpu_fallback: bool = True
    hardware_compat: HardwareCompat = HardwareCompat.none
    version_compatible: bool = False
    targets: tuple[str, ...] = ()
    calibration_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.opt_level is not None and not 0 <= self.opt_level <= 5:
            raise LnetError(f"--opt-level {self.opt_level}: TensorRT's builder optimisation level is 0..5")
        if self.workspace_mib is not None and self.workspace_mib < 1:
            raise LnetError(f"--workspace {self.workspace_mib} MiB: give a positive size")
        if self.dla_core is not None and self.dla_core < 0:
            raise LnetError(f"--dla-core {self.dla_core}: DLA cores are numbered from 0")

    def with_(self, **changes) -> BuildOptions:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, Enum):
                d[k] = v.value
            elif isinstance(v, Path):
                d[k] = str(v)
        d["targets"] = list(self.targets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BuildOptions:
        d = dict(d)

        def path(v: str | None) -> Path | None:
            return Path(v) if v else None

        return cls(
            precision=Precision(d["precision"]) if d.get("precision") else None,
            flavour=Flavour(d["flavour"]) if d.get("flavour") else None,
            profile=Profile(**d.get("profile", {})),
            workspace_mib=d.get("workspace_mib"),
            timing_cache=path(d.get("timing_cache")),
            opt_level=d.get("opt_level"),
            dla_core=d.get("dla_core"),
            gpu_fallback=d.get("gpu_fallback", True),
            hardware_compat=HardwareCompat(d.get("hardware_compat", "none")),
            version_compatible=d.get("version_compatible", False),
            targets=tuple(d.get("targets", ())),
            calibration_cache=path(d.get("calibration_cache")),
        )
