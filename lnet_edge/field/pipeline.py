"""Whole-scene inference: strips of overlapping tiles -> Runner -> blend -> outputs.

For each tile row: read the rows it covers (all bands the model reads, full width), cut the
tiles, skip those whose pixels are all nodata, run the rest in batches, add them into a strip
accumulator with a raised-cosine weight, then hand the rows no later tile can touch to the
writers (probability, mask, polygons as GeoJSON and GeoPackage, quicklook). Peak memory is
O(tile x scene width).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lnet_edge.data.normalize import normalize
from lnet_edge.data.tiles import pad_to
from lnet_edge.errors import LnetError
from lnet_edge.field import io
from lnet_edge.field.blending import StripAccumulator, blend_window
from lnet_edge.field.gpkg import GeoPackageWriter
from lnet_edge.field.quicklook import Quicklook
from lnet_edge.field.tiling import tile_origins
from lnet_edge.field.vectorize import GeoJsonWriter, Georef, Polygon, StripVectorizer
from lnet_edge.model.config import ModelConfig
from lnet_edge.runners.base import Runner

OPTIONS_NAME = "infer_options.json"
GDAL_CACHE_MB = 256  # GDAL's block cache defaults to 5 % of RAM: 1+ GB on a 24 GB laptop


@dataclass(frozen=True)
class InferOptions:
    """Everything that shapes a field run's outputs; saved as ``infer_options.json`` per scene."""

    overlap: int = 64  # px shared by neighbouring tiles (a quarter of a 256 px tile)
    batch: int = 4  # tiles per runner call
    threshold: float | None = None  # probability -> mask; None: the model's own threshold
    min_area_m2: float = 100.0  # minimum mapping unit (pixels when the scene has no georeference)
    scale: str = "auto"  # see io.choose_scaling
    quicklook_size: int = 2048  # long side of the quicklook PNG, px
    overwrite: bool = False


@dataclass(frozen=True)
class SceneResult:
    scene: Path
    status: str  # "done", "skipped" or "failed"
    message: str
    out_dir: Path
    summary: dict | None = None


def scene_outputs(out: Path, scene: Path) -> dict[str, Path]:
    """Where a scene's outputs go: OUT/STEM/STEM_*.*"""
    d = out / scene.stem
    s = scene.stem
    return {
        "probability": d / f"{s}_probability.tif",
        "mask": d / f"{s}_mask.tif",
        "polygons": d / f"{s}_landslides.geojson",
        "geopackage": d / f"{s}_landslides.gpkg",
        "quicklook": d / f"{s}_quicklook.png",
        "options": d / OPTIONS_NAME,
        "summary": d / f"{s}_summary.json",
    }


def is_complete(paths: dict[str, Path]) -> bool:
    """A scene is done when its summary (written last) and every output it lists exist."""
    if not paths["summary"].is_file():
        return False
    try:
        listed = json.loads(paths["summary"].read_text())["outputs"].values()
    except (OSError, ValueError, KeyError):
        return False
    return all(Path(p).is_file() for p in listed)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Probabilities from logits, in float32 after the engine (fp16/int8 never squeeze them)."""
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32)))).astype(np.float32)


def predict_tiles(runner: Runner, tiles: list[np.ndarray], config: ModelConfig, batch: int) -> list[np.ndarray]:
    """Probability of each HxWxC tile; tiles smaller than the model tile are reflect-padded
    (bottom/right) to it, and the padding is cut off again."""
    out: list[np.ndarray] = []
    t = config.tile
    for i in range(0, len(tiles), batch):
        chunk = tiles[i : i + batch]
        x = np.stack([normalize(pad_to(c, t, t), config.norm) for c in chunk])
        probs = sigmoid(runner.logits(x)[:, 0])
        out += [p[: c.shape[0], : c.shape[1]] for p, c in zip(probs, chunk)]
    return out


class _Sinks:
    """The writers of one scene; ``rows`` feeds them final rows, ``close`` commits or discards."""

    def __init__(
        self, paths, src, georef: Georef, config: ModelConfig, options: InferOptions, threshold: float
    ) -> None:
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
        epsg = src.crs.to_epsg() if src.crs else None
        crs_name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else (src.crs.to_wkt() if src.crs else None)
        self.geojson = GeoJsonWriter(io.part_path(paths["polygons"]), crs_name)
        self.unit = "px" if georef.kind == "pixel" else "m"
        fields = {"id": int, f"area_{self.unit}2": float, f"perimeter_{self.unit}": float}
        fields |= {"mean_probability": float, "max_probability": float, "pixels": int}
        self.gpkg = GeoPackageWriter(io.part_path(paths["geopackage"]), src.crs, fields)
        self.georef, self.options, self.threshold = georef, options, threshold
        self.vectorizer = StripVectorizer(self._polygon, georef.min_pixels(options.min_area_m2))
        self.quicklook = Quicklook(src.height, src.width, options.quicklook_size)
        self.paths = paths
        self.count, self.area, self.dropped, self.valid = 0, 0.0, 0, 0

    def rows(self, prob: np.ndarray, covered: np.ndarray, valid: np.ndarray, image: np.ndarray, row0: int) -> None:
        ok = covered & valid
        landslide = (prob > self.threshold) & ok
        self.prob.write_rows(np.where(ok, np.round(prob * 100), io.NODATA).astype(np.uint8))
        self.mask.write_rows(np.where(ok, landslide, io.NODATA).astype(np.uint8))
        self.vectorizer.add(landslide.astype(np.uint8), prob, row0)
        self.quicklook.add(image, landslide, row0)
        self.valid += int(ok.sum())

    def _polygon(self, poly: Polygon) -> None:
        geom = self.georef.to_map(poly.geometry)
        area, perimeter = self.georef.metric(geom)
        if area < self.options.min_area_m2:
            self.dropped += 1
            return
        self.count += 1
        self.area += area
        properties = {
            "id": self.count,
            f"area_{self.unit}2": round(area, 2),
            f"perimeter_{self.unit}": round(perimeter, 2),
            "mean_probability": round(poly.mean_probability, 4),
            "max_probability": round(poly.max_probability, 4),
            "pixels": poly.pixels,
        }
        self.geojson.write(properties, geom)
        self.gpkg.write(properties, geom)

    def close(self, complete: bool) -> None:
        if complete:
            self.vectorizer.close()
            self.dropped += self.vectorizer.dropped
        self.prob.close(complete)
        self.mask.close(complete)
        self.geojson.close()
        self.gpkg.close()
        if complete:
            io.commit(self.paths["polygons"])
            io.commit(self.paths["geopackage"])
            self.quicklook.write(io.part_path(self.paths["quicklook"]))
            io.commit(self.paths["quicklook"])


def _infer_strips(src, indexes, scaling, runner, config, options, sinks: _Sinks, on_tiles) -> tuple[int, int, float]:
    """The tile-row loop; returns (tiles run, tiles skipped as all-nodata, seconds in the model)."""
    h, w, t, ov = src.height, src.width, config.tile, options.overlap
    ys, xs = tile_origins(h, t, ov), tile_origins(w, t, ov)
    th, tw = min(t, h), min(t, w)
    acc = StripAccumulator(th, w, 0)
    run = skipped = 0
    model_s = 0.0
    for i, y in enumerate(ys):
        raw, valid = io.read_strip(src, indexes, y, th, sinks.paths["probability"].parent / src.name)
        image = scaling.apply(raw)
        keep = [x for x in xs if valid[:, x : x + tw].any()]
        skipped += len(xs) - len(keep)
        t0 = time.perf_counter()
        probs = predict_tiles(runner, [image[:, x : x + tw] for x in keep], config, options.batch)
        model_s += time.perf_counter() - t0
        for x, p in zip(keep, probs):
            j = xs.index(x)
            weight = blend_window(th, tw, ov, i > 0, i < len(ys) - 1, j > 0, j < len(xs) - 1)
            acc.add(p, weight, y, x)
        run += len(keep)
        stop = ys[i + 1] if i + 1 < len(ys) else h
        prob, covered = acc.rows(stop)
        n = stop - y
        sinks.rows(prob, covered, valid[:n], image[:n], y)
        if i + 1 < len(ys):
            acc.advance(ys[i + 1])
        if on_tiles:
            on_tiles(len(xs))
    return run, skipped, model_s


def run_scene(
    scene: Path,
    out: Path,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    model_info: dict,
    on_start: Callable[[int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict:
    """Map one scene; returns its summary (also written as STEM_summary.json, last)."""
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        return _run_scene(scene, out, runner, config, options, model_info, on_start, on_tiles, warn)


def _run_scene(scene, out, runner, config, options, model_info, on_start, on_tiles, warn) -> dict:
    paths = scene_outputs(out, scene)
    t0 = time.perf_counter()
    with io.open_scene(scene) as src:
        indexes = io.check_bands(src, config, scene)
        scaling = io.choose_scaling(src, indexes, config, options.scale)
        georef = Georef.from_dataset(src)
        notes = []
        if georef.kind == "pixel":
            notes.append(f"{scene.name} has no georeference: outputs are in pixel units (areas in px^2, MMU in px)")
        if scaling.method != "none":
            notes.append(f"{scene.name} is {src.dtypes[indexes[0] - 1]}: scaled to 0..255 by {scaling.method}")
        for n in notes:
            if warn:
                warn(n)
        n_tiles = len(tile_origins(src.height, config.tile, options.overlap)) * len(
            tile_origins(src.width, config.tile, options.overlap)
        )
        if on_start:
            on_start(n_tiles)
        paths["summary"].parent.mkdir(parents=True, exist_ok=True)
        paths["summary"].unlink(missing_ok=True)  # a rerun with --overwrite must not look complete midway
        threshold = config.threshold if options.threshold is None else options.threshold
        sinks = None
        try:
            sinks = _Sinks(paths, src, georef, config, options, threshold)
            run, skipped, model_s = _infer_strips(src, indexes, scaling, runner, config, options, sinks, on_tiles)
            sinks.close(True)
        except BaseException:
            if sinks is not None:
                sinks.close(False)
            io.discard_parts(paths["summary"].parent)  # also what a writer that failed to open left
            raise
        scene_m2, _ = georef.metric(georef.to_map(_box(src.width, src.height)))
        km2 = scene_m2 / 1e6 if georef.kind != "pixel" else None
        summary = {
            "scene": str(scene),
            "height": src.height,
            "width": src.width,
            "bands": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs.to_string() if src.crs else None,
            "georeference": georef.kind,
            "scaling": scaling.method,
            "scene_area_km2": round(km2, 6) if km2 is not None else None,
            "valid_pixels": sinks.valid,
            "landslide_count": sinks.count,
            "landslide_area_m2" if km2 is not None else "landslide_area_px2": round(sinks.area, 2),
            "landslide_area_km2": round(sinks.area / 1e6, 6) if km2 is not None else None,
            "polygons_below_mmu": sinks.dropped,
            "min_area": options.min_area_m2,
            "threshold": threshold,
            "tiles": n_tiles,
            "tiles_run": run,
            "tiles_skipped_nodata": skipped,
        }
    seconds = time.perf_counter() - t0
    summary.update(
        {
            "seconds": round(seconds, 3),
            "model_seconds": round(model_s, 3),  # in predict_tiles: batching, the runner, sigmoid
            "km2_per_second": round(km2 / seconds, 6) if km2 is not None and seconds > 0 else None,
            **model_info,
            "notes": notes,
            "outputs": {k: str(v) for k, v in paths.items() if k != "summary"},
        }
    )
    _write_json(paths["options"], asdict(options))
    _write_json(paths["summary"], summary)
    return summary


def _box(w: int, h: int):
    from shapely.geometry import box

    return box(0, 0, w, h)


def _write_json(path: Path, data: dict) -> None:
    part = io.part_path(path)
    part.write_text(json.dumps(data, indent=2))
    io.commit(path)


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
    """Map every scene; one scene's user error or write failure never stops the others."""
    results = []
    for scene in scenes:
        paths = scene_outputs(out, scene)
        d = paths["summary"].parent
        if not options.overwrite and is_complete(paths):
            results.append(SceneResult(scene, "skipped", "outputs complete (use --overwrite to redo)", d))
            continue
        try:
            summary = run_scene(
                scene,
                out,
                runner,
                config,
                options,
                model_info,
                (lambda n, s=scene: on_start(s, n)) if on_start else None,
                on_tiles,
                warn,
            )
            results.append(SceneResult(scene, "done", "", d, summary))
        except LnetError as exc:
            results.append(SceneResult(scene, "failed", str(exc), d))
        except OSError as exc:
            results.append(SceneResult(scene, "failed", io.describe_os_error(exc, Path(exc.filename or d)), d))
    return results
