"""Model configuration: architecture variant (the paper's Table 1 ablations), width preset,
input bands and the normalisation that the weights were trained with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise LnetError(f"unknown preset '{self.preset}': choose one of {', '.join(PRESETS)}")
        n = len(self.bands)
        if len(self.norm.mean) != n or len(self.norm.std) != n:
            raise LnetError(
                f"normalisation has {len(self.norm.mean)} means / {len(self.norm.std)} stds "
                f"for {n} bands: give one per band"
            )

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
        d = dict(d)
        norm = d.pop("norm", {})
        return cls(
            variant=Variant(d.pop("variant", "lnet")),
            norm=Normalization(**{k: tuple(v) if isinstance(v, list) else v for k, v in norm.items()}),
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()},
        )


def rgb_config(variant: Variant = Variant.lnet, preset: str = "edge-s") -> ModelConfig:
    """The RGB configuration used by the shipped default model."""
    return ModelConfig(variant=variant, preset=preset)


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
