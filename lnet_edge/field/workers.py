"""What runs on a Dask worker for ``infer --cluster`` (field/cluster.py): a scene, a band of a
large scene (field/bands.py), or the assembly of a banded scene; each takes a SceneTask and the
run's ClusterJob and returns a SceneResult or a BandResult (field/tasks.py), and never raises for
the scene's own faults.

A worker opens the model on its first scene and keeps it (on the worker object); a worker with
several threads opens it once, under a lock. A task checks between tile rows whether its run
was stopped (the run's Dask Event, asked at most every CANCEL_CHECK_S seconds): it then raises
RunCancelled through the scene's cleanup (partial files removed, folder lock released) and
returns a result of status "stopped". As a preload (``dask_setup``), this module makes a worker
process ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and stopping the run
is the client's job.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from lnet_edge.errors import LnetError
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.summary import SceneResult
from lnet_edge.field.tasks import BandResult, ClusterJob, SceneTask

CANCEL_CHECK_S = 0.5  # a running task asks the scheduler whether the run was stopped at most this often
_MODELS_LOCK = threading.Lock()  # one opening of a model per worker process, whatever its threads


class RunCancelled(BaseException):
    """Raised in a task when its run was stopped (Ctrl-C on the client). Not an Exception, so no
    per-scene handler turns it into a failure: the scene's cleanup runs on the way out."""


def dask_setup(worker) -> None:
    """Dask's preload hook, in the worker process's main thread: leave Ctrl-C to the client."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_model(request: ModelRequest):
    """The worker's opened model for ``request``, opened on its first scene and kept; a worker
    running several threads opens it once (the others wait for it)."""
    from distributed import get_worker

    worker = get_worker()
    with _MODELS_LOCK:
        cache = worker.__dict__.setdefault("_lnet_edge_models", {})
        if request not in cache:
            opened = request.open()
            opened.runner.activate()
            cache[request] = opened
        return cache[request]


def _stop_check(stop: str | None) -> Callable[[], None]:
    """A function that raises RunCancelled once the run's Dask Event ``stop`` is set; it asks the
    scheduler at most every CANCEL_CHECK_S seconds (the first call always asks)."""
    if not stop:
        return lambda: None
    from distributed import Event

    event, last = Event(stop), [float("-inf")]

    def check() -> None:
        now = time.monotonic()
        if now - last[0] < CANCEL_CHECK_S:
            return
        last[0] = now
        try:
            stopped = event.is_set()
        except Exception:  # noqa: BLE001 - the scheduler is unreachable: the scene goes on
            return
        if stopped:
            raise RunCancelled("the run was stopped on its client")

    return check


def _open_on_worker(task: SceneTask, job: ClusterJob, check: Callable[[], None] = lambda: None):
    """((opened model, model info), None) for a scene this worker can see, else (None, why not);
    RunCancelled when the run was stopped before the scene started."""
    import socket

    check()
    if not task.scene.is_file():
        return None, (
            f"scene {task.scene} is not visible on worker host {socket.gethostname()}: "
            "the scenes and -o must be on storage all workers share (give paths on a shared filesystem)"
        )
    try:
        opened = _worker_model(job.model)
    except LnetError as exc:
        return None, str(exc)
    return (opened, job.model.model_info(opened, job.model_info)), None


def _progress(topic: str | None, check: Callable[[], None]):
    """(on_start, on_tiles) that check whether the run was stopped and send a task's tile counts
    to the client as worker events, named by the task (a retried task starts its count again)."""
    if not topic:
        return (lambda n: check()), (lambda n: check())
    from distributed import get_worker

    worker = get_worker()
    task = str(worker.get_current_task())

    def send(message: dict) -> None:
        check()
        worker.log_event(topic, {"task": task, **message})

    return (lambda n: send({"total": n})), (lambda n: send({"done": n}))


def map_on_worker(task: SceneTask, job: ClusterJob, assemble=None) -> SceneResult:
    """One scene, on a worker (never raises for the scene's faults; status "stopped" when its run
    was stopped). ``assemble``: the scene's bands are done, write its outputs from them
    (field/bands.py)."""
    try:
        return _map(task, job, assemble, _stop_check(job.stop))
    except RunCancelled as exc:  # its partial files are gone and its folder released
        return task.failed(str(exc), "stopped")


def _map(task: SceneTask, job: ClusterJob, assemble, check: Callable[[], None]) -> SceneResult:
    from lnet_edge.field.pipeline import map_scene, scene_outputs

    found, problem = _open_on_worker(task, job, check)
    if problem:
        return task.failed(problem)
    opened, info = found
    on_start, on_tiles = _progress(job.topic if assemble is None else None, check)  # bands report their own tiles
    if assemble is not None:
        assemble.check = check
    r = map_scene(
        task.scene,
        task.out,
        task.name,
        opened.runner,
        opened.config,
        job.options,
        info,
        lambda _, n: on_start(n),
        on_tiles,
        assemble=assemble,
    )
    if r.status == "skipped":  # complete from an earlier run: its summary feeds the catalogue
        summary = json.loads(scene_outputs(task.out, task.scene, task.name)["summary"].read_text())
        return replace(r, summary=summary)
    return r


def band_on_worker(task: SceneTask, job: ClusterJob, k: int, count: int) -> BandResult:
    """Band ``k`` of ``count`` of a large scene (field/bands.py): "skip" when the scene's outputs
    are already complete, "error" when it cannot run, "stopped" when its run was stopped."""
    try:
        return _band(task, job, k, count, _stop_check(job.stop))
    except RunCancelled as exc:  # its partial band file is gone
        return BandResult("stopped", str(exc))


def _band(task: SceneTask, job: ClusterJob, k: int, count: int, check: Callable[[], None]) -> BandResult:
    from lnet_edge.field import outputs
    from lnet_edge.field.bands import map_band
    from lnet_edge.field.options import shaping_options
    from lnet_edge.field.pipeline import describe_failure, scene_outputs

    found, problem = _open_on_worker(task, job, check)
    if problem:
        return BandResult("error", problem)
    opened, info = found
    options = job.options
    try:
        paths = scene_outputs(task.out, task.scene, task.name)
        shaping = shaping_options(options, opened.config, opened.runner)
        if (
            not options.overwrite
            and outputs.stale_reason(paths, outputs.scene_identity(task.scene), info["model_sha256"], shaping) is None
        ):
            return BandResult("skip")
        hooks = _progress(job.topic, check)
        map_band(task.scene, task.out, task.name, k, count, opened.runner, opened.config, options, *hooks)
        return BandResult("done")
    except LnetError as exc:
        return BandResult("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as the scene's failure
        return BandResult("error", describe_failure(exc, task.out / task.name))


def assemble_on_worker(task: SceneTask, job: ClusterJob, count: int, *bands: BandResult) -> SceneResult:
    """The outputs of a scene mapped band by band, once every band is done."""
    from lnet_edge.field.bands import Assembler

    assembler = Assembler(task.out, task.name, count)
    try:
        errors = [b.message for b in bands if b.status == "error"]
        if errors:
            return task.failed(errors[0])
        stopped = [b.message for b in bands if b.status == "stopped"]
        if stopped:
            return task.failed(stopped[0], "stopped")
        skip = all(b.status == "skip" for b in bands)
        return map_on_worker(task, replace(job, topic=None), None if skip else assembler)
    finally:
        assembler.remove()
