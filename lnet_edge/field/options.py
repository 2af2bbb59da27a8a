"""The options of a field run (``InferOptions``), checked when they are made, and what they come
to for a given model and runner: the mask threshold, the field tile, the options that shape the
outputs. Every caller (the CLI, a cluster task, the bench, a library user) gets the same checks
and the same messages, which name the ``infer`` option at fault."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from lnet_edge.config import TILE_MULTIPLE, ModelConfig, check_threshold
from lnet_edge.errors import LnetError
from lnet_edge.field.ground import AREAS
from lnet_edge.field.io import parse_scale_factor
from lnet_edge.field.resolution import check_options
from lnet_edge.runners.base import Runner

# The network's context reaches past a tile (coordinate attention pools whole rows and columns,
# the MFF bottleneck sees about 270 px), so the field feeds it tiles twice its training tile:
# on held-out scenes with ground truth, 512 px tiles (overlap 64) gave the shipped model landslide
# IoU 52.45 against 52.01 for one whole-image pass, and 256 px tiles 47.32; pixels near seams
# disagreed with the whole pass 1.27x as often as elsewhere, against 1.73x. On large scenes it is
# also 26 % less network work per scene pixel (512^2 / 448^2 against 256^2 / 192^2).
FIELD_TILE_FACTOR = 2
SCALINGS = ("auto", "percentile", "none")  # the named --scale methods; anything else is a factor


def check_workers(workers: int | None) -> int:
    """``--workers``: a count of at least 1, or None for the default (2 where there are 2+ cores)."""
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return 2 if cores >= 2 else 1
    if workers < 1:
        raise LnetError(f"--workers {workers}: give 1 (no overlap) or more (read, model and write overlap)")
    return workers


@dataclass(frozen=True, kw_only=True)
class InferOptions:
    """Everything that shapes a field run's outputs; saved as ``infer_options.json`` per scene.
    Checked when made: an option out of range is an LnetError naming it."""

    overlap: int = 64  # px shared by neighbouring tiles (model pixels)
    batch: int = 4  # tiles per runner call
    threshold: float | None = None  # probability -> mask; None: the model's own threshold
    min_area_m2: float = 100.0  # minimum mapping unit (px without a georeference or a --pixel-size)
    scale: str = "auto"  # see io.choose_scaling
    gsd: str = "auto"  # auto | none | metres per pixel: see field/resolution.py
    pixel_size: float | None = None  # metres per pixel of scenes without a georeference
    tta: bool = False  # test-time augmentation: the four flips, logits averaged
    quicklook_size: int = 2048  # long side of the quicklook PNG, px
    overwrite: bool = False
    workers: int = 2  # 1: read, model and write take turns; 2+: they overlap (same outputs)
    tile: int | None = None  # field tile fed to the network (model pixels); None: FIELD_TILE_FACTOR x the model's
    memory_limit: int | None = None  # bytes one scene may allocate; None: the default (field/budget.py)

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_area_m2) or self.min_area_m2 < 0:
            raise LnetError(f"--min-area {self.min_area_m2}: give a finite area in m² (0 keeps every polygon)")
        check_threshold(self.threshold)
        if self.scale not in SCALINGS:
            parse_scale_factor(self.scale)
        check_options(self.gsd, self.pixel_size)
        if self.tile is not None and (self.tile < TILE_MULTIPLE or self.tile % TILE_MULTIPLE):
            raise LnetError(f"--tile {self.tile}: give a multiple of {TILE_MULTIPLE} px (e.g. 256 or 512)")
        if self.tile is not None and self.overlap >= self.tile:
            raise LnetError(f"--overlap {self.overlap} must be smaller than --tile {self.tile}")
        if self.batch < 1:
            raise LnetError(f"--batch {self.batch}: give 1 or more tiles per runner call")
        check_workers(self.workers)

    def threshold_for(self, config: ModelConfig) -> float:
        """The mask threshold of a run: ``threshold`` if given, else the model's own."""
        return config.threshold if self.threshold is None else self.threshold


def field_tile(options: InferOptions, config: ModelConfig, runner: Runner | None = None) -> int:
    """The tile side the field run feeds the network, in model pixels: ``options.tile``, else
    FIELD_TILE_FACTOR times the model's training tile, at most what the runner takes."""
    tile = options.tile or FIELD_TILE_FACTOR * config.tile
    limit = getattr(runner, "max_tile", None)
    return min(tile, limit) if limit else tile


def shaping_options(options: InferOptions, config: ModelConfig, runner: Runner | None = None) -> dict:
    """The options that change a scene's outputs (recorded, and compared on a rerun); ``tile`` is
    the field tile that runs with ``runner`` (see ``field_tile``)."""
    return {
        "threshold": options.threshold_for(config),
        "tile": field_tile(options, config, runner),
        "min_area": options.min_area_m2,
        "overlap": options.overlap,
        "scale": options.scale,
        "quicklook_size": options.quicklook_size,
        "gsd": options.gsd,
        "pixel_size": options.pixel_size,
        "tta": options.tta,
        # how areas are measured: outputs measured otherwise are redone (with --pixel-size, a scene
        # without a georeference is measured in metres at that size; it was in pixels before)
        "areas": AREAS if options.pixel_size is None else f"{AREAS}, pixel size stated",
    }
