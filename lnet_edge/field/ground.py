"""Ground measures: areas and lengths in metres on the WGS 84 ellipsoid, whatever the scene's CRS.

A map unit is a ground metre almost nowhere. Web Mercator's scale is 1 / cos(latitude) (areas
x1.37 at 31° N, x4 at 60°); UTM's runs from 0.9996 on the central meridian to about 1.001 at
the zone's edges (map areas -0.08 % to +0.2 %); a State Plane CRS counts US survey feet; a
geographic CRS counts degrees. So every geometry is carried from the scene's CRS into a Lambert
azimuthal equal-area projection (LAEA) centred on the scene and measured there. LAEA keeps areas
exactly; its scales along and across the radius, cos(c/2) and 1/cos(c/2) at an angular distance
c from the centre, differ from 1 by 2e-6 at 25 km and 2e-4 at 250 km, so lengths are ground
metres too. A datum other than WGS 84 is converted on the way: a shift and a rotation, which
change no area, and a Helmert scale of a few parts per million at most.

Edges are straight in the scene's CRS, not in LAEA: an edge along a parallel bends by L² tan(lat)
/ (8 R) over a length L, which changes a polygon's area by at most L tan(lat) / (12 R) per edge.
Edges are cut into pieces of at most STRAIGHT_M of ground first, so that stays below 1e-4 up to
80° of latitude, for a landslide as for a whole scene's outline. One GDAL transform per batch of
geometries (about 0.3 ms a call, 0.3 µs a point) keeps it fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lnet_edge.errors import LnetError

METHOD = "ellipsoid (WGS 84, in a local Lambert azimuthal equal-area projection)"
AREAS = "ground"  # the rule's name in a run's shaping options: outputs with map-unit areas are redone
STRAIGHT_M = 1000.0  # ground metres of an edge measured as straight: longer edges are cut first


@lru_cache(maxsize=16)
def _crs(text: str):
    from rasterio.crs import CRS

    return CRS.from_user_input(text)


@dataclass(frozen=True)
class Ground:
    """How one scene's map geometries are measured on the ground (picklable: strings and a number)."""

    crs: str  # the scene's CRS (WKT)
    laea: str  # PROJ string of the LAEA centred on the scene
    step: float  # STRAIGHT_M in map units: longer edges are cut before measuring

    @classmethod
    def of(cls, crs, corners: np.ndarray) -> Ground | None:
        """The ground frame of a scene whose map ``corners`` (4 x 2: the corners of its pixel
        grid, in order around it) are in ``crs``; None for a CRS without a geodetic datum (a
        local engineering CRS), whose units cannot be placed on the ellipsoid."""
        import shapely

        if not (crs.is_geographic or crs.is_projected):
            return None
        text = crs.to_wkt()
        centre = corners.mean(axis=0)
        lon, lat = _carry(text, "EPSG:4326", centre[None, :])[0]
        if not -90 <= lat <= 90:
            raise _unmeasurable(text, f"its centre is at latitude {lat:.6g}°")
        laea = f"+proj=laea +lat_0={lat:.9f} +lon_0={lon:.9f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
        flat = _carry(text, laea, corners)
        if not shapely.Polygon(flat).area > 0:  # e.g. Web Mercator far beyond 85° N: all at the pole
            raise _unmeasurable(text, "its footprint has no area on the ellipsoid")
        map_diagonals = math.dist(corners[0], corners[2]) + math.dist(corners[1], corners[3])
        ground_diagonals = math.dist(flat[0], flat[2]) + math.dist(flat[1], flat[3])
        return cls(text, laea, STRAIGHT_M * map_diagonals / ground_diagonals)

    def measure(self, geoms) -> tuple[np.ndarray, np.ndarray]:
        """(areas m², perimeters m) of map-coordinate (Multi)Polygons, in one transform."""
        import shapely

        geoms = np.array(geoms, dtype=object)
        x0, y0, x1, y1 = shapely.bounds(geoms).T
        long = np.hypot(x1 - x0, y1 - y0) > self.step  # only these can have an edge to cut
        if long.any():
            geoms[long] = shapely.segmentize(geoms[long], self.step)
        flat = shapely.transform(geoms, lambda xy: _carry(self.crs, self.laea, xy))
        return shapely.area(flat), shapely.length(flat)


def _carry(src: str, dst: str, xy: np.ndarray) -> np.ndarray:
    """N x 2 coordinates from CRS ``src`` to ``dst``; a point that cannot be carried (outside
    the CRS's domain: a broken geotransform) is one clear error."""
    from rasterio._err import CPLE_BaseError  # the class of GDAL's errors, which rasterio raises
    from rasterio.errors import CRSError
    from rasterio.warp import transform

    if not len(xy):
        return np.empty((0, 2))
    try:
        xs, ys = transform(_crs(src), _crs(dst), xy[:, 0], xy[:, 1])
    except (CPLE_BaseError, CRSError) as exc:  # a point outside the domain; a centre beyond the poles
        raise _unmeasurable(src, str(exc)) from None
    out = np.column_stack([xs, ys])
    if not np.isfinite(out).all():
        raise _unmeasurable(src, "some coordinates have no place on the ellipsoid")
    return out


def _unmeasurable(crs: str, why: str) -> LnetError:
    name = crs.split('"')[1] if '"' in crs else crs  # a WKT's first quoted string is its name
    return LnetError(
        f"the scene's coordinates in {name} cannot be measured on the ground ({why}): "
        "check that its CRS and geotransform place it on the Earth"
    )
