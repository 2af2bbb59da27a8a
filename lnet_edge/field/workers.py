"""What runs on a Dask worker for ``infer --cluster`` (field/cluster.py): a scene, a band of a
large scene (field/bands.py), or the assembly of a banded scene; each returns a JSON-able
result and never raises for the scene's own faults.

A worker opens the model on its first scene and keeps it (on the worker object); a worker with
several threads opens it once, under a lock. A task checks between tile rows whether its run
was stopped (the run's Dask Event, asked at most every CANCEL_CHECK_S seconds): it then raises
RunCancelled through the scene's cleanup (partial files removed, folder lock released) and
returns {"status": "stopped"}. As a preload (``dask_setup``), this module makes a worker process
ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and stopping the run is the
client's job.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.field.pipeline import InferOptions

CANCEL_CHECK_S = 0.5  # a running task asks the scheduler whether the run was stopped at most this often
_MODELS_LOCK = threading.Lock()  # one opening of a model per worker process, whatever its threads


class RunCancelled(BaseException):
    """Raised in a task when its run was stopped (Ctrl-C on the client). Not an Exception, so no
    per-scene handler turns it into a failure: the scene's cleanup runs on the way out."""


def dask_setup(worker) -> None:
    """Dask's preload hook, in the worker process's main thread: leave Ctrl-C to the client."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_model(
    model: str | None, backend: str, threads: int | None, precision: str | None, force: bool, cuda_graph: bool = False
):
    """The worker's opened model for these arguments, opened on its first scene and kept; a
    worker running several threads opens it once (the others wait for it)."""
    from distributed import get_worker

    from lnet_edge.field import backend as field_backend

    worker = get_worker()
    key = (model, backend, threads, precision, force, cuda_graph)
    with _MODELS_LOCK:
        cache = worker.__dict__.setdefault("_lnet_edge_models", {})
        if key not in cache:
            opened = field_backend.open_field_model(
                Path(model) if model else None,
                field_backend.Backend(backend),
                threads,
                cuda_graph,
                precision,
                force,
            )
            opened.runner.activate()
            cache[key] = opened
        return cache[key]


def failed(scene: str, out: str, name: str, message: str, status: str = "failed") -> dict:
    """The result of a scene that has no outputs from this task (``status``: failed or stopped)."""
    return {
        "scene": scene,
        "name": name,
        "status": status,
        "message": message,
        "folder": str(Path(out) / name),
        "summary": None,
    }


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


def _open_on_worker(scene: str, model_args: tuple, model_info: dict, check: Callable[[], None] = lambda: None):
    """((opened model, model info), None) for a scene this worker can see, else (None, why not);
    RunCancelled when the run was stopped before the scene started."""
    import socket

    check()
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


def map_on_worker(
    scene: str,
    out: str,
    name: str,
    model_args: tuple,
    options: InferOptions,
    model_info: dict,
    assemble=None,
    topic: str | None = None,
    stop: str | None = None,
) -> dict:
    """One scene, on a worker; returns a JSON-able result (never raises for the scene's faults;
    status "stopped" when its run ``stop`` was stopped). ``assemble``: the scene's bands are
    done, write its outputs from them (field/bands.py)."""
    try:
        return _map(scene, out, name, model_args, options, model_info, assemble, topic, _stop_check(stop))
    except RunCancelled as exc:  # its partial files are gone and its folder released
        return failed(scene, out, name, str(exc), "stopped")


def _map(scene, out, name, model_args, options, model_info, assemble, topic, check) -> dict:
    from lnet_edge.field.pipeline import map_scene, scene_outputs

    path = Path(scene)
    found, problem = _open_on_worker(scene, model_args, model_info, check)
    if problem:
        return failed(scene, out, name, problem)
    opened, info = found
    on_start, on_tiles = _progress(topic if assemble is None else None, check)  # bands report their own tiles
    if assemble is not None:
        assemble.check = check
    r = map_scene(
        path,
        Path(out),
        name,
        opened.runner,
        opened.config,
        options,
        info,
        lambda _, n: on_start(n),
        on_tiles,
        assemble=assemble,
    )
    summary = r.summary
    if r.status == "skipped":  # complete from an earlier run: its summary feeds the catalogue
        summary = json.loads(scene_outputs(Path(out), path, name)["summary"].read_text())
    result = {"scene": scene, "name": name, "status": r.status, "message": r.message}
    return {**result, "folder": str(r.out_dir), "summary": summary}


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
    stop: str | None = None,
) -> dict:
    """Band ``k`` of ``count`` of a large scene (field/bands.py); {"skip": True} when the scene's
    outputs are already complete, {"error": ...} when it cannot run, {"stopped": ...} when its
    run was stopped."""
    try:
        return _band(scene, out, name, k, count, model_args, options, model_info, topic, _stop_check(stop))
    except RunCancelled as exc:  # its partial band file is gone
        return {"stopped": str(exc)}


def _band(scene, out, name, k, count, model_args, options, model_info, topic, check) -> dict:
    from lnet_edge.field import outputs
    from lnet_edge.field.bands import map_band
    from lnet_edge.field.pipeline import describe_failure, scene_outputs, shaping_options

    found, problem = _open_on_worker(scene, model_args, model_info, check)
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
        hooks = _progress(topic, check)
        return map_band(path, Path(out), name, k, count, opened.runner, opened.config, options, *hooks)
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
    stop: str | None = None,
) -> dict:
    """The outputs of a scene mapped band by band, once every band is done."""
    from lnet_edge.field.bands import Assembler

    assembler = Assembler(Path(out), name, count)
    try:
        errors = [b["error"] for b in bands if "error" in b]
        if errors:
            return failed(scene, out, name, errors[0])
        stopped = [b["stopped"] for b in bands if "stopped" in b]
        if stopped:
            return failed(scene, out, name, stopped[0], "stopped")
        skip = all(b.get("skip") for b in bands)
        return map_on_worker(scene, out, name, model_args, options, model_info, None if skip else assembler, stop=stop)
    finally:
        assembler.remove()
