"""What a field run reports: a scene's summary (``SceneSummary``, written as NAME_summary.json,
the marker of a complete set) and a scene's result in a batch (``SceneResult``).

The summary's JSON is the file format: its keys and their order are fixed by ``to_json``. The
landslide area is one field, ``landslide_area``, measured in m² on the ground when the scene has
a georeference (or, without one, a pixel size given by --pixel-size) and in px² otherwise; its
key says the unit (``landslide_area_m2`` or ``landslide_area_px2``), so a reader never takes
pixels for metres. ``landslide_area`` (the
function) reads it back from a written summary with its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SceneTiming:
    """The seconds of a scene: of its own task, or of every task of a scene mapped in bands."""

    seconds: float  # the scene's work: a banded scene's bands and its assembly together
    model_seconds: float  # in run_logits: the runner alone
    elapsed_seconds: float | None = None  # banded: wall-clock time from the first band's start
    bands: dict | None = None  # banded: {"count", "seconds" (the bands'), "assemble_seconds"}

    def to_json(self, km2: float | None) -> dict:
        """The timing keys of the summary; ``km2``: the scene's area (None without a georeference)."""
        out: dict = {
            "seconds": round(self.seconds, 3),
            "model_seconds": round(self.model_seconds, 3),
            "km2_per_second": round(km2 / self.seconds, 6) if km2 is not None and self.seconds > 0 else None,
        }
        if self.elapsed_seconds is not None:
            out["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        if self.bands is not None:
            out["bands"] = self.bands
        return out


@dataclass(frozen=True)
class SceneSummary:
    """A mapped scene, field for field as its summary JSON says it (unrounded here)."""

    scene: str
    scene_identity: dict  # what the outputs were made from (outputs.scene_identity)
    height: int
    width: int
    bands: int
    dtype: str
    crs: str | None
    georeference: str  # "projected", "geographic" or "pixel" (field/vectorize.Georef.kind)
    area_method: str  # how areas, perimeters, km² and pixel_size_m were measured
    scaling: str
    scene_area_km2: float | None  # None without a georeference
    valid_pixels: int
    nonfinite_pixels: int
    landslide_count: int
    landslide_area: float  # m² with a georeference or --pixel-size, px² without (see the module docstring)
    polygons_below_mmu: int
    min_area: float
    threshold: float
    tiles: int
    tiles_run: int
    tiles_skipped_nodata: int
    pixel_size_m: float | None
    resample_factor: float
    tta: bool
    timing: SceneTiming
    model: dict  # the model's description: its keys go into the summary as they are
    shaping_options: dict  # options.shaping_options: compared on a rerun
    notes: list[str]
    folder: str  # where it was written (informational)
    outputs: dict[str, str]  # output key -> file name, relative to the folder

    @property
    def metric(self) -> bool:
        """Whether areas are ground areas (a georeference, or --pixel-size) rather than pixels."""
        return self.scene_area_km2 is not None

    def to_json(self) -> dict:
        """The summary as written: keys in their fixed order, values rounded as recorded."""
        metric = self.metric
        head = {
            "scene": self.scene,
            "scene_identity": self.scene_identity,
            "height": self.height,
            "width": self.width,
            "bands": self.bands,
            "dtype": self.dtype,
            "crs": self.crs,
            "georeference": self.georeference,
            "area_method": self.area_method,  # areas, perimeters, km² and pixel_size_m
            "scaling": self.scaling,
            "scene_area_km2": round(self.scene_area_km2, 6) if metric else None,
            "valid_pixels": self.valid_pixels,
            "nonfinite_pixels": self.nonfinite_pixels,
            "landslide_count": self.landslide_count,
            AREA_KEYS[metric]: round(self.landslide_area, 2),
            "landslide_area_km2": round(self.landslide_area / 1e6, 6) if metric else None,
            "polygons_below_mmu": self.polygons_below_mmu,
            "min_area": self.min_area,
            "threshold": self.threshold,
            "tiles": self.tiles,
            "tiles_run": self.tiles_run,
            "tiles_skipped_nodata": self.tiles_skipped_nodata,
            "pixel_size_m": round(self.pixel_size_m, 6) if self.pixel_size_m else None,
            "resample_factor": round(self.resample_factor, 6),
            "tta": self.tta,
        }
        return {  # later keys of the same name take an earlier key's place and value:
            **head,  # so a banded scene's "bands" (its row bands' tasks) stands where the raster's band count was
            **self.timing.to_json(self.scene_area_km2),
            **self.model,
            "shaping_options": self.shaping_options,
            "notes": self.notes,
            "folder": self.folder,
            "outputs": self.outputs,
        }


AREA_KEYS = {True: "landslide_area_m2", False: "landslide_area_px2"}  # by SceneSummary.metric


def landslide_area(summary: dict) -> tuple[float | None, str]:
    """The landslide area of a written summary and its unit: "m²" (metric) or "px²"."""
    if AREA_KEYS[True] in summary:
        return summary[AREA_KEYS[True]], "m²"
    return summary.get(AREA_KEYS[False]), "px²"


@dataclass(frozen=True)
class SceneResult:
    """One scene of a batch: ``status`` "done", "skipped" or "failed" ("stopped": a cluster task
    whose run was stopped); ``message`` says why; ``summary`` is its summary JSON when it has one."""

    scene: Path
    status: str
    message: str
    out_dir: Path
    summary: dict | None = None
