"""``--field SCENE``: the whole ``infer`` pipeline (read, tile, run, blend, write, vectorise)
timed on a real scene, next to the model-only throughput of the same runner, batch and tile.

The runner is already warm (the sweep ran on it), the first pass is a further warm-up for the
reader and writers and is not recorded, and the median of the recorded passes is reported.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.field.pipeline import InferOptions, run_scene
from lnet_edge.runners.base import Runner


def time_field(
    runner: Runner, config: ModelConfig, scene: Path, out: Path, batch: int, repeats: int, gsd_m: float
) -> dict:
    """Seconds, tiles/s and km²/s of ``repeats`` recorded passes of ``run_scene`` over ``scene``."""
    # at the model's tile, the one the model-only figure uses (the field default is twice it)
    options = InferOptions(batch=batch, overwrite=True, tile=config.tile)
    info = {"backend": runner.name, "precision": runner.precision}
    run_scene(scene, out, runner, config, options, info)  # warm-up pass
    passes = [run_scene(scene, out, runner, config, options, info) for _ in range(repeats)]
    seconds = statistics.median(p["seconds"] for p in passes)
    last = passes[-1]
    km2 = last["scene_area_km2"] or last["height"] * last["width"] * gsd_m**2 / 1e6
    return {
        "scene": str(scene),
        "height": last["height"],
        "width": last["width"],
        "batch": batch,
        "tile": config.tile,
        "overlap": options.overlap,
        "tiles_run": last["tiles_run"],
        "repeats": repeats,
        "seconds": [p["seconds"] for p in passes],
        "median_seconds": seconds,
        "median_model_seconds": statistics.median(p["model_seconds"] for p in passes),
        "scene_area_km2": km2,
        "area_from": "georeference" if last["scene_area_km2"] else f"--gsd {gsd_m} m",
        "tiles_per_s": last["tiles_run"] / seconds,
        "km2_per_s": km2 / seconds,
        "landslide_count": last["landslide_count"],
    }


def versus_model(field: dict, model_tiles_per_s: float) -> dict:
    """Field figures next to the model-only ones: the field's share of model-only tile
    throughput, and the km²/s the model alone would give on this scene's tiling (overlap included)."""
    return {
        "model_tiles_per_s": model_tiles_per_s,
        "model_km2_per_s_this_tiling": field["scene_area_km2"] * model_tiles_per_s / field["tiles_run"],
        "field_share_of_model": field["tiles_per_s"] / model_tiles_per_s,
    }
