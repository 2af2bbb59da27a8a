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

from lnet_edge.field.ground import METHOD, Ground

BAND_PX = 1_000_000  # strips are traced in bands of at least this many pixels (~26 MB of work arrays)
MIN_PIXELS_GRID = 17  # pixels sampled per side of a scene for its largest ground pixel
MIN_PIXELS_MARGIN = 0.01  # the largest ground pixel is taken 1 % larger than sampled: never drop too much


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


def georeferenced(src) -> bool:
    """Whether a rasterio dataset sits on the ground: a CRS and a geotransform (a CRS with the
    identity transform, or none at all, is a scene in pixels)."""
    return src.crs is not None and tuple(src.transform)[:6] != (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Georef:
    """Pixel -> map coordinates, and how map geometries are measured.

    ``kind``: "projected" or "geographic" (the CRS's kind), or "pixel" (no georeference:
    geometries in pixels, and so are areas and lengths unless the pixel size is stated, ``stated``:
    then ``unit_m`` metres per pixel, from --pixel-size). Areas and lengths are ground metres on the ellipsoid through
    ``ground`` (field/ground.py), whatever the CRS; only a CRS without a geodetic datum (a local
    engineering CRS) has none, and its map units times ``unit_m`` are taken as metres, which
    ``area_method`` says.
    """

    transform: tuple[float, ...]  # (a, b, c, d, e, f) of the rasterio Affine
    kind: str
    unit_m: float = 1.0
    ground: Ground | None = None
    size: tuple[int, int] = (1, 1)  # scene width, height (pixels)
    stated: bool = False  # "pixel" with a stated pixel size: unit_m metres per pixel

    @classmethod
    def from_dataset(cls, src, pixel_size_m: float | None = None) -> Georef:
        """``pixel_size_m``: metres per pixel of a scene without a georeference (--pixel-size), so
        its areas and lengths are metres; ignored where the georeference gives them."""
        t = tuple(src.transform)[:6]
        size = (src.width, src.height)
        if not georeferenced(src):
            if pixel_size_m:
                return cls(t, "pixel", pixel_size_m, size=size, stated=True)
            return cls(t, "pixel", size=size)
        corners = _affine(t, np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], np.float64))
        ground = Ground.of(src.crs, corners)
        if src.crs.is_geographic:
            return cls(t, "geographic", ground=ground, size=size)
        try:
            unit_m = float(src.crs.linear_units_factor[1])
        except (ValueError, KeyError, RuntimeError):  # no linear units: metres, GDAL's default
            unit_m = 1.0
        return cls(t, "projected", unit_m, ground, size)

    @property
    def north_up(self) -> bool:
        """On the ground with rows running north to south (no rotation): a north arrow points up."""
        _, b, _, d, e, _ = self.transform
        return self.kind != "pixel" and b == 0 and d == 0 and e < 0

    @property
    def in_metres(self) -> bool:
        """Whether areas and lengths are metres (m², m) rather than pixels (px², px)."""
        return self.kind != "pixel" or self.stated

    @property
    def area_method(self) -> str:
        """How areas and lengths are measured, in words (recorded in the summary)."""
        if self.kind == "pixel":
            if self.stated:
                return f"pixels x {self.unit_m:g} m (--pixel-size; no georeference)"
            return "pixels (no georeference)"
        if self.ground is None:
            return f"map units x {self.unit_m:g} m (the CRS has no geodetic datum)"
        return METHOD

    def to_map(self, geom):
        """A pixel-coordinate geometry in map coordinates."""
        from shapely import affinity

        a, b, c, d, e, f = self.transform
        return affinity.affine_transform(geom, (a, b, d, e, c, f))

    def metrics(self, geoms_map) -> tuple[np.ndarray, np.ndarray]:
        """(areas m², perimeters m) of map-coordinate geometries, measured together; pixel
        units for "pixel" without a stated pixel size."""
        if self.ground is not None:
            return self.ground.measure(geoms_map)
        import shapely

        geoms = np.asarray(geoms_map, dtype=object)
        areas, lengths = shapely.area(geoms), shapely.length(geoms)
        if self.kind == "pixel":  # a transform without a CRS: its units say nothing; back to pixels
            a, b, _, d, e, _ = self.transform
            px2 = abs(a * e - b * d) or 1.0  # map units² per pixel
            areas, lengths = areas / px2, lengths / math.sqrt(px2)
        return areas * self.unit_m**2, lengths * self.unit_m

    def metric(self, geom_map) -> tuple[float, float]:
        """(area m², perimeter m) of one map-coordinate geometry; pixel units for "pixel"."""
        areas, perimeters = self.metrics([geom_map])
        return float(areas[0]), float(perimeters[0])

    def pixel_areas(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Ground areas (m², px² for "pixel") of the pixels whose top-left corners are (cols, rows)."""
        import shapely

        c, r = np.asarray(cols, np.float64)[:, None], np.asarray(rows, np.float64)[:, None]
        ring = np.stack([np.hstack([c, c + 1, c + 1, c]), np.hstack([r, r, r + 1, r + 1])], axis=-1)
        return self.metrics(shapely.polygons(_affine(self.transform, ring)))[0]

    def pixel_size_m(self) -> float | None:
        """Ground metres per pixel at the scene's centre (the square root of that pixel's area,
        so non-square pixels get their mean side); None without a georeference or a stated size."""
        if self.kind == "pixel":
            return self.unit_m if self.stated else None
        w, h = self.size
        return math.sqrt(self.pixel_areas([w / 2 - 0.5], [h / 2 - 0.5])[0])

    def min_pixels(self, min_area: float) -> int:
        """Pixel count below which a component's polygon is surely under ``min_area``: a traced
        polygon's area is the sum of its pixels' ground areas, at most pixels x the largest
        one. Pixel areas vary smoothly across a scene (with latitude, with the distance to a
        projection's centre line), so the largest of a 17 x 17 sample, 1 % larger, bounds them
        (exact without ``ground``: every pixel has the same area)."""
        if min_area <= 0:
            return 0
        w, h = self.size
        cols = np.linspace(0, w - 1, MIN_PIXELS_GRID).round()
        rows = np.linspace(0, h - 1, MIN_PIXELS_GRID).round()
        cc, rr = np.meshgrid(cols, rows)
        largest = float(self.pixel_areas(cc.ravel(), rr.ravel()).max())
        if self.ground is not None:
            largest *= 1 + MIN_PIXELS_MARGIN
        return max(0, math.ceil(min_area / largest * (1 - 1e-9)))


def _affine(t: tuple[float, ...], xy: np.ndarray) -> np.ndarray:
    """Pixel coordinates (..., 2) -> map coordinates by the affine ``t`` (a, b, c, d, e, f)."""
    a, b, c, d, e, f = t
    x, y = xy[..., 0], xy[..., 1]
    return np.stack([a * x + b * y + c, d * x + e * y + f], axis=-1)


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
