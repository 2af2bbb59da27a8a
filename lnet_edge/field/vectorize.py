"""Landslide polygons from a mask streamed in row strips.

Strips are gathered into bands of at least ``BAND_PX`` pixels (fewer band edges, fewer unions).
Each band is labelled into 4-connected components (OpenCV) and each component traced into its
exact pixel-edge polygon (:func:`trace_component`) in pixel coordinates. A component that touches
the band's last row may continue below: it stays open, and the next band's components whose
first-row pixels sit under it are merged with it (union-find on the shared row, then one
``shapely.union_all``). A polygon is emitted once nothing can join it, so memory holds one band
and the open polygons, never the whole mask. Per-polygon pixel count, probability sum and
maximum are carried along, so mean and max probability are exact.

Most components of a real mask are specks far below the minimum mapping unit. A component that
cannot continue into another strip and has fewer than ``min_pixels`` pixels is counted in
``dropped`` and never traced: tracing and building geometries for them cost more than
the rest of the vectorising together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BAND_PX = 1_000_000  # strips are traced in bands of at least this many pixels (~26 MB of work arrays)
WGS84_A, WGS84_E2 = 6_378_137.0, 0.00669437999014  # semi-major axis (m), first eccentricity squared


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude and latitude on the WGS 84 ellipsoid at
    ``lat_deg``: the prime-vertical and meridional radii of curvature there."""
    phi = math.radians(lat_deg)
    w = 1.0 - WGS84_E2 * math.sin(phi) ** 2
    north = WGS84_A * (1.0 - WGS84_E2) / w**1.5 * math.pi / 180.0
    east = WGS84_A / math.sqrt(w) * math.cos(phi) * math.pi / 180.0
    return east, north


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


def trace_component(inside: np.ndarray, x0: float, y0: float):
    """The exact pixel-edge outline of one 4-connected component (``inside``: its bounding box,
    True on its pixels) as a shapely Polygon, holes included, offset to (x0, y0).

    OpenCV traces borders through pixel centres, 8-connected. On the mask upsampled 2x (each
    pixel a 2x2 block) the border pixels sit a quarter pixel inside the pixel edges, and the
    traced point (u, v) of the upsampled grid is the pixel corner ((u + 1) // 2, (v + 1) // 2):
    runs along an edge keep their corners, and the diagonal steps OpenCV takes at inner corners
    and at pixels touching only by a corner collapse onto the corner they cut. Checked against
    GDAL's polygonize (rasterio's shapes) on random and real masks: the same region, the same
    area (the pixel count), valid polygons.
    """
    import cv2
    import shapely

    h, w = inside.shape
    up = np.zeros((2 * h + 2, 2 * w + 2), np.uint8)  # a 1 px frame: borders never touch the edge
    up[1:-1, 1:-1] = np.repeat(np.repeat(inside.view(np.uint8), 2, axis=0), 2, axis=1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    shells: dict[int, np.ndarray] = {}
    holes: dict[int, list[np.ndarray]] = {}
    for k, contour in enumerate(contours):
        pts = contour[:, 0, :] // 2  # (u - 1 for the frame, + 1) // 2: upsampled point -> pixel corner
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = (pts[1:] != pts[:-1]).any(axis=1)
        pts = pts[keep]
        if len(pts) > 1 and (pts[0] == pts[-1]).all():
            pts = pts[:-1]
        ring = pts.astype(np.float64) + (x0, y0)
        parent = hierarchy[0][k][3]
        if parent < 0:
            shells[k] = ring
        else:
            holes.setdefault(parent, []).append(ring)
    polygons = [shapely.Polygon(shell, holes.get(k, [])) for k, shell in shells.items()]
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


@dataclass(frozen=True)
class Polygon:
    """One landslide polygon, in pixel coordinates, with its probability statistics."""

    geometry: object  # shapely Polygon/MultiPolygon in scene pixel coordinates
    pixels: int
    mean_probability: float
    max_probability: float


class StripVectorizer:
    """Feed mask strips top to bottom with :meth:`add`; finished polygons go to ``emit``."""

    def __init__(self, emit: Callable[[Polygon], None], min_pixels: int = 0, band_px: int = BAND_PX) -> None:
        self.emit, self.min_pixels, self.band_px = emit, min_pixels, band_px
        self.dropped = 0  # components below min_pixels, counted but not traced
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []  # strips waiting to fill a band
        self._rows_from = 0
        self._open: dict[int, _Part] = {}
        self._bottom: np.ndarray | None = None  # open-part id of each pixel of the last row, -1 if none
        self._next = 0

    def add(self, mask: np.ndarray, prob: np.ndarray, row0: int) -> None:
        """mask: h x w uint8 (1 = landslide), prob: h x w float32, row0: the strip's first row.
        Strips are gathered into bands of about ``band_px`` pixels before they are traced."""
        if not self._rows:
            self._rows_from = row0
        self._rows.append((mask.astype(np.uint8), prob))
        if sum(m.size for m, _ in self._rows) >= self.band_px:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        masks, probs = zip(*self._rows)
        self._rows = []
        mask, prob = (np.concatenate(a) if len(a) > 1 else a[0] for a in (masks, probs))
        self._band(mask, prob, self._rows_from)

    def _band(self, mask: np.ndarray, prob: np.ndarray, row0: int) -> None:
        import cv2

        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        labels, ids = self._drop_small(labels, stats)
        base = self._next
        self._next += n
        new = self._parts(labels, ids, stats, prob, row0, base)
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
        roots = {int(i): find(base + int(i)) for i in np.unique(last[last > 0])}
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
        """Trace what is still buffered and emit the polygons open at the bottom of the scene."""
        self._flush()
        for part in self._open.values():
            self._finish(part)
        self._open, self._bottom = {}, None

    def _drop_small(self, labels: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels with the closed components below ``min_pixels`` set to background (counted),
        and the ids of the components kept."""
        import cv2

        top = stats[:, cv2.CC_STAT_TOP]
        # closed: cannot meet a part left open above (first row) nor continue below (last row)
        closed = (top > 0 if self._bottom is not None else top >= 0) & (
            top + stats[:, cv2.CC_STAT_HEIGHT] < labels.shape[0]
        )
        small = closed & (stats[:, cv2.CC_STAT_AREA] < self.min_pixels)
        small[0] = False
        ids = np.flatnonzero(~small)[1:]
        if not small.any():
            return labels, ids
        self.dropped += int(small.sum())
        return np.where(small[labels], 0, labels), ids

    @staticmethod
    def _parts(
        labels: np.ndarray, ids: np.ndarray, stats: np.ndarray, prob: np.ndarray, row0: int, base: int
    ) -> dict[int, _Part]:
        import cv2

        parts = {}
        for i in ids.tolist():  # each component inside its bounding box: no full-band passes
            x, y, w, h, count = stats[i, : cv2.CC_STAT_AREA + 1]
            box = np.s_[y : y + h, x : x + w]
            inside = labels[box] == i
            p = prob[box][inside]
            geom = trace_component(inside, x, y + row0)
            parts[base + i] = _Part([geom], int(count), float(p.sum(dtype=np.float64)), float(p.max()))
        return parts

    def _finish(self, part: _Part) -> None:
        import shapely

        geom = part.geoms[0] if len(part.geoms) == 1 else shapely.union_all(part.geoms)
        self.emit(Polygon(geom, part.count, part.psum / max(part.count, 1), part.pmax))


@dataclass(frozen=True)
class Georef:
    """Pixel -> map coordinates and the metric scale of the map units.

    ``kind``: "projected" (map units x ``unit_m`` = metres), "geographic" (degrees; areas and
    perimeters use the WGS 84 ellipsoid's scale at the polygon's centroid latitude, well within
    0.1 % for landslide-sized polygons) or "pixel" (no georeference: everything in pixels).
    """

    transform: tuple[float, ...]  # (a, b, c, d, e, f) of the rasterio Affine
    kind: str
    unit_m: float = 1.0

    @classmethod
    def from_dataset(cls, src) -> Georef:
        t = tuple(src.transform)[:6]
        if src.crs is None or t == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0):  # a CRS without a geotransform
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
            kx, ky = metres_per_degree(lat)
            g = affinity.scale(geom_map, kx, ky, origin=(0, 0))
            return g.area, g.length
        return geom_map.area * self.unit_m**2, geom_map.length * self.unit_m

    def min_pixels(self, min_area: float) -> int:
        """Pixel count below which a component's polygon is surely under ``min_area``
        (exact for "projected" and "pixel": a traced polygon's area is pixels x pixel area);
        0 for "geographic", where the pixel area varies with latitude."""
        if self.kind == "geographic" or min_area <= 0:
            return 0
        return max(0, math.ceil(min_area / self.pixel_area_m2() * (1 - 1e-9)))

    def pixel_area_m2(self) -> float:
        a, b, _, d, e, _ = self.transform
        if self.kind == "geographic":
            return float("nan")  # varies with latitude; use metric() on geometries
        return abs(a * e - b * d) * self.unit_m**2


class GeoJsonWriter:
    """Streams features into a GeoJSON FeatureCollection in the scene's CRS (named with a
    ``crs`` member, which GDAL/QGIS read; RFC 7946 readers assume WGS 84)."""

    def __init__(self, path: Path, crs_name: str | None, name: str | None = None) -> None:
        """``name``: the collection's name (default: the file's stem; give the final one when
        ``path`` is a temporary name)."""
        self.path, self.count = path, 0
        self.fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close(), streamed into
        head: dict = {"type": "FeatureCollection", "name": name or path.stem}
        if crs_name:
            head["crs"] = {"type": "name", "properties": {"name": crs_name}}
        self.fh.write(json.dumps(head)[:-1] + ', "features": [\n')

    def write(self, properties: dict, geometry) -> None:
        import shapely

        feature = (
            f'{{"type": "Feature", "properties": {json.dumps(properties)}, "geometry": {shapely.to_geojson(geometry)}}}'
        )
        self.fh.write((",\n" if self.count else "") + feature)
        self.count += 1

    def close(self) -> None:
        self.fh.write("\n]}\n")
        self.fh.close()
