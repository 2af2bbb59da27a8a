"""The catalogue of an output folder, ``OUT/catalogue.gpkg``, and the run's ``OUT/run_summary.json``.

The catalogue holds every polygon of every complete, georeferenced scene in OUT, in WGS 84,
with the scene's id (its folder name) and path, and, for a scene compared with a before scene
(field/pair_run.py), the change class (new or persisting) covering most of each polygon. Its state is OUT itself: a scene is in it when
``OUT/NAME/`` holds a complete set (its summary, renamed in last, and every output the summary
lists), whichever run made it, and its polygons are read from there, found relative to OUT. A
folder moved, copied or mounted elsewhere gives the same catalogue; the absolute paths recorded
in summaries are for people only.

A write never drops a scene silently. The scenes of the previous catalogue (``catalogue.scenes``
of the previous run summary, and the scene ids in ``catalogue.gpkg``) that are no longer in it
are listed under ``catalogue.removed`` with the reason (their folder no longer holds complete
outputs); a scene that this run is still mapping keeps its previous polygons; and when the
polygons of a complete scene of the previous catalogue cannot be read, the previous catalogue
stays as it was and ``catalogue.kept_previous`` says why.

Totals (km² mapped, landslide count and area) are the catalogue's: georeferenced scenes only,
from this run and earlier ones; scenes without a georeference are counted apart, in pixels.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from lnet_edge.field.summary import SceneResult
from lnet_edge.files import sha256_file, write_text_atomic

CATALOGUE = "catalogue.gpkg"
RUN_SUMMARY = "run_summary.json"
CHANGE_SUMMARY = "_change_summary.json"  # OUT/NAME/NAME_change_summary.json: a pair's change set is complete
COUNTED = (
    "km2_mapped, landslide_count and landslide_area_m2 are the catalogue's: every complete, georeferenced scene "
    "in this folder, from this run and earlier ones; scenes without a georeference are counted apart, in pixels"
)


def complete_summary(folder: Path, suffix: str = "_summary.json") -> dict | None:
    """The summary ``NAME{suffix}`` of ``folder`` when it holds a complete set (every output it
    lists exists), else None."""
    try:
        summary = json.loads((folder / f"{folder.name}{suffix}").read_text())
    except (OSError, ValueError):
        return None
    listed = summary.get("outputs") if isinstance(summary, dict) else None
    if not isinstance(listed, dict) or not all(isinstance(n, str) and (folder / n).is_file() for n in listed.values()):
        return None
    return summary


def georeferenced(summary: dict) -> bool:
    """Whether a scene's polygons can enter the catalogue: a CRS and a geotransform."""
    return bool(summary.get("crs")) and summary.get("georeference") != "pixel"


def change_set(folder: Path) -> dict | None:
    """The change summary of ``folder`` when it holds a complete change set made from the scene's
    present outputs (it records the sha256 of the scene's summary), else None."""
    summary = complete_summary(folder, CHANGE_SUMMARY)
    inputs = summary.get("inputs") if summary else None
    try:
        made_from = sha256_file(folder / f"{folder.name}_summary.json")
    except OSError:
        return None
    return summary if isinstance(inputs, dict) and inputs.get("after_summary_sha256") == made_from else None


def _change_polygons(folder: Path):
    """(STRtree, polygons, their classes) of the complete change set in ``folder``, in the scene's
    CRS as its landslide polygons; None without one."""
    import shapely

    summary = change_set(folder)
    if summary is None:
        return None
    features = json.loads((folder / summary["outputs"]["change_polygons"]).read_text())["features"]
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    return shapely.STRtree(geoms), geoms, [f["properties"]["change"] for f in features]


def _covering_class(changes, geom) -> str | None:
    """The change class that covers most of ``geom`` (None: no change polygon touches it)."""
    from shapely.errors import GEOSException

    tree, geoms, labels = changes
    areas: dict[str, float] = {}
    for i in tree.query(geom, predicate="intersects").tolist():
        try:
            areas[labels[i]] = areas.get(labels[i], 0.0) + geom.intersection(geoms[i]).area
        except GEOSException:  # an invalid ring: that polygon does not vote
            continue
    return max(areas, key=areas.__getitem__) if areas else None


def scene_rows(folder: Path, summary: dict) -> list:
    """A complete scene's polygons in WGS 84 with its id and path (none without a georeference),
    read from ``folder``, whatever folder the summary was written in; ``change`` is the class of
    the scene's change set covering most of each polygon (None without a change set)."""
    import shapely
    from rasterio.warp import transform_geom

    if not georeferenced(summary):
        return []
    collection = json.loads((folder / summary["outputs"]["polygons"]).read_text())
    changes = _change_polygons(folder)
    rows = []
    for f in collection["features"]:
        p = f["properties"]
        geom = shapely.geometry.shape(transform_geom(summary["crs"], "EPSG:4326", f["geometry"]))
        properties = {
            "scene_id": folder.name,
            "scene": summary["scene"],
            "id": p["id"],
            "area_m2": p.get("area_m2"),
            "mean_probability": p["mean_probability"],
            "max_probability": p["max_probability"],
            "change": _covering_class(changes, shapely.geometry.shape(f["geometry"])) if changes else None,
        }
        rows.append((properties, geom))
    return rows


def _stamp(path: Path) -> tuple | None:
    """What changes when a file is rewritten (renamed in: a new inode), or None without one."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class Catalogue:
    """The run's catalogue and summary, rebuilt from OUT and rewritten (to a temporary name, then
    renamed) as scenes finish. ``scenes``: this run's scenes, absolute path -> folder name."""

    def __init__(self, out: Path, scenes: dict[str, str] | None = None) -> None:
        self.out, self.t0 = out, time.perf_counter()
        self.scenes = dict(scenes or {})
        self.results: dict[str, SceneResult] = {}  # by scene path: a retried scene is counted once
        self.busy = set(self.scenes.values())  # folders this run has not finished
        self.interrupted = False
        self.previous = self._previous()
        self._cache: dict[str, tuple[tuple, dict, list]] = {}  # name -> (summary stamp, summary, rows)
        self.removed: dict[str, str] = {}
        self.unreadable: dict[str, str] = {}
        self.kept_previous: str | None = None
        if out.is_dir():
            self.scenes_in_out()  # what OUT holds before this run changes it

    def add(self, result: SceneResult) -> None:
        """A scene's result (done, skipped or failed); a stopped scene stays unfinished. A scene
        not among ``scenes`` (a pair refused before its scenes were sent) joins them."""
        if result.status == "stopped":
            return
        self.results[str(result.scene)] = result
        self.scenes.setdefault(str(result.scene), result.out_dir.name)
        self.busy.discard(self.scenes.get(str(result.scene), ""))

    def _previous(self) -> set[str]:
        names: set[str] = set()
        try:
            old = json.loads((self.out / RUN_SUMMARY).read_text())
            names |= {n for n in old.get("catalogue", {}).get("scenes", []) if isinstance(n, str)}
        except (OSError, ValueError, AttributeError):
            pass
        if (self.out / CATALOGUE).is_file():
            try:
                uri = f"{(self.out / CATALOGUE).resolve().as_uri()}?mode=ro"
                with closing(sqlite3.connect(uri, uri=True)) as db:
                    names |= {r[0] for r in db.execute("SELECT DISTINCT scene_id FROM landslides")}
            except sqlite3.Error:
                pass
        return names

    def scenes_in_out(self) -> dict[str, tuple[dict, list]]:
        """name -> (summary, rows) of every complete scene folder in OUT; a folder this run is
        still mapping keeps what it last held; unreadable polygons go to ``unreadable``."""
        found: dict[str, tuple[dict, list]] = {}
        self.unreadable = {}
        folders = sorted(d for d in self.out.iterdir() if d.is_dir() and not d.name.startswith("."))
        for d in folders:
            stamp = _stamp(d / f"{d.name}_summary.json")
            if stamp is not None:  # a change set made later changes the rows' classes
                stamp += (_stamp(d / f"{d.name}{CHANGE_SUMMARY}"),)
            cached = self._cache.get(d.name)
            if cached and cached[0] == stamp:
                found[d.name] = cached[1:]
                continue
            summary = complete_summary(d) if stamp else None
            if summary is None:
                if cached and d.name in self.busy:  # being swapped in by a running task
                    found[d.name] = cached[1:]
                continue
            try:
                rows = scene_rows(d, summary)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self.unreadable[d.name] = f"cannot read its polygons: {type(exc).__name__}: {str(exc)[:200]}"
                continue
            self._cache[d.name] = (stamp, summary, rows)
            found[d.name] = (summary, rows)
        return found

    def write(self) -> None:
        """Rewrite catalogue.gpkg from OUT (unless that would lose a scene that is still there)
        and run_summary.json."""
        found = self.scenes_in_out()
        self.removed = {
            n: f"{n}/ no longer holds complete outputs" for n in sorted(self.previous - set(found) - self.busy)
        }
        lost = sorted(n for n in self.previous - set(found) if n not in self.removed)
        lost += sorted(n for n in self.unreadable if n in self.previous)
        if lost:
            self.kept_previous = (
                f"{CATALOGUE} not rewritten: it would lose {', '.join(lost)}, whose folders are still there "
                f"({'; '.join(self.unreadable.get(n, 'being written') for n in lost)})"
            )
        else:
            self.kept_previous = None
            self._write_gpkg(found)
        write_text_atomic(self.out / RUN_SUMMARY, json.dumps(self.summary(found), indent=2) + "\n")

    def _write_gpkg(self, found: dict[str, tuple[dict, list]]) -> None:
        from rasterio.crs import CRS

        from lnet_edge.field.gpkg import GeoPackageWriter
        from lnet_edge.field.io import part_path

        dest = self.out / CATALOGUE
        fields = {"scene_id": str, "scene": str, "id": int, "area_m2": float}
        fields |= {"mean_probability": float, "max_probability": float, "change": str}
        writer = GeoPackageWriter(part_path(dest), CRS.from_epsg(4326), fields)
        try:
            for _, rows in found.values():
                for properties, geom in rows:
                    writer.write(properties, geom)
            writer.close()
        except BaseException:
            part_path(dest).unlink(missing_ok=True)
            raise
        part_path(dest).replace(dest)

    def summary(self, found: dict[str, tuple[dict, list]]) -> dict:
        seconds = time.perf_counter() - self.t0
        by = {s: [r for r in self.results.values() if r.status == s] for s in ("done", "skipped", "failed")}
        mapped = {n: s for n, (s, _) in found.items() if georeferenced(s)}
        apart = {n: s for n, (s, _) in found.items() if not georeferenced(s)}
        km2 = sum(s.get("scene_area_km2") or 0.0 for s in mapped.values())
        km2_run = sum((r.summary or {}).get("scene_area_km2") or 0.0 for r in by["done"])
        return {
            "output_folder": str(self.out.resolve()),  # where it was written (informational)
            "scenes": len(self.scenes) or len(self.results),
            "done": [str(r.scene) for r in by["done"]],
            "skipped": [str(r.scene) for r in by["skipped"]],
            "failed": [{"scene": str(r.scene), "reason": r.message} for r in by["failed"]],
            "unfinished": [s for s in self.scenes if s not in self.results],
            "interrupted": self.interrupted,
            "counted": COUNTED,
            "km2_mapped": round(km2, 6),
            "landslide_count": sum(len(rows) for n, (_, rows) in found.items() if n in mapped),
            "landslide_area_m2": round(sum(s.get("landslide_area_m2") or 0.0 for s in mapped.values()), 2),
            "scenes_without_georeference": [s["scene"] for s in apart.values()],
            "landslide_count_without_georeference": sum(s.get("landslide_count", 0) for s in apart.values()),
            "landslide_area_px2_without_georeference": round(
                sum(s.get("landslide_area_px2") or 0.0 for s in apart.values()), 2
            ),
            # scenes without a georeference mapped with --pixel-size: m² at that size, kept apart
            "landslide_area_m2_without_georeference": round(
                sum(s.get("landslide_area_m2") or 0.0 for s in apart.values()), 2
            ),
            "catalogue": {
                "file": CATALOGUE,
                "scenes": sorted(mapped),
                "landslides": sum(len(rows) for _, rows in found.values()),
                "removed": [{"scene_id": n, "reason": why} for n, why in self.removed.items()],
                "unreadable": [{"scene_id": n, "reason": why} for n, why in self.unreadable.items()],
                "kept_previous": self.kept_previous,
            },
            "seconds": round(seconds, 3),
            "km2_this_run": round(km2_run, 6),
            "km2_per_second": round(km2_run / seconds, 6) if seconds > 0 else None,
        }
