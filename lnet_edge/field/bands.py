"""One large scene on several workers: row bands of tiles mapped to probabilities in parallel,
then one task that writes the scene's outputs from them.

A band is a range of tile rows, ``[k n / K, (k + 1) n / K)`` of a scene's ``n`` tile rows for
band ``k`` of ``K``; its task also runs the tile rows above it that reach into its rows, so its
blended probabilities are bit for bit those of a whole-scene run (field/strips.blend_rows).
It writes them, float32, to ``OUT/.bands/NAME/band-K.f32`` (a
temporary name, then renamed) with its tile counts beside it in ``band-K.json``.

The assembling task reads the bands back strip by strip, in the tile rows of a whole-scene run,
and feeds the same writers: rasters, polygons (traced across band edges as one scene, so a
landslide that crosses a band edge is one polygon), quicklook and summary. Its outputs are the
bytes a single-process run writes. The scene's summary counts the time of every task: its
``seconds`` are the bands' and the assembly's together (one worker's time, as for a scene mapped
whole, so ``km2_per_second`` compares), ``elapsed_seconds`` the wall-clock time from the first
band's start, and ``bands`` each part. Memory stays O(tile x scene width) in every task; the bands
take 4 bytes per pixel of shared storage until the scene is assembled.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.field import budget, io
from lnet_edge.field.grid import Grid, scene_grid
from lnet_edge.field.options import InferOptions, field_tile
from lnet_edge.field.reader import GDAL_CACHE_MB, SceneSetup, StripReader, scene_setup
from lnet_edge.field.sinks import SceneSinks
from lnet_edge.field.strips import blend_rows, overlapped
from lnet_edge.field.summary import SceneTiming
from lnet_edge.runners.base import Runner

BANDS_DIR = ".bands"


def band_dir(out: Path, name: str) -> Path:
    return out / BANDS_DIR / name


def band_rows(n_rows: int, k: int, count: int) -> range:
    """The tile rows of band ``k`` of ``count``."""
    return range(k * n_rows // count, (k + 1) * n_rows // count)


def map_band(
    scene: Path,
    out: Path,
    name: str,
    k: int,
    count: int,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    on_start: Callable[[int], None] | None = None,
    on_tiles: Callable[[int], None] | None = None,
) -> dict:
    """Band ``k`` of ``count`` of ``scene`` into OUT/.bands/NAME/band-K.f32; returns its counts.
    ``on_start(tiles)`` and ``on_tiles(tiles)`` report progress as in run_scene."""
    import rasterio

    t0, started = time.perf_counter(), time.time()
    d = band_dir(out, name)
    d.mkdir(parents=True, exist_ok=True)
    dest = d / f"band-{k}.f32"
    counts = {"run": 0, "skipped": 0}
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), io.open_scene(scene) as src:
        setup = scene_setup(src, scene, config, options)
        grid = scene_grid(src.height, src.width, field_tile(options, config, runner), options.overlap, setup.factor)
        rows = band_rows(len(grid.ys), k, count)
        threaded = overlapped(options.workers, len(rows))
        budget.check_scene(f"band {k + 1} of {count}", src, setup, grid, config, options, runner, threaded, False)
        if not len(rows):  # more bands than tile rows: an empty band, recorded so the assembly sees it
            meta = {"band": k, "rows": [0, 0], **counts, "model_seconds": 0.0, "seconds": 0.0, "started": started}
            io.write_bytes_synced(dest.with_suffix(".json"), json.dumps(meta).encode())
            return meta
        if on_start:
            on_start(len(rows) * len(grid.xs))
        part = io.part_path(dest)
        try:
            with open(part, "wb") as f:

                def emit(strip, prob) -> None:
                    f.write(prob.tobytes())
                    counts["run"] += len(strip.keep)
                    counts["skipped"] += len(grid.xs) - len(strip.keep)
                    if on_tiles:
                        on_tiles(len(grid.xs))

                model_s = blend_rows(src, setup, runner, config, options, grid, rows, emit, options.workers)
                f.flush()
                os.fsync(f.fileno())
            part.replace(dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        meta = {"band": k, "rows": [grid.ys[rows.start], grid.stop(rows.stop - 1)], **counts, "model_seconds": model_s}
        meta |= {"seconds": time.perf_counter() - t0, "started": started}
    io.write_bytes_synced(dest.with_suffix(".json"), json.dumps(meta).encode())
    return meta


class Assembler:
    """``assemble`` of field/pipeline.run_scene: the bands' probabilities, in whole-scene strips."""

    def __init__(self, out: Path, name: str, count: int) -> None:
        self.dir, self.count = band_dir(out, name), count
        self.check: Callable[[], None] = lambda: None  # called per strip: raises to stop the task
        self.metas: list[dict] = []

    def __call__(
        self, src, setup: SceneSetup, config: ModelConfig, grid: Grid, sinks: SceneSinks
    ) -> tuple[int, int, float]:
        self.metas = [json.loads((self.dir / f"band-{k}.json").read_text()) for k in range(self.count)]
        metas = [m for m in self.metas if m["rows"][1] > m["rows"][0]]
        if (
            metas[0]["rows"][0] != 0
            or metas[-1]["rows"][1] != grid.height
            or any(a["rows"][1] != b["rows"][0] for a, b in zip(metas, metas[1:]))
        ):
            raise RuntimeError(f"the bands in {self.dir} do not tile the scene's rows: {[m['rows'] for m in metas]}")
        files = [(m["rows"], self.dir / f"band-{m['band']}.f32") for m in metas]
        for (r0, r1), path in files:
            if path.stat().st_size != (r1 - r0) * grid.width * 4:
                raise RuntimeError(f"band file {path} is incomplete")
        reader = StripReader(src, setup, config, grid)
        for i, y in enumerate(grid.ys):
            self.check()
            stop = grid.stop(i)
            image, valid, count = reader.strip(i)
            n = stop - y
            sinks.nonfinite += count
            sinks.rows(self._rows(files, y, stop, grid.width), valid[:n], image[:n], y)
        return (
            sum(m["run"] for m in metas),
            sum(m["skipped"] for m in metas),
            sum(m["model_seconds"] for m in metas),
        )

    def timing(self, seconds: float, model_s: float) -> SceneTiming:
        """The scene's times (see the module docstring): ``seconds`` of this assembly, ``model_s``
        the bands' seconds in the model."""
        bands = sum(m.get("seconds", 0.0) for m in self.metas)
        started = min((m["started"] for m in self.metas if "started" in m), default=time.time() - seconds)
        return SceneTiming(
            bands + seconds,
            model_s,
            elapsed_seconds=max(time.time() - started, seconds),
            bands={"count": self.count, "seconds": round(bands, 3), "assemble_seconds": round(seconds, 3)},
        )

    @staticmethod
    def _rows(files, y: int, stop: int, width: int) -> np.ndarray:
        for (r0, r1), path in files:
            if r0 <= y and stop <= r1:
                return np.fromfile(
                    path, dtype=np.float32, count=(stop - y) * width, offset=(y - r0) * width * 4
                ).reshape(stop - y, width)
        raise RuntimeError(f"no band holds rows {y}-{stop}")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
