"""Before/after pairs into output folders: ``map_pairs`` maps each pair's after scene into
``OUT/NAME/`` and its before scene into ``OUT/NAME/before/`` (the usual outputs of each, by the
same model, each with its own resolution handling), then compares them (field/change_map.py)
and adds the change outputs to ``OUT/NAME/``:

- ``NAME_change.tif``: uint8 classes (field/change.Change), 255 where the after scene has no data;
- ``NAME_change.geojson`` / ``.gpkg``: new, persisting and gone polygons with both maps' mean
  probabilities;
- ``NAME_change_quicklook.png``: the before scene beside the after scene, classes filled;
- ``NAME_change_summary.json``: the classes' areas and counts, the measured shift, both scenes'
  paths and sha256, written last: the marker of a complete change set.

A change set is remade whenever either scene's outputs were remade (the change summary records
the sha256 of both scene summaries) or the change options changed; a pair's failure never stops
the other pairs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lnet_edge.errors import LnetError
from lnet_edge.field import io, outputs
from lnet_edge.field.catalogue import CHANGE_SUMMARY, complete_summary
from lnet_edge.field.change_map import (
    ChangeInputs,
    ChangeOptions,
    MeasuredShift,
    coregistration,
    display_bands,
    measure_shift,
    shift_text,
    tally_json,
    write_change,
)
from lnet_edge.field.change_quicklook import ChangeLegend, change_panels, display, write_png
from lnet_edge.field.options import InferOptions
from lnet_edge.field.pairing import Grid, Pair, check_pair
from lnet_edge.field.pipeline import describe_failure, map_scene
from lnet_edge.field.quicklook import quicklook_step
from lnet_edge.field.reader import GDAL_CACHE_MB
from lnet_edge.field.sinks import quicklook_label
from lnet_edge.field.summary import SceneResult
from lnet_edge.field.vectorize import Georef
from lnet_edge.files import sha256_file

BEFORE_DIR = "before"  # OUT/NAME/before/: the before scene's own outputs
CHANGE_SUFFIXES = {
    "change": "_change.tif",
    "change_polygons": "_change.geojson",
    "change_geopackage": "_change.gpkg",
    "change_quicklook": "_change_quicklook.png",
}
PANEL_SIDE = 1536  # long side of each quicklook panel, px


def change_paths(folder: Path) -> dict[str, Path]:
    name = folder.name
    paths = {k: folder / f"{name}{suffix}" for k, suffix in CHANGE_SUFFIXES.items()}
    return {**paths, "options": folder / "change_options.json", "summary": folder / f"{name}{CHANGE_SUMMARY}"}


def map_pairs(
    pairs: list[Pair],
    out: Path,
    runner,
    config,
    options: InferOptions,
    change: ChangeOptions,
    model_info: dict,
    on_start: Callable[[Path, int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[SceneResult]:
    """Every pair mapped and compared (see the module docstring); results are the after scenes'."""
    names = outputs.scene_folders([p.after for p in pairs], out)
    results = []
    for pair in pairs:
        folder = out / names[pair.after]

        def scene(path: Path, where: Path, name: str) -> SceneResult:
            return map_scene(path, where, name, runner, config, options, model_info, on_start, on_tiles, warn)

        results.append(map_pair(pair, folder, scene, options, change, model_info, warn))
    return results


def map_pair(pair: Pair, folder: Path, scene, options: InferOptions, change: ChangeOptions, model_info, warn):
    """One pair: both scenes through ``scene(path, out, name)`` (map_scene or a cluster's), then
    the change set; never raises for the pair's own faults."""
    try:
        share = check_scenes(pair, change.pixel_pairs)
        same = same_scene(pair)
        after = scene(pair.after, folder.parent, folder.name)
        if after.status == "failed":
            return after
        before = after if same else scene(pair.before, folder, BEFORE_DIR)
        if before.status == "failed":
            return SceneResult(pair.after, "failed", f"before scene {pair.before}: {before.message}", folder)
        if same and warn:
            warn(f"{pair.after} is its own before scene: every landslide is persisting")
        summary, reason = _change_set(pair, folder, share, same, options, change, model_info, warn)
        after_summary = complete_summary(folder) or {}
        record = summary or json.loads(change_paths(folder)["summary"].read_text())
        if summary is None:
            return SceneResult(pair.after, "skipped", "outputs complete (use --overwrite to redo)", folder,
                               {**after_summary, "change": record})  # fmt: skip
        message = after.message if after.status == "done" else f"change redone: {reason}"
        return SceneResult(pair.after, "done", message, folder, {**after_summary, "change": record})
    except LnetError as exc:
        return SceneResult(pair.after, "failed", str(exc), folder)
    except Exception as exc:  # noqa: BLE001 - one pair's failure must not end the batch
        return SceneResult(pair.after, "failed", describe_failure(exc, folder), folder)


def check_scenes(pair: Pair, pixel_pairs: bool) -> float:
    """The share of the after scene the before scene covers, or the LnetError refusing the pair."""
    with io.open_scene(pair.after) as a, io.open_scene(pair.before) as b:
        return check_pair(a, b, pair, pixel_pairs)


def same_scene(pair: Pair) -> bool:
    """The same file, or two files of the same bytes (hashed only when their sizes agree)."""
    if pair.after.resolve() == pair.before.resolve():
        return True
    if pair.after.stat().st_size != pair.before.stat().st_size:
        return False
    return sha256_file(pair.after) == sha256_file(pair.before)


def _inputs_record(folder: Path, same: bool, options: InferOptions, change: ChangeOptions) -> dict:
    """What a change set is made from: both scene summaries (remade with their scenes' outputs)
    and the options; compared on a rerun."""
    after = outputs.output_paths(folder.parent, folder.name)["summary"]
    before = after if same else outputs.output_paths(folder, BEFORE_DIR)["summary"]
    return {
        "after_summary_sha256": sha256_file(after),
        "before_summary_sha256": sha256_file(before),
        "change_options": asdict(change),
        "min_area": options.min_area_m2,
        "quicklook_size": options.quicklook_size,
    }


def _stale(paths: dict[str, Path], inputs: dict) -> str | None:
    """None when the change set is complete and made from these inputs, else why it is remade."""
    try:
        old = json.loads(paths["summary"].read_text())
    except (OSError, ValueError):
        return "no complete change outputs"
    recorded = old.get("inputs") if isinstance(old, dict) else None
    if not isinstance(recorded, dict):
        return "no complete change outputs"
    if recorded.get("before_summary_sha256") != inputs["before_summary_sha256"]:
        return "the before scene's map changed"
    if recorded.get("after_summary_sha256") != inputs["after_summary_sha256"]:
        return "the after scene's map changed"
    if recorded != inputs:
        return "options changed"
    listed = old.get("outputs")
    if not isinstance(listed, dict) or set(listed) != set(paths) - {"summary"}:
        return "the change summary lists other outputs"
    if not all(isinstance(n, str) and (paths["summary"].parent / n).is_file() for n in listed.values()):
        return "change outputs missing"
    return None


def _change_set(pair, folder, share, same, options, change, model_info, warn) -> tuple[dict | None, str | None]:
    """The change outputs of ``folder`` and why they were made (None, None: they were complete
    already), under the folder's lock."""
    import rasterio

    paths = change_paths(folder)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), outputs.SceneLock(folder):
        inputs = _inputs_record(folder, same, options, change)
        reason = "--overwrite" if options.overwrite else _stale(paths, inputs)
        if reason is None:
            return None, None
        outputs.remove_parts(paths, any_run=True)
        outputs.check_targets(paths, options.overwrite)
        try:
            summary = _compare(pair, folder, paths, share, same, inputs, change, model_info, warn)
            io.write_bytes_synced(io.part_path(paths["options"]), json.dumps(asdict(change), indent=2).encode())
            outputs.commit_set(paths, summary)
            return summary, reason
        except BaseException:
            outputs.remove_parts(paths)
            raise


def _compare(pair, folder, paths, share, same, inputs, change, model_info, warn) -> dict:
    t0 = time.perf_counter()
    after_summary = json.loads(outputs.output_paths(folder.parent, folder.name)["summary"].read_text())
    before_dir = folder if same else folder / BEFORE_DIR
    before_name = folder.name if same else BEFORE_DIR
    before_summary = json.loads(outputs.output_paths(before_dir.parent, before_name)["summary"].read_text())
    pixel_m = after_summary.get("pixel_size_m")
    stated_m = pixel_m if after_summary.get("georeference") == "pixel" else None  # --pixel-size
    tolerance = change.tolerance_px(pixel_m, pair.after)
    with io.open_scene(pair.after) as a_src, io.open_scene(pair.before) as b_src:
        shift = measure_shift(a_src, b_src, change.pixel_pairs)
        applied = coregistration(shift, change, pixel_m, pair)
        measured = MeasuredShift(shift, applied, pixel_m)
        shift_json = measured.to_json(tolerance, a_src.transform)
        notes = _shift_notes(shift_json, tolerance, pixel_m, change)
        grid = Grid.of(a_src)
        grid = grid.shifted(shift.dy, shift.dx) if applied and not change.pixel_pairs else grid
        offset = (round(shift.dy), round(shift.dx)) if applied and change.pixel_pairs else (0, 0)
        inputs_ = ChangeInputs(
            folder / after_summary["outputs"]["probability"],
            folder / after_summary["outputs"]["mask"],
            before_dir / before_summary["outputs"]["probability"],
            float(before_summary["threshold"]),
            tolerance,
            float(after_summary["min_area"]),
            change.margin,
            stated_m,
        )
        pixels, tallies = write_change(inputs_, paths, grid, change.pixel_pairs, offset)
        georef = Georef.from_dataset(a_src, stated_m)
        classes = tally_json(pixels, tallies, georef)
        _quicklook(a_src, b_src, paths, grid, offset, change.pixel_pairs, classes, georef, shift_json, model_info)
    if change.pixel_pairs:
        notes.append("--pixel-pairs: the two scenes are compared pixel for pixel, without a georeference")
    for note in notes if warn else ():
        warn(f"{pair.after.name}: {note}")
    after_sha256 = sha256_file(pair.after)
    return {
        "after": {"scene": str(pair.after.resolve()), "sha256": after_sha256, "folder": "."},
        "before": {
            "scene": str(pair.before.resolve()),
            "sha256": after_sha256 if same else sha256_file(pair.before),
            "folder": "." if same else BEFORE_DIR,
        },
        "same_scene": same,
        "pixel_pairs": change.pixel_pairs,
        "overlap_share": round(share, 4),
        "shift": shift_json,
        "tolerance_px": tolerance,
        "tolerance_m": round(tolerance * pixel_m, 3) if pixel_m else None,
        "margin": change.margin,
        "classes": classes,
        "thresholds": {"after": after_summary["threshold"], "before": before_summary["threshold"]},
        "model_sha256": model_info.get("model_sha256"),
        "inputs": inputs,
        "seconds": round(time.perf_counter() - t0, 3),
        "notes": notes,
        "folder": str(folder.resolve()),
        "outputs": {k: v.name for k, v in paths.items() if k != "summary"},
    }


def _shift_notes(shift: dict, tolerance: int, pixel_m: float | None, change: ChangeOptions) -> list[str]:
    if not shift["reliable"]:
        return ["the shift between the scenes could not be measured (too little common texture): not checked"]
    if not shift["exceeds_tolerance"]:
        return []
    size = shift_text(shift)
    done = "undone (--coregister)" if shift["applied"] else "add --coregister to undo it, or raise --shift-tolerance"
    return [f"the before scene sits {size} from the after scene, more than the tolerance ({tolerance} px): {done}"]


def _quicklook(a_src, b_src, paths, grid: Grid, offset, pixel_pairs: bool, classes, georef, shift, model_info) -> None:
    """The two panels, read decimated: the after scene, the before scene on the (shifted) after grid,
    and the change raster just written."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    step = quicklook_step(a_src.height, a_src.width, PANEL_SIDE)
    shape = (-(-a_src.height // step), -(-a_src.width // step))
    a_bands, b_bands = display_bands(a_src), display_bands(b_src)
    after = display(np.moveaxis(a_src.read(a_bands, out_shape=(len(a_bands), *shape)), 0, -1))
    if pixel_pairs:
        before_raw = _offset_read(b_src, offset, shape, step)
    else:
        with WarpedVRT(b_src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height) as vrt:
            before_raw = vrt.read(b_bands, out_shape=(len(b_bands), *shape), resampling=Resampling.average)
    before = display(np.moveaxis(before_raw, 0, -1))
    with rasterio.open(io.part_path(paths["change"])) as c_src:
        change = c_src.read(1, out_shape=shape, resampling=Resampling.nearest)
    unit = "m2" if georef.in_metres else "px2"
    counts = {k: v["polygons"] for k, v in classes.items() if "polygons" in v}
    areas = {k: v[f"area_{unit}"] for k, v in classes.items() if "polygons" in v}
    metric = georef.in_metres
    measured = f"shift {shift_text(shift)}" + (" (undone)" if shift["applied"] else "") if shift["reliable"] else None
    legend = ChangeLegend(
        counts,
        areas,
        georef.pixel_size_m() if metric else None,
        georef.north_up,
        quicklook_label(model_info),
        measured,
    )
    write_png(io.part_path(paths["change_quicklook"]), change_panels(before, after, change, legend, step))


def _offset_read(src, offset: tuple[int, int], shape: tuple[int, int], step: int):
    """A pixel-for-pixel before scene, decimated, with its whole-pixel shift undone."""
    bands = display_bands(src)
    data = src.read(bands, out_shape=(len(bands), *shape))
    dy, dx = round(offset[0] / step), round(offset[1] / step)
    return np.roll(data, (-dy, -dx), axis=(1, 2))
