"""Many scenes on a Dask cluster: ``lnet-edge infer SCENES -o OUT --cluster local:N|tcp://HOST:PORT``.

Each scene is one task. A worker opens the model once (under a lock: one opening however many
threads it runs) and keeps it (on the worker object) for every later scene; a worker started
with ``--resources GPU=1`` is sent every task of a scene (bands and assembly included) that asks
for one GPU, and uses the GPU its CUDA_VISIBLE_DEVICES shows. A task maps its scene exactly as the
in-process run does (field/pipeline.map_scene: folder lock, temporary names, atomic swap), so a
worker killed mid-scene leaves nothing that looks done, and the scheduler's rerun on another
worker takes the folder over. The client holds a lock on OUT (a second client is refused) and
keeps ``OUT/catalogue.gpkg`` and ``OUT/run_summary.json`` up to date (field/catalogue.py: both
rebuilt from what OUT holds, found relative to OUT), rewritten at most every CATALOGUE_EVERY_S
seconds as scenes finish, and at the end (also after Ctrl-C). A rerun, also on a moved or
copied OUT, skips complete scenes.

Ctrl-C (or SIGTERM) stops the run: scenes not started are cancelled, and the run's Dask Event is
set, which every running task checks between tile rows (field/workers.py):
it stops, removes its partial files and releases its folder. The client waits up to
CANCEL_WAIT_S seconds for them, then says what is left in OUT. On a ``tcp://`` scheduler the
Event outlives the client, so a task still running stops at its next tile row.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.field import outputs
from lnet_edge.field.bands import BANDS_DIR, band_dir
from lnet_edge.field.catalogue import CATALOGUE, RUN_SUMMARY, Catalogue  # noqa: F401 - the cluster's files
from lnet_edge.field.options import InferOptions
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.summary import SceneResult
from lnet_edge.field.tasks import ClusterJob, SceneTask
from lnet_edge.field.workers import assemble_on_worker, band_on_worker, map_on_worker

ACCEPTED = "local:N (N worker processes on this machine, N >= 1) or tcp://HOST:PORT (a running dask scheduler)"
CONNECT_TIMEOUT_S = 10
BAND_PIXELS = (
    64_000_000  # scenes above this (8000 x 8000 px) are mapped in row bands of at most this, on several workers
)
CATALOGUE_EVERY_S = 5.0  # the catalogue and summary are rewritten at most this often, and at the end
CANCEL_WAIT_S = 30.0  # after Ctrl-C, how long the client waits for running scenes to stop and clean up
INSTALL = "pip install -e '.[cluster]'"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C on the client, after the run stopped: the message says what is left."""


@dataclass(frozen=True)
class ClusterSpec:
    kind: str  # "local" or "tcp"
    workers: int = 0
    address: str = ""


def cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_cluster(text: str) -> ClusterSpec:
    """``--cluster``: local:N (1 <= N <= the CPUs here) or tcp://HOST:PORT; anything else is one
    error listing the forms."""
    m = re.fullmatch(r"local:(-?\d+)", text.strip())
    if m:
        n, cpus = int(m.group(1)), cpu_count()
        if n < 1:
            raise LnetError(f"--cluster {text}: give at least one worker process, e.g. local:2")
        if n > cpus:
            raise LnetError(
                f"--cluster {text}: this machine has {cpus} CPUs, so at most local:{cpus} worker processes "
                "(each runs whole scenes); for more, start workers on other machines and give tcp://HOST:PORT"
            )
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
    """A Dask client: on a new LocalCluster of single-threaded worker processes (which leave
    Ctrl-C to the client: field/workers.py is their preload), or on a running scheduler (an
    LnetError within CONNECT_TIMEOUT_S when it cannot be reached)."""
    distributed = _distributed()
    cluster = None
    if spec.kind == "local":
        cluster = distributed.LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            preload=["lnet_edge.field.workers"],
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


# --- on the client ---------------------------------------------------------------------------


class _TileCount:
    """Tile counts from the tasks' events, by task: a retried task starts its count again, so the
    totals are those of each task's last attempt. Reports {"total": n, "done": n} for the run."""

    def __init__(self, report: Callable[[dict], None]) -> None:
        self.report, self.total, self.done = report, {}, {}

    def __call__(self, event) -> None:
        message = event[1]
        task = message.get("task")
        if "total" in message:
            self.total[task], self.done[task] = message["total"], 0
        else:
            self.done[task] = self.done.get(task, 0) + message["done"]
        self.report({"total": sum(self.total.values()), "done": sum(self.done.values())})


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
    model: ModelRequest,
    options: InferOptions,
    model_info: dict,
    say: Callable[[str], None] = print,
    on_scene: Callable[[SceneResult], None] | None = None,
    band_pixels: int = BAND_PIXELS,
    on_tiles: Callable[[dict], None] | None = None,
    warn: Callable[[str], None] | None = None,
    names: dict[Path, str] | None = None,
    also: list[SceneTask] | None = None,
    finish: Callable[[dict[SceneTask, SceneResult]], list[SceneResult]] | None = None,
) -> list[SceneResult]:
    """Every scene as a task on the cluster (a scene above ``band_pixels`` as row bands on several
    workers, then one assembling task), each worker opening ``model`` (give it a path the workers
    see); the catalogue and summary follow each result. ``warn``
    gets the notes of each scene done (no georeference, resampling); ``on_tiles`` the run's tile
    counts. Ctrl-C stops the run (see the module docstring) and raises Interrupted.

    ``names``: the scenes' folder names in OUT (by default outputs.scene_folders). ``also``: more
    scenes mapped in the run, each into its own folder inside OUT (a pair's before scene into
    OUT/NAME/before/), kept out of the catalogue. ``finish`` gets every task's result, by task
    (a scene's task is ``SceneTask(scene, out, name)``), once the cluster is closed, still holding
    OUT; the results it returns (e.g. pairs with their change sets) enter the catalogue, which
    is rewritten, and are the run's results."""
    distributed = _distributed()
    out.mkdir(parents=True, exist_ok=True)
    with outputs.SceneLock(out):  # one client per output folder
        names = names or outputs.scene_folders(scenes, out)
        own = [SceneTask(s, out, names[s]) for s in scenes]
        tasks = list(dict.fromkeys([*own, *(also or [])]))
        results = _Results(Catalogue(out, {str(s.resolve()): names[s] for s in scenes}), set(own))
        job = ClusterJob(model, options, model_info)
        still = _run_tasks(distributed, tasks, out, spec, job, band_pixels, results, say, on_scene, on_tiles, warn)
        if still is not None:  # the workers are done with these: their band files are of no use
            for t in tasks:
                done = results.by_task.get(t)
                if t not in still and (done is None or done.status != "done"):
                    shutil.rmtree(band_dir(t.out, t.name), ignore_errors=True)
        for folder in dict.fromkeys(t.out for t in tasks):
            _remove_empty(folder / BANDS_DIR)
        if still is not None:
            raise Interrupted(_stopped_message(out, spec, results.catalogue, still))
        mapped = {t: replace(r, out_dir=t.out / t.name) for t in tasks if (r := results.by_task.get(t))}
        if finish is None:  # in this client's folder: a worker may see OUT under another path
            return list(mapped.values())
        final = finish(mapped)
        for r in final:
            results.catalogue.add(replace(r, scene=r.scene.resolve()))
        results.catalogue.write()
        return final


class _Results:
    """The result of each task of a run (``by_task``); those of the run's own scenes (``own``)
    also enter the catalogue."""

    def __init__(self, catalogue: Catalogue, own: set[SceneTask]) -> None:
        self.catalogue, self.own = catalogue, own
        self.by_task: dict[SceneTask, SceneResult] = {}

    def add(self, task: SceneTask, result: SceneResult) -> None:
        if result.status == "stopped":  # it stays unfinished
            return
        self.by_task[task] = result
        if task in self.own:
            self.catalogue.add(result)


def _run_tasks(distributed, tasks, out, spec, job, band_pixels, results: _Results, say, on_scene, on_tiles, warn):
    """Every task on the cluster until all are done (returns None) or Ctrl-C stopped them
    (returns the tasks still running); the catalogue is written at the end either way."""
    catalogue = results.catalogue
    with connect(spec) as client:
        say(f"Dask dashboard: {client.dashboard_link}")
        run = uuid.uuid4().hex[:8]
        stop = f"lnet-edge-stop-{run}"
        topic = f"lnet-edge-tiles-{run}" if on_tiles else None
        if topic:
            client.subscribe_topic(topic, _TileCount(on_tiles))
        job = replace(job, topic=topic, stop=stop)
        futures, parts = {}, {}  # {task's future: task}, {task: every future of the task}
        catalogue.t0 = time.perf_counter()  # the run's seconds: the scene phase, the cluster started
        try:
            _submit(client, tasks, out, job, band_pixels, run, futures, parts)
            _collect(distributed, futures, results, warn, on_scene)
        except KeyboardInterrupt:
            catalogue.interrupted = True
            return _stop(distributed, client, stop, futures, parts, results)
        finally:  # also when interrupted: what finished is in the catalogue
            catalogue.write()
    return None


def _submit(
    client, tasks: list[SceneTask], out: Path, job: ClusterJob, band_pixels: int, run: str, futures, parts
) -> None:
    """Every task's futures, into ``futures`` ({task's future: task}) and ``parts`` ({task: every
    future of the task}) as they are submitted. Every future asks for a GPU when the workers have
    them; its key names the task's folder in OUT."""
    workers = client.scheduler_info()["workers"].values()
    gpu = any("GPU" in w.get("resources", {}) for w in workers)
    common = {"pure": False, "resources": {"GPU": 1} if gpu else None}
    for t in tasks:
        task = SceneTask(t.scene.resolve(), t.out.resolve(), t.name)
        label = (t.out / t.name).relative_to(out).as_posix()  # NAME, or NAME/before
        count = band_count(t.scene, band_pixels)
        if count == 1:
            f = client.submit(map_on_worker, task, job, key=f"lnet-edge-{label}-{run}", **common)
            parts[t] = [f]
        else:
            bands = [
                client.submit(band_on_worker, task, job, k, count, key=f"lnet-edge-{label}-band{k}-{run}", **common)
                for k in range(count)
            ]
            f = client.submit(assemble_on_worker, task, job, count, *bands, key=f"lnet-edge-{label}-{run}", **common)
            parts[t] = [*bands, f]
        futures[f] = t


def _result(future, task: SceneTask) -> SceneResult:
    """A task's result; a task that raised (e.g. KilledWorker: the workers running it kept
    dying) is the scene's failure."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001
        return replace(task, scene=task.scene.resolve()).failed(f"{type(exc).__name__}: {str(exc)[:300]}")


def _collect(distributed, futures: dict, results: _Results, warn, on_scene) -> None:
    written = time.monotonic()
    for future in distributed.as_completed(futures):
        result = _result(future, futures[future])
        results.add(futures[future], result)
        if warn and result.status == "done":
            for note in (result.summary or {}).get("notes", []):
                warn(note)
        if time.monotonic() - written >= CATALOGUE_EVERY_S:  # rewriting it is O(polygons so far)
            results.catalogue.write()
            written = time.monotonic()
        if on_scene:
            on_scene(result)


def _stop(distributed, client, stop: str, futures: dict, parts: dict, results: _Results) -> list:
    """After Ctrl-C: set the run's stop Event, cancel the tasks not started, wait up to
    CANCEL_WAIT_S for the running ones to stop (a second Ctrl-C ends the wait); the tasks that
    finished meanwhile join the results. Returns the tasks still running."""
    everything = [f for fs in parts.values() for f in fs]
    try:
        distributed.Event(stop, client=client).set()
        processing = {k for keys in client.processing().values() for k in keys}
        client.cancel([f for f in everything if f.key not in processing and not f.done()])
        distributed.wait([f for f in everything if f.key in processing], timeout=CANCEL_WAIT_S)
    except (TimeoutError, KeyboardInterrupt):
        pass
    for future, task in futures.items():
        if task not in results.by_task and future.status == "finished":
            results.add(task, _result(future, task))
    return [t for t, fs in parts.items() if any(not f.done() for f in fs)]


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not there, or still holding another scene's bands
        pass


def _left_in(out: Path) -> list[Path]:
    """lnet-edge's partial files (NAME.RUNID.part), band files and scene locks in OUT, and in the
    folders of OUT's scene folders (a pair's before scene: OUT/NAME/before/)."""
    from lnet_edge.field.io import PART

    ours = re.compile(rf".+\.[0-9a-f]+{re.escape(PART)}")
    found: set[Path] = set()
    for level in ("", "*/"):
        found |= {p for p in out.glob(f"{level}*/*{PART}") if ours.fullmatch(p.name)}
        found |= set(out.glob(f"{level}*/{outputs.LOCK_NAME}")) | set(out.glob(f"{level}{BANDS_DIR}/*/*"))
    return sorted(found)


def _stopped_message(out: Path, spec: ClusterSpec, catalogue: Catalogue, still: list[SceneTask]) -> str:
    """What Ctrl-C left: scenes done and unfinished, scenes still running, files left in OUT."""
    done = sum(r.status in ("done", "skipped") for r in catalogue.results.values())
    unfinished = len(catalogue.scenes) - len(catalogue.results)
    text = f"{done} scenes complete, {unfinished} unfinished (listed in {out / RUN_SUMMARY})"
    if still:
        shown = ", ".join(t.scene.name for t in still[:5]) + (f" and {len(still) - 5} more" if len(still) > 5 else "")
        after = (
            "they stop at their next tile row and remove their own partial files"
            if spec.kind == "tcp"
            else "their workers were closed"
        )
        text += f"; {len(still)} were still running after {CANCEL_WAIT_S:g} s ({shown}): {after}"
    left = _left_in(out)
    if left:
        shown = ", ".join(str(p.relative_to(out)) for p in left[:6]) + (
            f" and {len(left) - 6} more" if len(left) > 6 else ""
        )
        text += f"; left in {out}: {shown} (a rerun on {out} removes them)"
    else:
        text += "; no partial files are left"
    return text + "; rerun to finish"
