"""Change polygons: the ``new``, ``persisting`` and ``gone`` parts of a change raster traced strip
by strip (field/vectorize.StripVectorizer), measured on the ground, and written as GeoJSON and
GeoPackage with their class and the mean landslide probability of the after and the before map
inside each.

Each class is traced twice, once over the after probabilities and once over the before ones:
the two tracers see the same mask, so they close the same components in the same order, and
each polygon gets both means without a second pass over the rasters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.field.change import Change
from lnet_edge.field.gpkg import GeoPackageWriter
from lnet_edge.field.polygons import PolygonStats, above_mmu, crs_name
from lnet_edge.field.vectorize import GeoJsonWriter, Georef, Polygon, StripVectorizer

TRACED = (Change.new, Change.persisting, Change.gone)  # no-before is an extent, not an object


class ChangePolygons:
    """Feed change strips top to bottom (:meth:`add`); :meth:`close` finishes both files (under
    the names given, which the caller makes temporary) and returns the tally per class."""

    def __init__(self, geojson: Path, gpkg: Path, name: str, crs, georef: Georef, min_area: float) -> None:
        self.unit = "m" if georef.in_metres else "px"
        self.georef, self.min_area = georef, min_area
        self.geojson = GeoJsonWriter(geojson, crs_name(crs), name)
        fields = {"id": int, "change": str, f"area_{self.unit}2": float, f"perimeter_{self.unit}": float}
        fields |= {"after_mean_probability": float, "before_mean_probability": float, "pixels": int}
        self.gpkg = GeoPackageWriter(gpkg, crs, fields, "change")
        min_pixels = georef.min_pixels(min_area)
        self.traced: dict[Change, tuple[list[Polygon], list[Polygon]]] = {c: ([], []) for c in TRACED}
        self.tracers = {c: tuple(StripVectorizer(found.append, min_pixels) for found in self.traced[c]) for c in TRACED}
        self.count = 0
        self.tally = {c: [0, 0.0, 0] for c in TRACED}

    def add(self, change: np.ndarray, after_prob: np.ndarray, before_prob: np.ndarray, row0: int) -> None:
        """A strip of the change raster from ``row0`` with both maps' probabilities (0..1)."""
        for c in TRACED:
            mask = (change == c).view(np.uint8)
            on_after, on_before = self.tracers[c]
            on_after.add(mask, after_prob, row0)
            on_before.add(mask, before_prob, row0)
            self._write(c)

    def _write(self, c: Change) -> None:
        after, before = self.traced[c]
        if not after:
            return
        polys, befores = list(after), list(before)
        after.clear()
        before.clear()
        kept, dropped = above_mmu(self.georef, polys, self.min_area)
        self.tally[c][2] += dropped
        for i, geom, area, perimeter in kept:
            poly, b = polys[i], befores[i]
            self.count += 1
            self.tally[c][0] += 1
            self.tally[c][1] += area
            properties = {
                "id": self.count,
                "change": c.label,
                f"area_{self.unit}2": round(area, 2),
                f"perimeter_{self.unit}": round(perimeter, 2),
                "after_mean_probability": round(poly.mean_probability, 4),
                "before_mean_probability": round(b.mean_probability, 4),
                "pixels": poly.pixels,
            }
            self.geojson.write(properties, geom)
            self.gpkg.write(properties, geom)

    def close(self) -> dict[str, PolygonStats]:
        for c in TRACED:
            for tracer in self.tracers[c]:
                tracer.close()
            self._write(c)
        self.geojson.close()
        self.gpkg.close()
        return {
            c.label: PolygonStats(n, area, dropped + self.tracers[c][0].dropped)
            for c, (n, area, dropped) in self.tally.items()
        }

    def abandon(self) -> None:
        for close in (self.geojson.close, self.gpkg.close):
            try:
                close()
            except Exception:  # noqa: BLE001 - the first error is the one the user sees
                pass
