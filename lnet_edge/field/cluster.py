"""Many scenes on a Dask cluster: ``lnet-edge infer SCENES -o OUT --cluster local:N|tcp://HOST:PORT``.

Each scene is one task. A worker opens the model once and keeps it (on the worker object) for
every later scene; a worker started with ``--resources GPU=1`` is sent scenes that ask for one
GPU, and uses the GPU its CUDA_VISIBLE_DEVICES shows. A task maps its scene exactly as the
in-process run does (field/pipeline.map_scene: folder lock, temporary names, atomic swap), so a
worker killed mid-scene leaves nothing that looks done, and the scheduler's rerun on another
worker takes the folder over. The client holds a lock on OUT (a second client is refused) and
keeps two files up to date, each replaced atomically as scenes finish:

- ``OUT/catalogue.gpkg``: every polygon of every complete scene, in WGS 84, with the scene's
  id (its folder name) and path; a scene enters it once, whatever the retries; rewritten at most
  every CATALOGUE_EVERY_S seconds as scenes finish, and at the end (also after Ctrl-C);
- ``OUT/run_summary.json``: scenes done, skipped and failed (with reasons), km² mapped,
  landslide count and area, seconds and km²/s.

A rerun skips complete scenes and rebuilds both files from every complete scene.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.field import outputs
from lnet_edge.field.pipeline import InferOptions, SceneResult
from lnet_edge.files import write_text_atomic

ACCEPTED = "local:N (N worker processes on this machine, N >= 1) or tcp://HOST:PORT (a running dask scheduler)"
CONNECT_TIMEOUT_S = 10
CATALOGUE = "catalogue.gpkg"
BAND_PIXELS = (
    64_000_000  # scenes above this (8000 x 8000 px) are mapped in row bands of at most this, on several workers
)
RUN_SUMMARY = "run_summary.json"
CATALOGUE_EVERY_S = 5.0  # the catalogue and summary are rewritten at most this often, and at the end
INSTALL = "pip install -e '.[cluster]'"


@dataclass(frozen=True)
class ClusterSpec:
    kind: str  # "local" or "tcp"
    workers: int = 0
    address: str = ""


def parse_cluster(text: str) -> ClusterSpec:
    """``--cluster``: local:N or tcp://HOST:PORT; anything else is one error listing the forms."""
    m = re.fullmatch(r"local:(-?\d+)", text.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise LnetError(f"--cluster {text}: give at least one worker process, e.g. local:2")
        return ClusterSpec("local", workers=n)
    if re.fullmatch(r"tcp://[A-Za-z0-9._\-\[\]:]+:\d{1,5}", text.strip()):
        return ClusterSpec("tcp", address=text.strip())
    raise LnetError(f"--cluster '{text}': give {ACCEPTED}")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise LnetError(f"--cluster needs Dask distributed, which is not installed: {INSTALL}") from None
    return distributed


@contextmanager
def connect(spec: ClusterSpec) -> Iterator:
    """A Dask client: on a new LocalCluster of single-threaded worker processes, or on a running
    scheduler (an LnetError within CONNECT_TIMEOUT_S when it cannot be reached)."""
    distributed = _distributed()
    cluster = None
    if spec.kind == "local":
        cluster = distributed.LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = distributed.Client(cluster)
    else:
        try:
            client = distributed.Client(spec.address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise LnetError(
                f"cannot reach the Dask scheduler at {spec.address} within {CONNECT_TIMEOUT_S} s ({exc}): "
                "start it with `dask scheduler` and check the address and port"
            ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- on a worker ---------------------------------------------------------------------------


def _worker_model(model: str | None, backend: str, threads: int | None, precision: str | None, force: bool):
    """The worker's opened model for these arguments, opened on its first scene and kept."""
    from distributed import get_worker

    from lnet_edge.field.backend import Backend, open_field_model

    worker = get_worker()
    cache = worker.__dict__.setdefault("_lnet_edge_models", {})
    key = (model, backend, threads, precision, force)
    if key not in cache:
        opened = open_field_model(Path(model) if model else None, Backend(backend), threads, False, precision, force)
        opened.runner.activate()
        cache[key] = opened
    return cache[key]


def _failed(scene: str, out: str, name: str, message: str) -> dict:
    return {"scene": scene, "status": "failed", "message": message, "folder": str(Path(out) / name), "summary": None}


def _open_on_worker(scene: str, model_args: tuple, model_info: dict):
    """((opened model, model info), None) for a scene this worker can see, else (None, why not)."""
    import socket

    if not Path(scene).is_file():
        return None, (
            f"scene {scene} is not visible on worker host {socket.gethostname()}: "
            "the scenes and -o must be on storage all workers share (give paths on a shared filesystem)"
        )
    try:
        opened = _worker_model(*model_args)
    except LnetError as exc:
        return None, str(exc)
    info = {
        **model_info,
        "backend": opened.runner.name,
        "precision": opened.runner.precision,
        "choice": opened.choice or None,
        "model_sha256": opened.sha256,
    }
    return (opened, info), None


def _progress(topic: str | None):
    """(on_start, on_tiles) that send a task's tile counts to the client as worker events."""
    if not topic:
        return None, None
    from distributed import get_worker

    worker = get_worker()
    return (
        lambda n: worker.log_event(topic, {"total": n}),
        lambda n: worker.log_event(topic, {"done": n}),
    )


def map_on_worker(
    scene: str,
    out: str,
    name: str,
    model_args: tuple,
    options: InferOptions,
    model_info: dict,
    assemble=None,
    topic: str | None = None,
) -> dict:
    """One scene, on a worker; returns a JSON-able result (never raises for the scene's faults).
    ``assemble``: the scene's bands are done, write its outputs from them (field/bands.py)."""
    from lnet_edge.field.pipeline import map_scene, scene_outputs

    path = Path(scene)
    found, problem = _open_on_worker(scene, model_args, model_info)
    if problem:
        return _failed(scene, out, name, problem)
    opened, info = found
    on_start, on_tiles = _progress(topic if assemble is None else None)  # bands report their own tiles
    r = map_scene(
        path,
        Path(out),
        name,
        opened.runner,
        opened.config,
        options,
        info,
        (lambda _, n: on_start(n)) if on_start else None,
        on_tiles,
        assemble=assemble,
    )
    summary = r.summary
    if r.status == "skipped":  # complete from an earlier run: its summary feeds the catalogue
        summary = json.loads(scene_outputs(Path(out), path, name)["summary"].read_text())
    return {"scene": scene, "status": r.status, "message": r.message, "folder": str(r.out_dir), "summary": summary}


def band_on_worker(
    scene: str,
    out: str,
    name: str,
    k: int,
    count: int,
    model_args: tuple,
    options: InferOptions,
    model_info: dict,
    topic: str | None = None,
) -> dict:
    """Band ``k`` of ``count`` of a large scene (field/bands.py); {"skip": True} when the scene's
    outputs are already complete, {"error": ...} when it cannot run."""
    from lnet_edge.field import outputs
    from lnet_edge.field.bands import map_band
    from lnet_edge.field.pipeline import describe_failure, scene_outputs, shaping_options

    found, problem = _open_on_worker(scene, model_args, model_info)
    if problem:
        return {"error": problem}
    opened, info = found
    path = Path(scene)
    try:
        paths = scene_outputs(Path(out), path, name)
        shaping = shaping_options(options, opened.config, opened.runner)
        if (
            not options.overwrite
            and outputs.stale_reason(paths, outputs.scene_identity(path), info["model_sha256"], shaping) is None
        ):
            return {"skip": True}
        return map_band(path, Path(out), name, k, count, opened.runner, opened.config, options, *_progress(topic))
    except LnetError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported as the scene's failure
        return {"error": describe_failure(exc, Path(out) / name)}


def assemble_on_worker(
    scene: str,
    out: str,
    name: str,
    count: int,
    model_args: tuple,
    options: InferOptions,
    model_info: dict,
    *bands: dict,
) -> dict:
    """The outputs of a scene mapped band by band, once every band is done."""
    from lnet_edge.field.bands import Assembler

    assembler = Assembler(Path(out), name, count)
    try:
        errors = [b["error"] for b in bands if "error" in b]
        if errors:
            return _failed(scene, out, name, errors[0])
        skip = all(b.get("skip") for b in bands)
        return map_on_worker(scene, out, name, model_args, options, model_info, None if skip else assembler)
    finally:
        assembler.remove()


# --- on the client ---------------------------------------------------------------------------


class Catalogue:
    """The run's catalogue and summary, rewritten (to a temporary name, then renamed) as scenes finish."""

    def __init__(self, out: Path) -> None:
        self.out, self.t0 = out, time.perf_counter()
        self.results: dict[str, dict] = {}  # by scene path: a retried scene is counted once
        self.features: dict[str, list] = {}  # by scene path: (properties, WGS 84 geometry)

    def add(self, result: dict) -> None:
        self.results[result["scene"]] = result
        summary = result.get("summary")
        if result["status"] in ("done", "skipped") and summary:
            self.features[result["scene"]] = _scene_features(summary)

    def write(self) -> None:
        from rasterio.crs import CRS

        from lnet_edge.field.gpkg import GeoPackageWriter
        from lnet_edge.field.io import part_path

        dest = self.out / CATALOGUE
        fields = {"scene_id": str, "scene": str, "id": int, "area_m2": float}
        fields |= {"mean_probability": float, "max_probability": float}
        writer = GeoPackageWriter(part_path(dest), CRS.from_epsg(4326), fields)
        try:
            for rows in self.features.values():
                for properties, geom in rows:
                    writer.write(properties, geom)
            writer.close()
        except BaseException:
            part_path(dest).unlink(missing_ok=True)
            raise
        part_path(dest).replace(dest)
        write_text_atomic(self.out / RUN_SUMMARY, json.dumps(self.summary(), indent=2) + "\n")

    def summary(self) -> dict:
        seconds = time.perf_counter() - self.t0
        by = {s: [r for r in self.results.values() if r["status"] == s] for s in ("done", "skipped", "failed")}
        complete = [r["summary"] for r in by["done"] + by["skipped"] if r.get("summary")]
        km2 = sum(s.get("scene_area_km2") or 0.0 for s in complete)
        return {
            "scenes": len(self.results),
            "done": [r["scene"] for r in by["done"]],
            "skipped": [r["scene"] for r in by["skipped"]],
            "failed": [{"scene": r["scene"], "reason": r["message"]} for r in by["failed"]],
            "km2_mapped": round(km2, 6),
            "landslide_count": sum(s.get("landslide_count", 0) for s in complete),
            "landslide_area_m2": round(sum(s.get("landslide_area_m2") or 0.0 for s in complete), 2),
            # scenes without a georeference: measured in pixels, not in km² mapped nor in the catalogue
            "scenes_without_georeference": [s["scene"] for s in complete if s.get("scene_area_km2") is None],
            "landslide_area_px2_without_georeference": round(
                sum(s.get("landslide_area_px2") or 0.0 for s in complete), 2
            ),
            "seconds": round(seconds, 3),
            "km2_per_second": round(km2 / seconds, 6) if seconds > 0 else None,
        }


def _scene_features(summary: dict) -> list:
    """A complete scene's polygons in WGS 84 with its id and path (none without a georeference)."""
    import shapely
    from rasterio.warp import transform_geom

    if not summary.get("crs") or summary.get("georeference") == "pixel":
        return []
    folder = Path(summary["folder"])
    collection = json.loads((folder / summary["outputs"]["polygons"]).read_text())
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
        }
        rows.append((properties, geom))
    return rows


def band_count(scene: Path, band_pixels: int) -> int:
    """How many row bands a scene is mapped in: 1 up to ``band_pixels``, else one per
    ``band_pixels`` started (a scene the client cannot open is left to its worker to report)."""
    import rasterio

    try:
        with rasterio.open(scene) as src:
            pixels = src.width * src.height
    except Exception:  # noqa: BLE001 - the worker reports the scene's own fault
        return 1
    return 1 if pixels <= band_pixels else -(-pixels // band_pixels)


def run_on_cluster(
    scenes: list[Path],
    out: Path,
    spec: ClusterSpec,
    model_args: tuple,
    options: InferOptions,
    model_info: dict,
    say: Callable[[str], None] = print,
    on_scene: Callable[[dict], None] | None = None,
    band_pixels: int = BAND_PIXELS,
    on_tiles: Callable[[dict], None] | None = None,
) -> list[SceneResult]:
    """Every scene as a task on the cluster (a scene above ``band_pixels`` as row bands on several
    workers, then one assembling task); the catalogue and summary follow each result."""
    distributed = _distributed()
    out.mkdir(parents=True, exist_ok=True)
    with outputs.SceneLock(out):  # one client per output folder
        names = outputs.scene_folders(scenes, out)
        with connect(spec) as client:
            say(f"Dask dashboard: {client.dashboard_link}")
            workers = client.scheduler_info()["workers"].values()
            gpu = any("GPU" in w.get("resources", {}) for w in workers)
            run = uuid.uuid4().hex[:8]
            resources = {"GPU": 1} if gpu else None
            topic = f"lnet-edge-tiles-{run}" if on_tiles else None
            if topic:  # {"total": n} when a task knows its tiles, {"done": n} as they are written
                client.subscribe_topic(topic, lambda event: on_tiles(event[1]))
            futures = {}
            for s in scenes:
                args = (str(s.resolve()), str(out.resolve()), names[s])
                count = band_count(s, band_pixels)
                if count == 1:
                    f = client.submit(
                        map_on_worker,
                        *args,
                        model_args,
                        options,
                        model_info,
                        topic=topic,
                        key=f"lnet-edge-{names[s]}-{run}",
                        pure=False,
                        resources=resources,
                    )
                else:
                    bands = [
                        client.submit(
                            band_on_worker,
                            *args,
                            k,
                            count,
                            model_args,
                            options,
                            model_info,
                            topic=topic,
                            key=f"lnet-edge-{names[s]}-band{k}-{run}",
                            pure=False,
                            resources=resources,
                        )
                        for k in range(count)
                    ]
                    f = client.submit(
                        assemble_on_worker,
                        *args,
                        count,
                        model_args,
                        options,
                        model_info,
                        *bands,
                        key=f"lnet-edge-{names[s]}-{run}",
                        pure=False,
                    )
                futures[f] = s
            catalogue = Catalogue(out)
            written = time.monotonic()
            try:
                for future in distributed.as_completed(futures):
                    scene = futures[future]
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the workers running it kept dying
                        result = _failed(
                            str(scene.resolve()), str(out), names[scene], f"{type(exc).__name__}: {str(exc)[:300]}"
                        )
                    catalogue.add(result)
                    if time.monotonic() - written >= CATALOGUE_EVERY_S:  # rewriting it is O(polygons so far)
                        catalogue.write()
                        written = time.monotonic()
                    if on_scene:
                        on_scene(result)
            finally:  # also when interrupted: what finished is in the catalogue
                catalogue.write()
    order = {str(s.resolve()): i for i, s in enumerate(scenes)}
    return [
        SceneResult(Path(r["scene"]), r["status"], r["message"], Path(r["folder"]), r["summary"])
        for r in sorted(catalogue.results.values(), key=lambda r: order.get(r["scene"], len(order)))
    ]
