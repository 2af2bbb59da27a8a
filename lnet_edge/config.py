"""Model configuration: architecture variant (the paper's Table 1 ablations), width preset,
input bands and the normalisation that the weights were trained with."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum

from lnet_edge.errors import LnetError


class Variant(str, Enum):
    """The Table 1 ablations of Dong et al. 2022."""

    unet = "unet"  # U-Net, bilinear upsampling
    unet_mff = "unet_mff"  # + MFF bottleneck
    unet_mff_res = "unet_mff_res"  # + residual networks A (encoder) and B (decoder)
    lnet = "lnet"  # + DUpsampling: L-Net


# Channel widths of the four encoder stages and the bottleneck.
PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    "paper": (64, 128, 256, 512, 1024),  # the original U-Net width
    "edge-m": (32, 64, 128, 256, 512),
    "edge-s": (16, 32, 64, 128, 256),
    "edge-xs": (8, 16, 32, 64, 128),
}


TILE_MULTIPLE = 16  # four 2x poolings: heights, widths and tiles are multiples of this


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def logit(p: float) -> float:
    """The logit a probability threshold sits at: a pixel is marked where its logit is over it."""
    return math.log(p / (1.0 - p))


def check_threshold(threshold: float | None) -> None:
    """``--threshold``: None (the model's own) or a probability strictly between 0 and 1 (NaN is refused)."""
    if threshold is not None and not 0 < threshold < 1:
        raise LnetError(f"--threshold {threshold}: give a probability strictly between 0 and 1")


# the CLI's choices of preset (typer needs an Enum)
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)


GATE_DESCRIPTORS = ("weighted", "mean-max")  # lnet_edge.model.gate.describe
# every logit of a window a gate without a floor shuts (lnet_edge.model.gate): a probability of
# 1e-13, which no threshold passes and fp16 holds; eval counts such windows by it
GATED_LOGIT = -30.0


@dataclass(frozen=True)
class Normalization:
    """x_model = (x_raw * scale - mean[band]) / std[band], per input band."""

    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network and feed it: saved in checkpoints and manifests."""

    variant: Variant = Variant.lnet
    preset: str = "edge-s"
    bands: tuple[int, ...] = (0, 1, 2)  # indices into the source image's bands, in model order
    band_names: tuple[str, ...] = ("red", "green", "blue")
    dilations: tuple[int, ...] = (2, 3, 5, 7)
    norm: Normalization = field(default_factory=Normalization)
    tile: int = 256
    threshold: float = 0.5
    # ground sampling distance of the training imagery, metres per pixel (low, high); None: unknown
    gsd: tuple[float, float] | None = None
    # the scene gate's cut (a probability; lnet_edge.model.gate), None: no gate
    scene_gate: float | None = None
    # in a window the gate shuts, the probability a pixel still needs to be marked; None: none is
    scene_gate_floor: float | None = None
    # what a gate (or a scene loss) reads of a window: "weighted" (each feature map's mean, max and
    # probability-weighted mean) or "mean-max" (mean and max: the gates fitted before)
    scene_gate_descriptor: str = "weighted"

    def __post_init__(self) -> None:
        """Every field is checked: a configuration also arrives as metadata a user can edit."""
        if self.preset not in PRESETS:
            raise LnetError(f"unknown preset '{self.preset}': choose one of {', '.join(PRESETS)}")
        if not self.bands or not all(isinstance(b, int) and b >= 0 for b in self.bands):
            raise LnetError(f"bands {self.bands!r}: give one or more band indices >= 0")
        n = len(self.bands)
        if len(self.norm.mean) != n or len(self.norm.std) != n:
            raise LnetError(
                f"normalisation has {len(self.norm.mean)} means / {len(self.norm.std)} stds "
                f"for {n} bands: give one per band"
            )
        if not all(_finite(m) for m in self.norm.mean):
            raise LnetError(f"normalisation mean {self.norm.mean!r}: every mean must be a finite number")
        if not all(_finite(v) and v > 0 for v in self.norm.std):
            raise LnetError(f"normalisation std {self.norm.std!r}: every std must be a finite number above 0")
        if not (_finite(self.norm.scale) and self.norm.scale > 0):
            raise LnetError(f"normalisation scale {self.norm.scale!r}: give a finite number above 0")
        if not (isinstance(self.tile, int) and self.tile > 0 and self.tile % TILE_MULTIPLE == 0):
            raise LnetError(
                f"tile {self.tile!r}: give a positive multiple of {TILE_MULTIPLE} (the network halves the size four times)"
            )
        if not (_finite(self.threshold) and 0 < self.threshold < 1):
            raise LnetError(f"threshold {self.threshold!r}: give a probability strictly between 0 and 1")
        if self.gsd is not None:
            lo_hi = tuple(self.gsd)
            if len(lo_hi) != 2 or not all(_finite(g) and 0 < g <= 1000 for g in lo_hi) or lo_hi[0] > lo_hi[1]:
                raise LnetError(f"gsd {self.gsd!r}: give [low, high] metres per pixel, 0 < low <= high <= 1000")
        if self.scene_gate is not None and not (_finite(self.scene_gate) and 0 < self.scene_gate < 1):
            raise LnetError(
                f"scene_gate {self.scene_gate!r}: give the gate's cut as a probability strictly between 0 and 1"
            )
        if self.scene_gate_descriptor not in GATE_DESCRIPTORS:
            raise LnetError(
                f"scene_gate_descriptor {self.scene_gate_descriptor!r}: choose one of {', '.join(GATE_DESCRIPTORS)}"
            )
        if self.scene_gate_floor is not None:
            if self.scene_gate is None:
                raise LnetError(
                    "scene_gate_floor is set without scene_gate: a floor applies only to a gate's shut windows"
                )
            if not (_finite(self.scene_gate_floor) and self.threshold < self.scene_gate_floor < 1):
                raise LnetError(
                    f"scene_gate_floor {self.scene_gate_floor!r}: give a probability above the threshold "
                    f"({self.threshold:g}) and below 1, or null to leave shut windows empty"
                )
        if len(self.band_names) != n:
            raise LnetError(f"{len(self.band_names)} band names for {n} bands: give one name per band")

    @property
    def uint8_range(self) -> bool:
        """Trained on 0..255 imagery (scale 1/255): other dtypes are stretched to that range."""
        return abs(self.norm.scale - 1 / 255) < 1e-6

    @property
    def in_channels(self) -> int:
        return len(self.bands)

    @property
    def widths(self) -> tuple[int, int, int, int, int]:
        return PRESETS[self.preset]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["variant"] = self.variant.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """The configuration a dict describes, or one LnetError naming the field at fault."""
        if not isinstance(d, dict):
            raise LnetError(f"the model configuration is a {type(d).__name__}, not an object of named fields")
        d = dict(d)
        if d.get("scene_gate") is not None:
            d.setdefault("scene_gate_descriptor", "mean-max")  # a gate fitted before the field was written
        norm = d.pop("norm", {})
        variant = d.pop("variant", "lnet")
        if variant not in {v.value for v in Variant}:
            raise LnetError(f"unknown variant {variant!r}: choose one of {', '.join(v.value for v in Variant)}")
        known = {f.name for f in fields(cls)} - {"variant", "norm"}
        unknown = sorted(set(d) - known)
        if unknown or not isinstance(norm, dict) or set(norm) - {"scale", "mean", "std"}:
            raise LnetError(f"unknown configuration field(s) {unknown or ['norm']}: is the metadata from lnet-edge?")
        return cls(
            variant=Variant(variant),
            norm=Normalization(**{k: tuple(v) if isinstance(v, list) else v for k, v in norm.items()}),
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()},
        )


def rgb_config(variant: Variant = Variant.lnet, preset: str = "edge-s") -> ModelConfig:
    """The RGB configuration used by the shipped default model."""
    return ModelConfig(variant=variant, preset=preset)


def config_from_bands(
    bands: tuple[int, ...], variant: Variant = Variant.lnet, preset: str = "edge-s", tile: int = 256
) -> ModelConfig:
    """A configuration reading ``bands`` of the source images, in model order: three bands with the
    RGB names and normalisation, any other number named ``band<i>`` with mean 0.5 and std 0.25
    each (0..255 imagery scaled by 1/255)."""
    if len(bands) == 3:
        return ModelConfig(variant=variant, preset=preset, bands=tuple(bands), tile=tile)
    n = len(bands)
    return ModelConfig(
        variant=variant,
        preset=preset,
        bands=tuple(bands),
        band_names=tuple(f"band{i}" for i in bands),
        norm=Normalization(mean=(0.5,) * n, std=(0.25,) * n),
        tile=tile,
    )


def l4s_config(variant: Variant = Variant.lnet, preset: str = "edge-s") -> ModelConfig:
    """All 14 Landslide4Sense bands (already pre-scaled by L4S to roughly 0..3)."""
    names = tuple(f"B{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)) + ("slope", "dem")
    return ModelConfig(
        variant=variant,
        preset=preset,
        bands=tuple(range(14)),
        band_names=names,
        norm=Normalization(scale=1.0, mean=(0.0,) * 14, std=(1.0,) * 14),
        tile=128,
    )
