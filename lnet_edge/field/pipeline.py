"""Whole scenes into output folders: ``run_scene`` maps one, ``run_scenes``/``map_scene`` a batch
in which one scene's failure never stops the others.

A scene is read in strips of tile rows, run and blended (field/strips.py), and its final rows go
to the writers (field/sinks.py): probability, mask, polygons as GeoJSON and GeoPackage,
quicklook. Every output is written under a ``.part`` name and swapped in with the summary last
(field/outputs.py), so a scene folder holds a complete set or what it held before. Polygons of
large scenes are traced in a child process (field/polygons.py). The options live in
field/options.py, the grid in field/grid.py, the reader in field/reader.py and the summary's
format in field/summary.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.field import budget, io, outputs
from lnet_edge.field.grid import Grid, scene_grid
from lnet_edge.field.options import InferOptions, check_workers, field_tile, shaping_options
from lnet_edge.field.reader import GDAL_CACHE_MB, SceneSetup, scene_setup
from lnet_edge.field.sinks import SceneSinks, quicklook_label
from lnet_edge.field.strips import Strip, blend_rows, overlapped
from lnet_edge.field.summary import SceneResult, SceneSummary, SceneTiming
from lnet_edge.runners.base import Runner

__all__ = [  # the names callers import from here: the orchestration, and the options it takes
    "InferOptions",
    "SceneResult",
    "check_workers",
    "describe_failure",
    "field_tile",
    "map_scene",
    "output_file",
    "run_scene",
    "run_scenes",
    "scene_outputs",
]


def scene_outputs(out: Path, scene: Path, name: str | None = None) -> dict[str, Path]:
    """Where a scene's outputs go: OUT/NAME/NAME_*.* (NAME: the stem unless ``name`` is given)."""
    return outputs.output_paths(out, name or scene.stem)


def output_file(summary: dict, key: str) -> Path:
    """The path of output ``key`` ("mask", "polygons", ...) of a scene's summary."""
    return Path(summary["folder"]) / summary["outputs"][key]


def run_scene(
    scene: Path,
    out: Path,
    runner: Runner | None,
    config: ModelConfig,
    options: InferOptions,
    model_info: dict,
    on_start: Callable[[int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    name: str | None = None,
    assemble=None,
) -> dict:
    """Map one scene into ``OUT/NAME/``; returns its summary JSON (also written as
    NAME_summary.json, renamed into place last). Holds the folder's lock while writing; on any
    failure, none of the new outputs appear under final names and a previous complete set stays
    as it was.

    ``assemble``: instead of running ``runner``, take the blended probabilities that workers
    made band by band (field/bands.py)."""
    import rasterio

    paths = scene_outputs(out, scene, name)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), outputs.SceneLock(paths["summary"].parent):
        outputs.remove_parts(paths, any_run=True)  # what a run that died left: we hold the lock
        outputs.check_targets(paths, options.overwrite)  # a user's file or a folder in the way: before any work
        try:
            run = _SceneRun(scene, paths, runner, config, options, model_info, on_tiles, warn, assemble)
            return run.run(on_start)
        except BaseException:
            outputs.remove_parts(paths)
            raise


class _SceneRun:
    """One scene of ``run_scene``: its outputs written under ``.part`` names, then swapped in."""

    def __init__(self, scene, paths, runner, config, options, model_info, on_tiles, warn, assemble) -> None:
        self.scene, self.paths, self.runner, self.config, self.options = scene, paths, runner, config, options
        self.model_info, self.on_tiles, self.warn, self.assemble = model_info, on_tiles, warn, assemble

    def run(self, on_start: Callable[[int], None] | None) -> dict:
        t0 = time.perf_counter()
        identity = outputs.scene_identity(self.scene)
        with io.open_scene(self.scene) as src:
            setup = scene_setup(src, self.scene, self.config, self.options)
            self._tell(setup.notes)
            grid = self._grid(src, setup)
            if on_start:
                on_start(len(grid.ys) * len(grid.xs))
            sinks, tally = self._write(src, setup, grid)
            if sinks.nonfinite:
                bad = f"{sinks.nonfinite} pixels of {self.scene.name} are NaN or infinite: nodata in every output"
                setup.notes.append(bad)
                self._tell([bad])
            summary = self._summary(src, identity, setup, grid, sinks, tally, time.perf_counter() - t0)
        options_json = json.dumps(asdict(self.options), indent=2).encode()
        io.write_bytes_synced(io.part_path(self.paths["options"]), options_json)
        record = summary.to_json()
        outputs.commit_set(self.paths, record)
        return record

    def _tell(self, notes: list[str]) -> None:
        for note in notes:
            if self.warn:
                self.warn(note)

    def _grid(self, src, setup: SceneSetup) -> Grid:
        """The scene's grid, once its plan is known to fit the memory budget."""
        options, config, runner = self.options, self.config, self.runner
        grid = scene_grid(src.height, src.width, field_tile(options, config, runner), options.overlap, setup.factor)
        threaded = overlapped(options.workers, len(grid.ys))
        assembly = self.assemble is not None
        budget.check_scene("the scene", src, setup, grid, config, options, runner, threaded, assembly)
        return grid

    def _write(self, src, setup: SceneSetup, grid: Grid) -> tuple[SceneSinks, tuple[int, int, float]]:
        """Every row into the writers, closed with their outputs under ``.part`` names; returns
        them and (tiles run, tiles skipped as all-nodata, model seconds)."""
        threshold = self.options.threshold_for(self.config)
        sinks = None
        try:
            label = quicklook_label(self.model_info)
            georef, scene_m = setup.georef, setup.scene_m
            sinks = SceneSinks(self.paths, src, georef, self.config, self.options, threshold, scene_m, label)
            if self.assemble is None:
                tally = self._infer_strips(src, setup, grid, sinks)
            else:
                tally = self.assemble(src, setup, self.config, grid, sinks)
            sinks.finish()
        except BaseException:
            if sinks is not None:
                sinks.abandon()
            raise
        return sinks, tally

    def _infer_strips(self, src, setup: SceneSetup, grid: Grid, sinks: SceneSinks) -> tuple[int, int, float]:
        """Every tile row run and blended into the sinks."""
        counts = {"run": 0, "skipped": 0}

        def write(strip: Strip, prob: np.ndarray) -> None:
            n = strip.stop - strip.row0
            sinks.nonfinite += strip.nonfinite
            sinks.rows(prob, strip.valid[:n], strip.image[:n], strip.row0)
            counts["run"] += len(strip.keep)
            counts["skipped"] += len(grid.xs) - len(strip.keep)
            if self.on_tiles:
                self.on_tiles(len(grid.xs))

        rows = range(len(grid.ys))
        options = self.options
        model_s = blend_rows(src, setup, self.runner, self.config, options, grid, rows, write, options.workers)
        return counts["run"], counts["skipped"], model_s

    def _summary(self, src, identity, setup, grid, sinks, tally, seconds: float) -> SceneSummary:
        georef, options = setup.georef, self.options
        scene_m2, _ = georef.metric(georef.to_map(_box(src.width, src.height)))
        run, skipped, model_s = tally
        timing = SceneTiming(seconds, model_s) if self.assemble is None else self.assemble.timing(seconds, model_s)
        return SceneSummary(
            scene=str(self.scene),
            scene_identity=identity,
            height=src.height,
            width=src.width,
            bands=src.count,
            dtype=src.dtypes[0],
            crs=src.crs.to_string() if src.crs else None,
            georeference=georef.kind,
            area_method=georef.area_method,
            scaling=setup.scaling.method,
            scene_area_km2=scene_m2 / 1e6 if georef.in_metres else None,
            valid_pixels=sinks.valid,
            nonfinite_pixels=sinks.nonfinite,
            landslide_count=sinks.count,
            landslide_area=sinks.area,
            polygons_below_mmu=sinks.dropped,
            min_area=options.min_area_m2,
            threshold=options.threshold_for(self.config),
            tiles=len(grid.ys) * len(grid.xs),
            tiles_run=run,
            tiles_skipped_nodata=skipped,
            pixel_size_m=setup.scene_m,
            resample_factor=setup.factor,
            tta=options.tta,
            timing=timing,
            model=self.model_info,
            shaping_options=shaping_options(options, self.config, self.runner),
            notes=setup.notes,
            folder=str(self.paths["summary"].parent.resolve()),
            outputs={k: v.name for k, v in self.paths.items() if k != "summary"},
        )


def _box(w: int, h: int):
    from shapely.geometry import box

    return box(0, 0, w, h)


def run_scenes(
    scenes: list[Path],
    out: Path,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    model_info: dict,
    on_start: Callable[[Path, int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[SceneResult]:
    """Map every scene; a failure of one scene (of any kind) never stops the others.

    A scene whose folder holds a complete set made from the same scene file, model and options
    is skipped; any other is (re)made, and the result says why (``--overwrite`` redoes all).
    """
    names = outputs.scene_folders(scenes, out)
    return [
        map_scene(scene, out, names[scene], runner, config, options, model_info, on_start, on_tiles, warn)
        for scene in scenes
    ]


def map_scene(
    scene: Path,
    out: Path,
    name: str,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    model_info: dict,
    on_start: Callable[[Path, int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    assemble=None,
) -> SceneResult:
    """One scene of a batch into ``OUT/NAME/``: skipped when complete, else (re)made; never raises
    for the scene's own faults (they are the result's message). ``assemble``: see run_scene."""
    shaping = shaping_options(options, config, runner)
    paths = scene_outputs(out, scene, name)
    d = paths["summary"].parent
    try:
        reason = outputs.stale_reason(paths, outputs.scene_identity(scene), model_info.get("model_sha256"), shaping)
        if reason is None and not options.overwrite:
            return SceneResult(scene, "skipped", "outputs complete (use --overwrite to redo)", d)
        started = (lambda n: on_start(scene, n)) if on_start else None
        summary = run_scene(scene, out, runner, config, options, model_info, started, on_tiles, warn, name, assemble)
        redo = "" if reason in (None, "no complete outputs") else f"redone: {reason}"
        return SceneResult(scene, "done", redo, d, summary)
    except LnetError as exc:
        return SceneResult(scene, "failed", str(exc), d)
    except Exception as exc:  # noqa: BLE001 - one scene's failure must not end the batch
        return SceneResult(scene, "failed", describe_failure(exc, d), d)


def describe_failure(exc: Exception, where: Path) -> str:
    """One line for an unexpected failure: the OS cause when there is one (full disk, no
    permission), else the error itself."""
    cause = io.root_os_error(exc)
    if cause is not None:
        return io.describe_os_error(cause, Path(cause.filename) if cause.filename else where)
    return f"unexpected {type(exc).__name__}: {str(exc)[:300]} (please report this with the scene)"
