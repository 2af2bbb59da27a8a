"""GeoPackage writers compared: lnet-edge's sqlite3 writer (with its R-tree index) against
pyogrio/GDAL's GPKG driver (SPATIAL_INDEX=YES), on as many landslide-like polygons as the
generated 20000 x 20000 scene yields (10,406), with the same attributes. Also the install size of
each (pyogrio brings its own GDAL; sqlite3 is in the standard library).

Usage: python bench/gpkg_writers.py [--count 10406] [--out bench/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from lnet_edge.files import write_text_atomic

FIELDS = {
    "id": int,
    "area_m2": float,
    "perimeter_m": float,
    "mean_probability": float,
    "max_probability": float,
    "pixels": int,
}


def polygons(count: int, seed: int = 0):
    """Blob-like polygons (24-gons of random size) spread over a 10 km square in UTM 48N."""
    import shapely

    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 25)[:-1]
    out = []
    for _ in range(count):
        cx, cy = 366070 + rng.uniform(0, 10000), 3473660 + rng.uniform(0, 10000)
        r = rng.uniform(3, 40) * (1 + 0.3 * rng.uniform(-1, 1, angles.size))
        out.append(shapely.Polygon(np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)))
    props = [
        {"id": i + 1, "area_m2": float(g.area), "perimeter_m": float(g.length), "mean_probability": 0.7,
         "max_probability": 0.9, "pixels": int(g.area / 0.25)}
        for i, g in enumerate(out)
    ]  # fmt: skip
    return out, props


def time_sqlite(geoms, props, path: Path) -> float:
    from rasterio.crs import CRS

    from lnet_edge.field.gpkg import GeoPackageWriter

    t0 = time.perf_counter()
    w = GeoPackageWriter(path, CRS.from_epsg(32648), FIELDS)
    for g, p in zip(geoms, props):
        w.write(p, g)
    w.close()
    return time.perf_counter() - t0


def time_pyogrio(geoms, props, path: Path) -> float:
    import shapely
    from pyogrio.raw import write

    t0 = time.perf_counter()
    wkb = shapely.to_wkb(np.array(geoms, dtype=object))
    fields = [np.array([p[k] for p in props]) for k in FIELDS]
    write(str(path), wkb, fields, list(FIELDS), geometry_type="Polygon", crs="EPSG:32648", driver="GPKG",
          layer="landslides", layer_options={"SPATIAL_INDEX": "YES"})  # fmt: skip
    return time.perf_counter() - t0


def site_size_mb(*names: str) -> float:
    import importlib.util

    total = 0
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for folder in (root, root.with_name(root.name + ".libs")):
            if folder.is_dir():
                total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return round(total / 1e6, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10406)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    geoms, props = polygons(args.count)
    rows = {"sqlite3 (lnet-edge)": [], "pyogrio (GDAL)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            rows["sqlite3 (lnet-edge)"].append(time_sqlite(geoms, props, Path(tmp) / f"a{r}.gpkg"))
            rows["pyogrio (GDAL)"].append(time_pyogrio(geoms, props, Path(tmp) / f"b{r}.gpkg"))
        sizes = {k: (Path(tmp) / f"{'a' if k.startswith('sqlite') else 'b'}0.gpkg").stat().st_size for k in rows}
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": f"python bench/gpkg_writers.py --count {args.count}",
        "polygons": args.count,
        "seconds_min": {k: round(min(v), 3) for k, v in rows.items()},
        "file_bytes": sizes,
        "install_mb": {"sqlite3 (lnet-edge)": 0.0, "pyogrio (GDAL)": site_size_mb("pyogrio")},
    }
    print(json.dumps(record, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "gpkg_writers.json", json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
