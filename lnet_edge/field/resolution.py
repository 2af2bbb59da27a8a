"""Resolution-aware inference: a scene's pixel size against the ground sampling distance (GSD)
the model was trained at.

The model's metadata records its training GSD as a range [low, high] in metres per pixel. With
``--gsd auto`` (the default), a scene whose pixel size lies outside that range is resampled to
the nearest end of it before tiling; ``--gsd none`` never resamples; ``--gsd METRES`` resamples
to that GSD. Resampling happens per tile (``factor`` model pixels per scene pixel), and the
logits are resampled back, so every output stays on the scene's own grid and CRS.

The pixel size comes from the georeference: the ground size of the scene's centre pixel on the
ellipsoid, whatever the CRS (field/ground.py: neither degrees nor Web Mercator's or a State Plane's
map units are taken as metres). A scene without one (or with a CRS but no geotransform) has an
unknown pixel size unless ``--pixel-size`` states it.
"""

from __future__ import annotations

import math

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.field.vectorize import Georef

MAX_METRES = 1000.0


def check_metres(value: float, option: str) -> float:
    """A pixel size or GSD in metres: finite, above 0 and at most 1000, or one clear error."""
    if not (math.isfinite(value) and 0 < value <= MAX_METRES):
        raise LnetError(f"{option} {value}: give metres per pixel above 0 and at most {MAX_METRES:g}, e.g. 0.5")
    return value


def parse_gsd(text: str) -> str | float:
    """``--gsd``: "auto", "none" or metres per pixel."""
    if text in ("auto", "none"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise LnetError(f"--gsd '{text}': give auto, none or metres per pixel such as 0.8") from None
    return check_metres(value, "--gsd")


def check_options(gsd: str, pixel_size: float | None) -> str | float:
    """``--gsd`` parsed and ``--pixel-size`` checked, as ``infer`` and ``eval`` take them."""
    if pixel_size is not None:
        check_metres(pixel_size, "--pixel-size")
    return parse_gsd(gsd)


def pixel_size_m(src) -> float | None:
    """Ground metres per pixel at the centre of an open rasterio dataset (the square root of the
    pixel's area, so non-square pixels get their mean side), or None when the georeference
    cannot tell."""
    return Georef.from_dataset(src).pixel_size_m()


def resample_factor(scene_m: float | None, config: ModelConfig, gsd: str | float) -> tuple[float, str]:
    """(model pixels per scene pixel, a note for the user or ""). 1.0 means no resampling."""
    if gsd == "none":
        return 1.0, ""
    if scene_m is None:
        if gsd != "auto":
            raise LnetError(f"--gsd {gsd}: the scene's pixel size is unknown (no georeference): give --pixel-size")
        if config.gsd is None:
            return 1.0, ""
        return 1.0, "pixel size unknown (no georeference): not resampled; give --pixel-size to match the model's GSD"
    if gsd == "auto":
        if config.gsd is None:
            return 1.0, ""
        low, high = config.gsd
        if low <= scene_m <= high:
            return 1.0, ""
        target = min(max(scene_m, low), high)
    else:
        target = float(gsd)
    factor = scene_m / target
    if abs(factor - 1.0) < 1e-3:
        return 1.0, ""
    return factor, f"pixel size {scene_m:.3g} m resampled to {target:.3g} m (x{factor:.3g}) for the model"
