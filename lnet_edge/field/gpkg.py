"""Landslide polygons as an OGC GeoPackage (1.3), written with the standard library's sqlite3.

A GeoPackage is a SQLite file with three metadata tables (gpkg_spatial_ref_sys, gpkg_contents,
gpkg_geometry_columns) and a feature table whose geometries are "GeoPackage binary": a header
(magic "GP", version, flags, srs id, xy envelope) followed by little-endian WKB. GDAL, QGIS and
ArcGIS read it without any extension, so no GDAL vector driver is needed to write one.

The feature table gets the GeoPackage R-tree spatial index (extension ``gpkg_rtree_index``: a
virtual rtree table filled at close, and the spec's triggers that keep it current when a GIS
edits the file later), so QGIS and GDAL filter large polygon sets by extent without a scan.
"""

from __future__ import annotations

import errno
import sqlite3
import struct
from contextlib import contextmanager
from pathlib import Path

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0
TABLE = "landslides"
CUSTOM_SRS_ID = 100000  # a CRS without an EPSG code is stored under this id
_FLAGS = 0b0000_0011  # little-endian, xy envelope, not empty, standard binary

_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""

# The GeoPackage spec's R-tree triggers (table t, geometry column c, id column i); made after the
# bulk insert, since ST_* functions exist only in GDAL/SpatiaLite, where later edits happen.
_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}" WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"),
  ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}" WHEN OLD."{i}" = NEW."{i}" AND
  (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"),
  ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}" WHEN OLD."{i}" = NEW."{i}" AND
  (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}" WHEN OLD."{i}" != NEW."{i}" AND
  (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
  ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END;
CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}" WHEN OLD."{i}" != NEW."{i}" AND
  (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}"); END;
CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}" WHEN old."{c}" NOT NULL
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END;
"""

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]'
)
_REQUIRED_SRS = [  # the three rows every GeoPackage must hold (spec, requirement 11)
    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84_WKT, "longitude/latitude in decimal degrees on WGS 84"),
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
]


@contextmanager
def os_errors(path: Path):
    """SQLite's errors as the OSError the pipeline reports per scene (disk full, not writable)."""
    try:
        yield
    except sqlite3.Error as exc:
        text = str(exc)
        code = errno.ENOSPC if "full" in text else errno.EACCES if "readonly" in text or "open" in text else errno.EIO
        raise OSError(code, text, str(path)) from exc


def srs_row(crs) -> tuple:
    """(srs_name, srs_id, organization, organization_coordsys_id, definition, description) of a
    rasterio CRS; -1 (undefined cartesian: pixel coordinates) when there is none."""
    if crs is None:
        return _REQUIRED_SRS[1]
    epsg = crs.to_epsg()
    if epsg is not None:
        return (f"EPSG:{epsg}", epsg, "EPSG", epsg, crs.to_wkt(), "")
    name = f"custom ({crs.to_dict().get('proj', 'custom')})"
    return (name, CUSTOM_SRS_ID, "NONE", CUSTOM_SRS_ID, crs.to_wkt(), "the scene's CRS, which has no EPSG code")


def gpkg_geometry(geom, srs_id: int) -> bytes:
    """GeoPackage binary of a shapely geometry: header with the xy envelope, then WKB."""
    import shapely

    minx, miny, maxx, maxy = geom.bounds
    head = b"GP" + struct.pack("<BBi4d", 0, _FLAGS, srs_id, minx, maxx, miny, maxy)
    return head + shapely.to_wkb(geom, byte_order=1)


class GeoPackageWriter:
    """Streams polygons with their attributes into one feature table of a new GeoPackage.

    ``fields``: attribute name -> Python type (int, float or str), in column order; ``table``:
    the feature table's name.
    """

    def __init__(self, path: Path, crs, fields: dict[str, type], table: str = TABLE) -> None:
        self.path, self.fields, self.count, self.table = path, fields, 0, table
        self.bounds = [float("inf"), float("inf"), float("-inf"), float("-inf")]
        path.unlink(missing_ok=True)
        with os_errors(path):
            self._create(crs)

    def _create(self, crs) -> None:
        fields = self.fields
        # made here, written from the field run's writer thread: one thread at a time, never two
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.db.execute(f"PRAGMA user_version = {USER_VERSION}")
        self.db.execute("PRAGMA journal_mode = MEMORY")  # no side file next to the .part name
        self.db.execute("PRAGMA synchronous = OFF")  # the file is renamed into place only when complete
        self.db.executescript(_SCHEMA)
        row = srs_row(crs)
        self.srs_id = row[1]
        srs = {r[1]: r for r in _REQUIRED_SRS}
        srs[row[1]] = row
        self.db.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", list(srs.values()))
        sql_type = {int: "INTEGER", float: "DOUBLE", str: "TEXT"}
        columns = ", ".join(f'"{name}" {sql_type[kind]}' for name, kind in fields.items())
        self.db.execute(
            f'CREATE TABLE "{self.table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom GEOMETRY, {columns})'
        )
        self.db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?, 'features', ?, ?)",
            (self.table, self.table, self.srs_id),
        )
        self.db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'GEOMETRY', ?, 0, 0)", (self.table, self.srs_id)
        )
        self.db.execute(
            "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
            "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
            (self.table,),
        )
        self.db.execute(f'CREATE VIRTUAL TABLE "rtree_{self.table}_geom" USING rtree(id, minx, maxx, miny, maxy)')
        marks = ", ".join("?" * (len(fields) + 1))
        names = ", ".join(f'"{n}"' for n in fields)
        self._insert = f'INSERT INTO "{self.table}" (geom, {names}) VALUES ({marks})'

    def write(self, properties: dict, geometry) -> None:
        b = geometry.bounds
        self.bounds = [
            min(self.bounds[0], b[0]),
            min(self.bounds[1], b[1]),
            max(self.bounds[2], b[2]),
            max(self.bounds[3], b[3]),
        ]
        values = [properties[name] for name in self.fields]
        with os_errors(self.path):
            cur = self.db.execute(self._insert, [gpkg_geometry(geometry, self.srs_id), *values])
            self.db.execute(
                f'INSERT INTO "rtree_{self.table}_geom" VALUES (?, ?, ?, ?, ?)', (cur.lastrowid, b[0], b[2], b[1], b[3])
            )
        self.count += 1

    def close(self) -> None:
        try:
            with os_errors(self.path):
                if self.count:
                    self.db.execute(
                        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                        (*self.bounds, self.table),
                    )
                self.db.executescript(_RTREE_TRIGGERS.format(t=self.table, c="geom", i="fid"))
                self.db.commit()
        finally:
            self.db.close()
