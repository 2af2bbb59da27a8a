"""Threads in a row for the field run: a producer, the calling thread, then consumers.

``run_staged(source, middle, after, threaded)`` passes every item of ``source`` through
``middle`` and then each function of ``after``, in order. Threaded, ``source`` is iterated in a
reader thread, ``middle`` runs in the calling thread (the model: a CUDA context belongs to the
thread that made it) and each function of ``after`` in a thread of its own, joined by queues of
``DEPTH`` items, so memory stays bounded. What overlaps is the
work that releases the GIL: GDAL reads and writes, numpy, OpenCV, the runner.

Faults: the first exception of any stage stops the others (each wait checks a stop event every
``POLL_S`` seconds) and is raised in the calling thread; so is Ctrl-C, which reaches the calling
thread. Nothing is left running when ``run_staged`` returns or raises.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

DEPTH = 1  # items waiting between two stages (a strip is O(tile x scene width))
POLL_S = 0.05
_END = object()


class _Cancelled(Exception):
    """Raised inside a stage when another stage failed or the run was interrupted."""


class _Pipe:
    def __init__(self, stop: threading.Event) -> None:
        self.q: queue.Queue = queue.Queue(DEPTH)
        self.stop = stop

    def put(self, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Cancelled
            try:
                return self.q.put(item, timeout=POLL_S)
            except queue.Full:
                pass

    def get(self) -> Any:
        while True:
            if self.stop.is_set():
                raise _Cancelled
            try:
                return self.q.get(timeout=POLL_S)
            except queue.Empty:
                pass


def run_staged(
    source: Iterable, middle: Callable[[Any], Any], after: list[Callable[[Any], Any]], threaded: bool
) -> None:
    """Every item of ``source`` through ``middle`` and then each function of ``after`` in turn
    (the last one's result is dropped), in order (see the module docstring); threaded, each
    function of ``after`` has its own thread."""
    if not threaded:
        for item in source:
            item = middle(item)
            for f in after:
                item = f(item)
        return
    stop = threading.Event()
    pipes = [_Pipe(stop) for _ in range(len(after) + 1)]  # into middle, then into each of after
    errors: list[BaseException] = []
    works = [_produce(source, pipes[0])]
    works += [_stage(f, pipes[k + 1], pipes[k + 2] if k + 2 < len(pipes) else None) for k, f in enumerate(after)]
    names = ["lnet-edge-read"] + [f"lnet-edge-stage{k + 1}" for k in range(len(after))]
    threads = [
        threading.Thread(target=_guarded(work, stop, errors), name=name, daemon=True)
        for work, name in zip(works, names)
    ]
    for t in threads:
        t.start()
    try:
        while (item := pipes[0].get()) is not _END:
            pipes[1].put(middle(item))
        pipes[1].put(_END)
        while threads[-1].is_alive():  # a timed join keeps Ctrl-C deliverable
            threads[-1].join(POLL_S)
    except _Cancelled:
        pass
    finally:
        stop.set()
        for t in threads:
            while t.is_alive():
                t.join(POLL_S)
    if errors:
        raise errors[0]


def _guarded(work: Callable[[], None], stop: threading.Event, errors: list[BaseException]) -> Callable[[], None]:
    """``work`` for a stage's thread: its first error goes to ``errors`` and stops the others."""

    def body() -> None:
        try:
            work()
        except _Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            errors.append(exc)
            stop.set()

    return body


def _produce(source: Iterable, into: _Pipe) -> Callable[[], None]:
    def work() -> None:
        for item in source:
            into.put(item)
        into.put(_END)

    return work


def _stage(f: Callable[[Any], Any], pipe: _Pipe, into: _Pipe | None) -> Callable[[], None]:
    """``f`` on every item of ``pipe``, its results into ``into`` (None: the last stage drops them)."""

    def work() -> None:
        while (item := pipe.get()) is not _END:
            item = f(item)
            if into is not None:
                into.put(item)
        if into is not None:
            into.put(_END)

    return work
