"""Landslide polygons of a scene: the streaming vectoriser and the two vector writers (GeoJSON,
GeoPackage), in this process (:class:`PolygonSink`) or in a child process
(:class:`PolygonProcess`, same interface) that takes the mask strips over a pipe.

Tracing polygons is pure-Python work under the GIL (rasterio's shapes, shapely objects), so no
thread can overlap it with the rest of a field run; a process can. Both write the same bytes.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.field.gpkg import GeoPackageWriter
from lnet_edge.field.vectorize import GeoJsonWriter, Georef, Polygon, StripVectorizer

PROCESS_MIN_PIXELS = 25_000_000  # scenes from about 5000 x 5000 px trace their polygons in a child process
MEASURE_BATCH = 512  # polygons measured on the ground together: one coordinate transform each batch
_CONTEXT = "spawn"  # a fresh interpreter: forking a process that runs threads (ONNX Runtime's) is unsafe


@dataclass(frozen=True)
class PolygonSpec:
    """Everything a polygon sink needs (picklable): where to write (temporary names), the
    GeoJSON collection's final name, the CRS, the georeference and the minimum mapping unit."""

    geojson: Path
    gpkg: Path
    name: str
    crs: object  # a rasterio CRS or None
    georef: Georef
    min_area: float

    @property
    def unit(self) -> str:
        return "m" if self.georef.in_metres else "px"


def above_mmu(georef: Georef, polys: list[Polygon], min_area: float) -> tuple[list[tuple], int]:
    """The polygons measured on the ground in one go: (index, map geometry, area, perimeter) of
    those at or above ``min_area``, in their order, and how many fell below it."""
    geoms = [georef.to_map(p.geometry) for p in polys]
    areas, perimeters = georef.metrics(geoms)
    kept = [
        (i, geom, area, perimeter)
        for i, (geom, area, perimeter) in enumerate(zip(geoms, areas.tolist(), perimeters.tolist()))
        if area >= min_area
    ]
    return kept, len(polys) - len(kept)


def crs_name(crs) -> str | None:
    """A CRS as GeoJSON names it: an EPSG URN when it has a code, else its WKT (None: no CRS)."""
    epsg = crs.to_epsg() if crs else None
    return f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else (crs.to_wkt() if crs else None)


@dataclass(frozen=True)
class PolygonStats:
    count: int
    area: float  # m² (px² without a georeference)
    dropped: int  # components below the minimum mapping unit


class PolygonSink:
    """Feed mask strips top to bottom (:meth:`add`); :meth:`close` finishes both files (still
    under their temporary names) and returns the counts; :meth:`abandon` after a failure."""

    def __init__(self, spec: PolygonSpec) -> None:
        self.spec, self.unit = spec, spec.unit
        self.geojson = GeoJsonWriter(spec.geojson, crs_name(spec.crs), spec.name)
        fields = {"id": int, f"area_{self.unit}2": float, f"perimeter_{self.unit}": float}
        fields |= {"mean_probability": float, "max_probability": float, "pixels": int}
        self.gpkg = GeoPackageWriter(spec.gpkg, spec.crs, fields)
        self.vectorizer = StripVectorizer(self._polygon, spec.georef.min_pixels(spec.min_area))
        self.count, self.area, self.dropped = 0, 0.0, 0
        self.pending: list[Polygon] = []  # traced, not yet measured nor written

    def add(self, mask: np.ndarray, prob: np.ndarray, row0: int) -> None:
        self.vectorizer.add(mask, prob, row0)

    def _polygon(self, poly: Polygon) -> None:
        self.pending.append(poly)
        if len(self.pending) >= MEASURE_BATCH:
            self._write_pending()

    def _write_pending(self) -> None:
        """Measure the polygons traced so far in one go, then write those above the minimum
        mapping unit, in the order they were traced."""
        polys, self.pending = self.pending, []
        if not polys:
            return
        kept, dropped = above_mmu(self.spec.georef, polys, self.spec.min_area)
        self.dropped += dropped
        for i, geom, area, perimeter in kept:
            poly = polys[i]
            self.count += 1
            self.area += area
            properties = {
                "id": self.count,
                f"area_{self.unit}2": round(area, 2),
                f"perimeter_{self.unit}": round(perimeter, 2),
                "mean_probability": round(poly.mean_probability, 4),
                "max_probability": round(poly.max_probability, 4),
                "pixels": poly.pixels,
            }
            self.geojson.write(properties, geom)
            self.gpkg.write(properties, geom)

    def close(self) -> PolygonStats:
        self.vectorizer.close()
        self._write_pending()
        self.geojson.close()
        self.gpkg.close()
        return PolygonStats(self.count, self.area, self.dropped + self.vectorizer.dropped)

    def abandon(self) -> None:
        """Close what is still open after a failure; errors here would hide the real cause."""
        for close in (self.geojson.close, self.gpkg.close):
            try:
                close()
            except Exception:  # noqa: BLE001 - the first error is the one the user sees
                pass


def _serve(conn, spec: PolygonSpec) -> None:
    """The child process: a PolygonSink fed from ``conn``. After an error it keeps reading (so the
    parent never blocks on a full pipe) and reports the error when asked to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    error: BaseException | None = None
    sink, closed = None, False
    try:
        sink = PolygonSink(spec)
    except BaseException as exc:  # noqa: BLE001 - reported at close
        error = exc
    while True:
        try:
            msg = conn.recv()
        except EOFError:  # the parent is gone
            break
        if msg[0] == "add":
            if error is None:
                try:
                    _, packed, shape, values, row0 = msg
                    selected = np.unpackbits(packed, count=shape[0] * shape[1]).reshape(shape).astype(bool)
                    prob = np.zeros(shape, dtype=np.float32)
                    prob[selected] = values
                    sink.add(selected.view(np.uint8), prob, row0)
                except BaseException as exc:  # noqa: BLE001 - reported at close
                    error = exc
        elif msg[0] == "close":
            if error is None:
                try:
                    stats = sink.close()
                    closed = True
                    conn.send(("ok", stats))
                    break
                except BaseException as exc:  # noqa: BLE001
                    error = exc
            conn.send(("error", _portable(error)))
            break
        else:  # abandon
            break
    if sink is not None and not closed:  # a failure, an abandon, or a parent gone before closing
        sink.abandon()
    conn.close()


def _portable(exc: BaseException) -> tuple:
    """An exception as (kind, errno, message, filename): rebuilt in the parent by :func:`_rebuild`."""
    from lnet_edge.field.io import root_os_error

    cause = root_os_error(exc)
    if cause is not None:
        return ("os", cause.errno, cause.strerror or str(cause), cause.filename)
    return (type(exc).__name__, None, str(exc), None)


def _rebuild(kind: str, errno_: int | None, message: str, filename: str | None) -> BaseException:
    from lnet_edge.errors import LnetError

    if kind == "os":
        return OSError(errno_, message, filename)
    if kind == "LnetError":
        return LnetError(message)
    return RuntimeError(f"polygon tracing failed: {kind}: {message}")


def _start_ignoring_ctrl_c(process) -> None:
    """Start ``process`` with SIGINT ignored, which a new interpreter keeps: a Ctrl-C while it is
    still starting (before _serve ignores it too) would print its traceback. The parent alone
    handles Ctrl-C. Only the main thread may change signal handlers; other threads just start it."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


class PolygonProcess:
    """A :class:`PolygonSink` in a child process; ``add`` sends the strip and returns (the pipe's
    buffer bounds what is in flight), ``close`` waits for the files and the counts."""

    def __init__(self, spec: PolygonSpec) -> None:
        ctx = multiprocessing.get_context(_CONTEXT)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, spec), name="lnet-edge-polygons", daemon=True)
        _start_ignoring_ctrl_c(self.process)
        child.close()

    def _died(self) -> RuntimeError:
        self.process.join(1)
        return RuntimeError(f"the polygon process stopped unexpectedly (exit code {self.process.exitcode})")

    def add(self, mask: np.ndarray, prob: np.ndarray, row0: int) -> None:
        # only the probabilities under the mask are ever read: a fraction of the strip's bytes
        selected = mask.astype(bool)
        try:
            self.conn.send(("add", np.packbits(selected), mask.shape, prob[selected], row0))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._died() from None

    def close(self) -> PolygonStats:
        try:
            self.conn.send(("close",))
            status, payload = self.conn.recv()
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._died() from None
        self.process.join()
        self.conn.close()
        if status == "error":
            raise _rebuild(*payload)
        return payload

    def abandon(self) -> None:
        """Stop the child (it closes its files) and wait for it, so nothing writes after this."""
        try:
            self.conn.send(("abandon",))
        except (OSError, EOFError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def polygon_sink(spec: PolygonSpec, pixels: int, workers: int) -> PolygonSink | PolygonProcess:
    """A child process for scenes of at least PROCESS_MIN_PIXELS when ``workers`` > 1, else in
    process; also in process inside a daemonic process (a Dask worker), which may have no children."""
    if workers > 1 and pixels >= PROCESS_MIN_PIXELS and not multiprocessing.current_process().daemon:
        return PolygonProcess(spec)
    return PolygonSink(spec)
