"""Landslide polygons from a mask streamed in row strips.

Each strip is labelled into 4-connected components (OpenCV) and traced into polygons
(``rasterio.features.shapes``, also 4-connected) in pixel coordinates. A component that touches
the strip's last row may continue below: it stays open, and the next strip's components whose
first-row pixels sit under it are merged with it (union-find on the shared row, then one
``shapely.union_all``). A polygon is emitted once nothing can join it, so memory holds one strip
and the open polygons, never the whole mask. Per-polygon pixel count, probability sum and
maximum are carried along, so mean and max probability are exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


@dataclass
class _Part:
    geoms: list = field(default_factory=list)
    count: int = 0
    psum: float = 0.0
    pmax: float = 0.0

    def merge(self, other: _Part) -> None:
        self.geoms += other.geoms
        self.count += other.count
        self.psum += other.psum
        self.pmax = max(self.pmax, other.pmax)


@dataclass(frozen=True)
class Polygon:
    """One landslide polygon, in pixel coordinates, with its probability statistics."""

    geometry: object  # shapely Polygon/MultiPolygon in scene pixel coordinates
    pixels: int
    mean_probability: float
    max_probability: float


class StripVectorizer:
    """Feed mask strips top to bottom with :meth:`add`; finished polygons go to ``emit``."""

    def __init__(self, emit: Callable[[Polygon], None]) -> None:
        self.emit = emit
        self._open: dict[int, _Part] = {}
        self._bottom: np.ndarray | None = None  # open-part id of each pixel of the last row, -1 if none
        self._next = 0

    def add(self, mask: np.ndarray, prob: np.ndarray, row0: int) -> None:
        """mask: h x w uint8 (1 = landslide), prob: h x w float32, row0: the strip's first row."""
        import cv2

        n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        base = self._next
        self._next += n
        new = self._parts(labels, prob, n, row0, base)
        parent: dict[int, int] = {}

        def find(a: int) -> int:
            while parent.get(a, a) != a:
                a = parent[a]
            return a

        if self._bottom is not None:
            top = labels[0]
            hit = (top > 0) & (self._bottom >= 0)
            for a, b in set(zip(self._bottom[hit].tolist(), (base + top[hit]).tolist())):
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[rb] = ra
        groups: dict[int, _Part] = {}
        for gid, part in {**self._open, **new}.items():
            root = find(gid)
            if root in groups:
                groups[root].merge(part)
            else:
                groups[root] = part
        last = labels[-1]
        ids = np.unique(last[last > 0])
        roots = {int(i): find(base + int(i)) for i in ids}
        open_roots = set(roots.values())
        self._open = {}
        for root, part in groups.items():
            if root in open_roots:
                self._open[root] = part
            else:
                self._finish(part)
        lut = np.full(n, -1, dtype=np.int64)
        for i, r in roots.items():
            lut[i] = r
        self._bottom = lut[last]

    def close(self) -> None:
        """Emit the polygons still open at the bottom of the scene."""
        for part in self._open.values():
            self._finish(part)
        self._open, self._bottom = {}, None

    @staticmethod
    def _parts(labels: np.ndarray, prob: np.ndarray, n: int, row0: int, base: int) -> dict[int, _Part]:
        from affine import Affine
        from rasterio.features import shapes
        from shapely.geometry import shape

        if n <= 1:
            return {}
        flat = labels.ravel()
        counts = np.bincount(flat, minlength=n)
        sums = np.bincount(flat, weights=prob.ravel(), minlength=n)
        maxs = np.zeros(n, dtype=np.float64)
        fg = flat > 0
        np.maximum.at(maxs, flat[fg], prob.ravel()[fg])
        parts = {base + i: _Part([], int(counts[i]), float(sums[i]), float(maxs[i])) for i in range(1, n)}
        for geom, value in shapes(labels, mask=labels > 0, connectivity=4, transform=Affine.translation(0, row0)):
            parts[base + int(value)].geoms.append(shape(geom))
        return parts

    def _finish(self, part: _Part) -> None:
        import shapely

        geom = part.geoms[0] if len(part.geoms) == 1 else shapely.union_all(part.geoms)
        self.emit(Polygon(geom, part.count, part.psum / max(part.count, 1), part.pmax))


@dataclass(frozen=True)
class Georef:
    """Pixel -> map coordinates and the metric scale of the map units.

    ``kind``: "projected" (map units x ``unit_m`` = metres), "geographic" (degrees; areas and
    perimeters use a local equirectangular scale at the polygon's latitude, within about 0.5 %
    for landslide-sized polygons) or "pixel" (no georeference: everything in pixels).
    """

    transform: tuple[float, ...]  # (a, b, c, d, e, f) of the rasterio Affine
    kind: str
    unit_m: float = 1.0

    @classmethod
    def from_dataset(cls, src) -> Georef:
        t = tuple(src.transform)[:6]
        if src.crs is None:
            return cls(t, "pixel")
        if src.crs.is_geographic:
            return cls(t, "geographic")
        try:
            return cls(t, "projected", float(src.crs.linear_units_factor[1]))
        except (ValueError, KeyError, RuntimeError):  # no linear units: metres, GDAL's default
            return cls(t, "projected")

    def to_map(self, geom):
        """A pixel-coordinate geometry in map coordinates."""
        from shapely import affinity

        a, b, c, d, e, f = self.transform
        return affinity.affine_transform(geom, (a, b, d, e, c, f))

    def metric(self, geom_map) -> tuple[float, float]:
        """(area m^2, perimeter m) of a map-coordinate geometry; pixel units for "pixel"."""
        if self.kind == "geographic":
            from shapely import affinity

            lat = geom_map.centroid.y
            kx, ky = M_PER_DEG * math.cos(math.radians(lat)), M_PER_DEG
            g = affinity.scale(geom_map, kx, ky, origin=(0, 0))
            return g.area, g.length
        return geom_map.area * self.unit_m**2, geom_map.length * self.unit_m

    def pixel_area_m2(self) -> float:
        a, b, _, d, e, _ = self.transform
        if self.kind == "geographic":
            return float("nan")  # varies with latitude; use metric() on geometries
        return abs(a * e - b * d) * self.unit_m**2


class GeoJsonWriter:
    """Streams features into a GeoJSON FeatureCollection in the scene's CRS (named with a
    ``crs`` member, which GDAL/QGIS read; RFC 7946 readers assume WGS 84)."""

    def __init__(self, path: Path, crs_name: str | None) -> None:
        self.path, self.count = path, 0
        self.fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close(), streamed into
        head: dict = {"type": "FeatureCollection", "name": path.stem}
        if crs_name:
            head["crs"] = {"type": "name", "properties": {"name": crs_name}}
        self.fh.write(json.dumps(head)[:-1] + ', "features": [\n')

    def write(self, properties: dict, geometry) -> None:
        from shapely.geometry import mapping

        feature = {"type": "Feature", "properties": properties, "geometry": mapping(geometry)}
        self.fh.write((",\n" if self.count else "") + json.dumps(feature))
        self.count += 1

    def close(self) -> None:
        self.fh.write("\n]}\n")
        self.fh.close()
