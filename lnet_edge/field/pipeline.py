"""Whole-scene inference: strips of overlapping tiles -> Runner -> blend -> outputs.

For each tile row: read the rows it covers (all bands the model reads, full width), cut the
tiles, skip those whose pixels are all nodata, run the rest in batches, add them into a strip
accumulator with a raised-cosine weight, then hand the rows no later tile can touch to the
writers (probability, mask, polygons as GeoJSON and GeoPackage, quicklook). Peak memory is
O(tile x scene width).

With ``workers`` > 1 the steps overlap: reading and preparing (a thread), the runner (the
calling thread), blending (a thread) and writing (a thread), a few strips apart
(field/stages.py); polygons of large scenes are traced in a child process (field/polygons.py).
The outputs are the same bytes either way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.field import budget, io, outputs
from lnet_edge.field.blending import BlendWeights, StripAccumulator
from lnet_edge.field.ground import AREAS
from lnet_edge.field.polygons import PolygonSpec, polygon_sink
from lnet_edge.field.predict import prepare_batches, probabilities, run_logits, scene_tiling, sigmoid  # noqa: F401 - sigmoid for bench
from lnet_edge.field.quicklook import Legend, Quicklook
from lnet_edge.field.resolution import parse_gsd, pixel_size_m, resample_factor
from lnet_edge.field.stages import run_staged
from lnet_edge.field.tiling import tile_origins
from lnet_edge.field.vectorize import Georef
from lnet_edge.runners.base import Runner

GDAL_CACHE_MB = 256  # GDAL's block cache defaults to 5 % of RAM: 1+ GB on a 24 GB laptop
# below this many tile rows the stages take turns even with --workers 2: on the 5-row sample
# scene, handing strips between threads cost more than overlapping them gained (0.28 s against
# 0.26 s; bench/field_pipeline.py)
OVERLAP_MIN_STRIPS = 8


@dataclass(frozen=True)
class InferOptions:
    """Everything that shapes a field run's outputs; saved as ``infer_options.json`` per scene."""

    overlap: int = 64  # px shared by neighbouring tiles (model pixels)
    batch: int = 4  # tiles per runner call
    threshold: float | None = None  # probability -> mask; None: the model's own threshold
    min_area_m2: float = 100.0  # minimum mapping unit (pixels when the scene has no georeference)
    scale: str = "auto"  # see io.choose_scaling
    gsd: str = "auto"  # auto | none | metres per pixel: see field/resolution.py
    pixel_size: float | None = None  # metres per pixel of scenes without a georeference
    tta: bool = False  # test-time augmentation: the four flips, logits averaged
    quicklook_size: int = 2048  # long side of the quicklook PNG, px
    overwrite: bool = False
    workers: int = 2  # 1: read, model and write take turns; 2+: they overlap (same outputs)
    tile: int | None = None  # field tile fed to the network (model pixels); None: FIELD_TILE_FACTOR x the model's
    memory_limit: int | None = None  # bytes one scene may allocate; None: the default (field/budget.py)

    def threshold_for(self, config: ModelConfig) -> float:
        """The mask threshold of a run: ``threshold`` if given, else the model's own."""
        return config.threshold if self.threshold is None else self.threshold


@dataclass(frozen=True)
class SceneResult:
    scene: Path
    status: str  # "done", "skipped" or "failed"
    message: str
    out_dir: Path
    summary: dict | None = None


def check_workers(workers: int | None) -> int:
    """``--workers``: a count of at least 1, or None for the default (2 where there are 2+ cores)."""
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return 2 if cores >= 2 else 1
    if workers < 1:
        raise LnetError(f"--workers {workers}: give 1 (no overlap) or more (read, model and write overlap)")
    return workers


def scene_outputs(out: Path, scene: Path, name: str | None = None) -> dict[str, Path]:
    """Where a scene's outputs go: OUT/NAME/NAME_*.* (NAME: the stem unless ``name`` is given)."""
    return outputs.output_paths(out, name or scene.stem)


def output_file(summary: dict, key: str) -> Path:
    """The path of output ``key`` ("mask", "polygons", ...) of a scene's summary."""
    return Path(summary["folder"]) / summary["outputs"][key]


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
        "areas": AREAS,  # how areas are measured: outputs measured otherwise are redone
    }


class _Sinks:
    """The writers of one scene; ``rows`` feeds them final rows, ``finish`` closes them with every
    output under its ``.part`` name (outputs.commit_set swaps the set in), ``abandon`` after a failure."""

    def __init__(
        self,
        paths,
        src,
        georef: Georef,
        config: ModelConfig,
        options: InferOptions,
        threshold: float,
        metres_per_pixel: float | None = None,
        label: str = "lnet-edge",
    ) -> None:
        self.metres_per_pixel, self.label = metres_per_pixel, label
        tags = {"lnet_edge": "probability: value = round(100 p), 255 = nodata"}
        self.prob = io.BlockRowWriter(paths["probability"], src.width, src.height, src.crs, src.transform, tags)
        self.mask = io.BlockRowWriter(
            paths["mask"],
            src.width,
            src.height,
            src.crs,
            src.transform,
            {"lnet_edge": f"mask: 1 = landslide (p > {threshold}), 0 = none, 255 = nodata"},
        )
        spec = PolygonSpec(
            io.part_path(paths["polygons"]),
            io.part_path(paths["geopackage"]),
            paths["polygons"].stem,
            src.crs,
            georef,
            options.min_area_m2,
        )
        self.polygons = polygon_sink(spec, src.width * src.height, options.workers)
        self.georef, self.options, self.threshold = georef, options, threshold
        self.quicklook = Quicklook(src.height, src.width, options.quicklook_size)
        self.paths = paths
        self.count, self.area, self.dropped, self.valid, self.nonfinite = 0, 0.0, 0, 0, 0

    def rows(self, prob: np.ndarray, ok: np.ndarray, image: np.ndarray, row0: int) -> None:
        """Final rows from ``row0``: blended probabilities, valid pixels (every valid pixel lies in a
        tile that ran: a tile is skipped only when all its pixels are nodata) and the image."""
        landslide = (prob > self.threshold) & ok
        percent = np.rint(prob * np.float32(100)).astype(np.uint8)
        percent[~ok] = io.NODATA
        self.prob.write_rows(percent)
        landslide8 = landslide.view(np.uint8)  # bool is one byte of 0/1
        mask = landslide8.copy()
        mask[~ok] = io.NODATA
        self.mask.write_rows(mask)
        self.polygons.add(landslide8, prob, row0)
        self.quicklook.add(image, landslide, row0)
        self.valid += int(np.count_nonzero(ok))

    def finish(self) -> None:
        """Close every writer with its last rows; all outputs stay under their ``.part`` names."""
        stats = self.polygons.close()
        self.count, self.area, self.dropped = stats.count, stats.area, stats.dropped
        self.prob.close()
        self.mask.close()
        a, b, _, d, e, _ = self.georef.transform
        metric = self.georef.kind != "pixel"
        legend = Legend(
            self.count,
            self.area,
            self.metres_per_pixel if metric else None,
            metric and b == 0 and d == 0 and e < 0,
            self.label,
        )
        self.quicklook.write(io.part_path(self.paths["quicklook"]), legend)

    def abandon(self) -> None:
        """Close whatever is still open after a failure; errors here would hide the real cause."""
        for close in (self.polygons.abandon, self.prob.close, self.mask.close):
            try:
                close()
            except Exception:  # noqa: BLE001 - the first error is the one the user sees
                pass


@dataclass
class _Strip:
    """One row of tiles on its way through the run: read and prepared, then predicted."""

    index: int
    row0: int
    stop: int  # rows [row0, stop) are final once this strip is blended
    image: np.ndarray  # HxWxC in the model's 0..255 range (uint8 scenes stay uint8)
    valid: np.ndarray
    nonfinite: int  # non-finite pixels among the final rows
    keep: list[int]  # tile columns with any valid pixel
    batches: list
    logits: list | None = None  # the runner's, per batch, until blended
    model_s: float = 0.0


@dataclass(frozen=True)
class Grid:
    """The tile layout of a scene in scene pixels: tile rows start at ``ys``, columns at ``xs``."""

    tile: int
    overlap: int
    ys: list[int]
    xs: list[int]
    height: int
    width: int

    @property
    def th(self) -> int:
        return min(self.tile, self.height)

    @property
    def tw(self) -> int:
        return min(self.tile, self.width)

    def stop(self, i: int) -> int:
        """The end of the rows tile row ``i`` makes final: where the next tile row starts."""
        return self.ys[i + 1] if i + 1 < len(self.ys) else self.height

    def first_reaching(self, i: int) -> int:
        """The first tile row that covers any row of tile row ``i``'s final rows."""
        return next(j for j in range(len(self.ys)) if self.ys[j] + self.th > self.ys[i])


# The network's context reaches past a tile (coordinate attention pools whole rows and columns,
# the MFF bottleneck sees about 270 px), so the field feeds it tiles twice its training tile:
# on held-out scenes with ground truth, 512 px tiles (overlap 64) gave the shipped model landslide
# IoU 52.45 against 52.01 for one whole-image pass, and 256 px tiles 47.32; pixels near seams
# disagreed with the whole pass 1.27x as often as elsewhere, against 1.73x. On large scenes it is
# also 26 % less network work per scene pixel (512^2 / 448^2 against 256^2 / 192^2).
FIELD_TILE_FACTOR = 2


def field_tile(options: InferOptions, config: ModelConfig, runner: Runner | None = None) -> int:
    """The tile side the field run feeds the network, in model pixels: ``options.tile``, else
    FIELD_TILE_FACTOR times the model's training tile, at most what the runner takes."""
    tile = options.tile or FIELD_TILE_FACTOR * config.tile
    limit = getattr(runner, "max_tile", None)
    return min(tile, limit) if limit else tile


def scene_grid(height: int, width: int, tile: int, overlap: int, factor: float) -> Grid:
    """The grid of a scene for a field tile of ``tile`` model pixels (see ``field_tile``)."""
    t, ov = scene_tiling(tile, overlap, factor)
    return Grid(t, ov, tile_origins(height, t, ov), tile_origins(width, t, ov), height, width)


@dataclass
class SceneSetup:
    """What a scene needs before its tiles run: bands, scaling, georeference, pixel size, the
    resampling factor, and the notes for the user."""

    indexes: list[int]
    scaling: io.Scaling
    georef: Georef
    scene_m: float | None
    factor: float
    notes: list[str]


def scene_setup(src, scene: Path, config: ModelConfig, options: InferOptions) -> SceneSetup:
    indexes = io.check_bands(src, config, scene)
    scaling = io.choose_scaling(src, indexes, config, options.scale)
    georef = Georef.from_dataset(src)
    notes = []
    if georef.kind == "pixel":
        what = "a CRS but no geotransform" if src.crs else "no georeference"
        notes.append(f"{scene.name} has {what}: outputs are in pixel units (areas in px^2, MMU in px)")
    elif georef.ground is None:
        notes.append(f"{scene.name}: its CRS has no geodetic datum: areas in map units x {georef.unit_m:g} m")
    if scaling.method != "none":
        notes.append(f"{scene.name} is {src.dtypes[indexes[0] - 1]}: scaled to 0..255 by {scaling.method}")
    scene_m = pixel_size_m(src)  # the georeference wins; --pixel-size speaks for scenes without one
    if scene_m is None:
        scene_m = options.pixel_size
    elif options.pixel_size is not None and abs(options.pixel_size - scene_m) > 0.01 * scene_m:
        notes.append(
            f"{scene.name}: --pixel-size {options.pixel_size:g} ignored, its georeference gives {scene_m:.3g} m"
        )
    factor, gsd_note = resample_factor(scene_m, config, parse_gsd(options.gsd))
    if gsd_note:
        notes.append(f"{scene.name}: {gsd_note}")
    return SceneSetup(indexes, scaling, georef, scene_m, factor, notes)


class StripReader:
    """Tile rows' strips of a scene, read in order: rows the previous strip already read (tile
    rows overlap by ``overlap``) are taken from it, so each scene row is decoded about once."""

    def __init__(self, src, setup: SceneSetup, config: ModelConfig, grid: Grid) -> None:
        self.src, self.setup, self.grid = src, setup, grid
        self.fill = np.asarray(config.norm.mean, dtype=np.float32) / np.float32(config.norm.scale)
        self.last: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None  # row0, raw, valid, nonfinite

    def _raw(self, y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th, path = self.grid.th, Path(self.src.name)
        last = self.last
        if last is not None and last[0] < y < last[0] + th:
            y0, raw0, valid0, nonfinite0 = last
            start = y0 + th  # the first row not read yet
            raw1, valid1, nonfinite1 = io.read_strip(self.src, self.setup.indexes, start, y + th - start, path)
            k = y - y0
            raw = np.concatenate([raw0[k:], raw1])
            valid = np.concatenate([valid0[k:], valid1])
            nonfinite = np.concatenate([nonfinite0[k:], nonfinite1])
        else:
            raw, valid, nonfinite = io.read_strip(self.src, self.setup.indexes, y, th, path)
        self.last = (y, raw, valid, nonfinite)  # shared with the strip: only its non-finite pixels
        return raw, valid, nonfinite  # are ever written, to the same fill value each time

    def strip(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Tile row ``i``'s rows of the scene in the model's range, its valid mask, and the count of
        non-finite pixels among its final rows (their values set to the normalisation mean)."""
        y = self.grid.ys[i]
        raw, valid, nonfinite = self._raw(y)
        image = self.setup.scaling.apply(raw)
        count = 0
        if nonfinite.any():  # absent pixels: the normalisation mean, which the network sees as 0
            image[nonfinite] = self.fill
            count = int(nonfinite[: self.grid.stop(i) - y].sum())
        return image, valid, count


def blend_rows(
    src,
    setup: SceneSetup,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    grid: Grid,
    rows: range,
    emit: Callable[[_Strip, np.ndarray], None],
    workers: int = 1,
) -> float:
    """Tile rows ``rows`` read, run and blended; ``emit(strip, prob)`` gets each one's final
    rows, in order. The tile rows before ``rows`` that reach into it run too (not emitted),
    so the blend is the one a whole-scene run makes, to the bit. Returns seconds in the model.

    Per strip: read and prepare (reader), run the model and nothing else (calling thread),
    sigmoid and blend (a thread), emit (a thread); with ``workers`` > 1 they overlap
    (field/stages.py), else they take turns."""
    ys, xs, th, tw, ov = grid.ys, grid.xs, grid.th, grid.tw, grid.overlap
    first = grid.first_reaching(rows.start) if rows.start > 0 else 0
    acc = StripAccumulator(th, grid.width, ys[first])
    weights = BlendWeights(ys, xs, th, tw, ov, grid.height, grid.width)
    model_s = [0.0]

    def read() -> Iterator[_Strip]:
        reader = StripReader(src, setup, config, grid)
        for i in range(first, rows.stop):
            image, valid, count = reader.strip(i)
            keep = [x for x in xs if valid[:, x : x + tw].any()]
            batches = prepare_batches([image[:, x : x + tw] for x in keep], config, options.batch, setup.factor)
            yield _Strip(i, ys[i], grid.stop(i), image, valid, count, keep, batches)

    def predict(strip: _Strip) -> _Strip:
        t0 = time.perf_counter()
        strip.logits = run_logits(runner, strip.batches, options.tta)
        strip.model_s = time.perf_counter() - t0
        for b in strip.batches:  # the inputs are done with: only the tile sizes travel on
            b.x = None
        model_s[0] += strip.model_s
        return strip

    def blend(strip: _Strip) -> tuple[_Strip, np.ndarray]:
        i, y = strip.index, strip.row0
        probs = probabilities(runner.name, strip.batches, strip.logits)
        strip.batches, strip.logits = [], None
        for x, p in zip(strip.keep, probs):
            acc.add(p, weights.window(i, xs.index(x)), y, x)
        prob = acc.rows(strip.stop)
        if i + 1 < len(ys):
            acc.advance(ys[i + 1])
        return strip, prob

    def deliver(blended: tuple[_Strip, np.ndarray]) -> None:
        if blended[0].index >= rows.start:
            emit(*blended)

    run_staged(read(), predict, [blend, deliver], threaded=overlapped(workers, len(rows)))
    return model_s[0]


def overlapped(workers: int, strips: int) -> bool:
    """Whether a run of ``strips`` tile rows overlaps its stages (see OVERLAP_MIN_STRIPS)."""
    return workers > 1 and strips >= OVERLAP_MIN_STRIPS


def _infer_strips(src, setup, runner, config, options, grid, sinks: _Sinks, on_tiles) -> tuple[int, int, float]:
    """Every tile row into the sinks; returns (tiles run, tiles skipped as all-nodata, model seconds)."""
    counts = {"run": 0, "skipped": 0}

    def write(strip: _Strip, prob: np.ndarray) -> None:
        n = strip.stop - strip.row0
        sinks.nonfinite += strip.nonfinite
        sinks.rows(prob, strip.valid[:n], strip.image[:n], strip.row0)
        counts["run"] += len(strip.keep)
        counts["skipped"] += len(grid.xs) - len(strip.keep)
        if on_tiles:
            on_tiles(len(grid.xs))

    model_s = blend_rows(src, setup, runner, config, options, grid, range(len(grid.ys)), write, options.workers)
    return counts["run"], counts["skipped"], model_s


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
    """Map one scene into ``OUT/NAME/``; returns its summary (also written as NAME_summary.json,
    renamed into place last). Holds the folder's lock while writing; on any failure, none of the
    new outputs appear under final names and a previous complete set stays as it was.

    ``assemble``: instead of running ``runner``, take the blended probabilities that workers
    made band by band (field/bands.py)."""
    import rasterio

    paths = scene_outputs(out, scene, name)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), outputs.SceneLock(paths["summary"].parent):
        outputs.remove_parts(paths, any_run=True)  # what a run that died left: we hold the lock
        outputs.check_targets(paths, options.overwrite)  # a user's file or a folder in the way: before any work
        try:
            return _run_scene(scene, paths, runner, config, options, model_info, on_start, on_tiles, warn, assemble)
        except BaseException:
            outputs.remove_parts(paths)
            raise


def _run_scene(scene, paths, runner, config, options, model_info, on_start, on_tiles, warn, assemble) -> dict:
    t0 = time.perf_counter()
    identity = outputs.scene_identity(scene)
    with io.open_scene(scene) as src:
        setup = scene_setup(src, scene, config, options)
        notes, georef, scene_m = setup.notes, setup.georef, setup.scene_m
        for n in notes:
            if warn:
                warn(n)
        grid = scene_grid(src.height, src.width, field_tile(options, config, runner), options.overlap, setup.factor)
        threaded = overlapped(options.workers, len(grid.ys))
        budget.check_scene("the scene", src, setup, grid, config, options, runner, threaded, assemble is not None)
        n_tiles = len(grid.ys) * len(grid.xs)
        if on_start:
            on_start(n_tiles)
        threshold = options.threshold_for(config)
        sinks = None
        try:
            model_name = Path(str(model_info.get("model", "lnet-edge"))).name
            label = f"{model_name} {model_info.get('precision', '')} | {time.strftime('%Y-%m-%d')}".replace("  ", " ")
            sinks = _Sinks(paths, src, georef, config, options, threshold, scene_m, label)
            if assemble is None:
                run, skipped, model_s = _infer_strips(src, setup, runner, config, options, grid, sinks, on_tiles)
            else:
                run, skipped, model_s = assemble(src, setup, config, grid, sinks)
            sinks.finish()
        except BaseException:
            if sinks is not None:
                sinks.abandon()
            raise
        if sinks.nonfinite:
            notes.append(f"{sinks.nonfinite} pixels of {scene.name} are NaN or infinite: nodata in every output")
            if warn:
                warn(notes[-1])
        scene_m2, _ = georef.metric(georef.to_map(_box(src.width, src.height)))
        km2 = scene_m2 / 1e6 if georef.kind != "pixel" else None
        summary = {
            "scene": str(scene),
            "scene_identity": identity,
            "height": src.height,
            "width": src.width,
            "bands": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs.to_string() if src.crs else None,
            "georeference": georef.kind,
            "area_method": georef.area_method,  # areas, perimeters, km² and pixel_size_m
            "scaling": setup.scaling.method,
            "scene_area_km2": round(km2, 6) if km2 is not None else None,
            "valid_pixels": sinks.valid,
            "nonfinite_pixels": sinks.nonfinite,
            "landslide_count": sinks.count,
            "landslide_area_m2" if km2 is not None else "landslide_area_px2": round(sinks.area, 2),
            "landslide_area_km2": round(sinks.area / 1e6, 6) if km2 is not None else None,
            "polygons_below_mmu": sinks.dropped,
            "min_area": options.min_area_m2,
            "threshold": threshold,
            "tiles": n_tiles,
            "tiles_run": run,
            "tiles_skipped_nodata": skipped,
            "pixel_size_m": round(scene_m, 6) if scene_m else None,
            "resample_factor": round(setup.factor, 6),
            "tta": options.tta,
        }
    seconds = time.perf_counter() - t0
    timing = {
        "seconds": round(seconds, 3),
        "model_seconds": round(model_s, 3),  # in run_logits: the runner alone
        "km2_per_second": round(km2 / seconds, 6) if km2 is not None and seconds > 0 else None,
    }
    if assemble is not None:  # the bands ran before, in other tasks: their time is the scene's too
        timing = assemble.timing(seconds, model_s, km2)
    summary.update(
        {
            **timing,
            **model_info,
            "shaping_options": shaping_options(options, config, runner),
            "notes": notes,
            "folder": str(paths["summary"].parent.resolve()),  # where it was written (informational)
            "outputs": {k: v.name for k, v in paths.items() if k != "summary"},  # relative to the folder
        }
    )
    io.write_bytes_synced(io.part_path(paths["options"]), json.dumps(asdict(options), indent=2).encode())
    outputs.commit_set(paths, summary)
    return summary


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
        summary = run_scene(
            scene,
            out,
            runner,
            config,
            options,
            model_info,
            (lambda n: on_start(scene, n)) if on_start else None,
            on_tiles,
            warn,
            name,
            assemble,
        )
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
