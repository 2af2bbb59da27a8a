"""The pipelined field run (reader, model and writer threads; polygons in a child process for
large scenes) writes the same bytes as the sequential one, and fails like it: one scene at a
time, nothing half-written, the batch going on."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lnet_edge.config import ModelConfig
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.errors import LnetError
from lnet_edge.field import io, polygons, strips
from lnet_edge.field.pipeline import InferOptions, check_workers, output_file, run_scenes
from lnet_edge.field.synthetic import write_blob_scene
from lnet_edge.runners.open import open_model
from tests.field.field_helpers import ThresholdRunner, as_foreground_job

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ONNX = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
INFO = {"model": "test", "backend": "test", "precision": "fp32", "model_sha256": "0" * 64}


@pytest.fixture(autouse=True)
def overlap_every_scene(monkeypatch) -> None:
    """The small scenes here overlap their stages too (normally from OVERLAP_MIN_STRIPS rows)."""
    monkeypatch.setattr(strips, "OVERLAP_MIN_STRIPS", 2)


def _digest(summary: dict) -> dict[str, str]:
    """sha256 of the rasters and the GeoJSON, and the GeoPackage's rows."""
    out = {
        k: hashlib.sha256(output_file(summary, k).read_bytes()).hexdigest() for k in ("probability", "mask", "polygons")
    }
    with sqlite3.connect(output_file(summary, "geopackage")) as db:
        out["gpkg"] = hashlib.sha256(
            repr(db.execute("SELECT * FROM landslides ORDER BY fid").fetchall()).encode()
        ).hexdigest()
    return out


def _run(scenes, out, runner, config=None, **kw):
    with runner as r:
        return run_scenes(
            scenes, out, r, config or ModelConfig(), InferOptions(**{"overwrite": True, "tile": 256, **kw}), INFO
        )  # many strips


def test_pipelined_run_of_the_sample_scene_is_byte_identical_to_the_sequential_run(tmp_path: Path) -> None:
    runner, config = open_model(DEFAULT_ONNX)
    with runner:
        one, two = (
            run_scenes([SAMPLE_SCENE], tmp_path / f"w{w}", runner, config, InferOptions(workers=w), INFO)[0]
            for w in (1, 2)
        )
    assert one.status == two.status == "done"
    assert one.summary["landslide_count"] > 0
    assert _digest(one.summary) == _digest(two.summary)


def test_polygons_traced_in_a_child_process_are_identical(tmp_path: Path, monkeypatch) -> None:
    scene = write_blob_scene(tmp_path / "blobs.tif", 1100, 900)
    one = _run([scene], tmp_path / "w1", ThresholdRunner(), workers=1)[0]
    monkeypatch.setattr(polygons, "PROCESS_MIN_PIXELS", 0)
    calls = []
    real = polygons.PolygonProcess.__init__
    monkeypatch.setattr(polygons.PolygonProcess, "__init__", lambda self, spec: (calls.append(1), real(self, spec))[1])
    two = _run([scene], tmp_path / "w2", ThresholdRunner(), workers=2)[0]
    assert calls, "the child process was not used"
    assert one.status == two.status == "done" and one.summary["landslide_count"] > 20
    assert _digest(one.summary) == _digest(two.summary)
    assert one.summary["landslide_area_m2"] == two.summary["landslide_area_m2"]


class _FailingRunner(ThresholdRunner):
    """Raises on its ``fail_at``-th call (counted over the whole batch)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at, self.total = fail_at, 0

    def infer_impl(self, feed):
        self.total += 1
        if self.total == self.fail_at:
            raise RuntimeError("runner broke mid-scene")
        return super().infer_impl(feed)


def test_a_failing_model_stage_fails_its_scene_only(tmp_path: Path) -> None:
    a = write_blob_scene(tmp_path / "a.tif", 1200, 1200)
    b = write_blob_scene(tmp_path / "b.tif", 600, 600)
    out = tmp_path / "out"
    first, second = _run([a, b], out, _FailingRunner(fail_at=5), workers=2, batch=2)
    assert first.status == "failed" and "runner broke mid-scene" in first.message
    assert list((out / "a").iterdir()) == []  # nothing half-written, not even a part file
    assert second.status == "done"


def test_a_failing_writer_stage_fails_its_scene_with_the_os_cause(tmp_path: Path, monkeypatch) -> None:
    scene = write_blob_scene(tmp_path / "a.tif", 1200, 1200)
    calls = []

    def full(self, data, row):
        calls.append(row)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data, row)

    real = io.BlockRowWriter._write
    monkeypatch.setattr(io.BlockRowWriter, "_write", full)
    (result,) = _run([scene], tmp_path / "out", ThresholdRunner(), workers=2)
    assert result.status == "failed" and result.message.startswith("disk full")
    assert list((tmp_path / "out" / "a").iterdir()) == []


def test_a_killed_polygon_process_fails_its_scene_and_the_next_runs(tmp_path: Path, monkeypatch) -> None:
    a = write_blob_scene(tmp_path / "a.tif", 1500, 1500)
    b = write_blob_scene(tmp_path / "b.tif", 600, 600)
    monkeypatch.setattr(polygons, "PROCESS_MIN_PIXELS", 1_000_000)  # a: in a child; b: in process

    class Killer(ThresholdRunner):
        def infer_impl(self, feed):
            if self.calls == 20:  # counted by ThresholdRunner
                for child in multiprocessing.active_children():
                    if child.name == "lnet-edge-polygons":
                        os.kill(child.pid, signal.SIGKILL)
            return super().infer_impl(feed)

    first, second = _run([a, b], tmp_path / "out", Killer(), workers=2, batch=1)
    assert first.status == "failed" and "polygon process stopped unexpectedly" in first.message
    assert list((tmp_path / "out" / "a").iterdir()) == []
    assert second.status == "done"
    assert not [c for c in multiprocessing.active_children() if c.name == "lnet-edge-polygons"]


def test_a_daemonic_process_such_as_a_dask_worker_traces_in_process(tmp_path: Path, monkeypatch) -> None:
    from lnet_edge.field.vectorize import Georef

    spec = polygons.PolygonSpec(
        tmp_path / "p.geojson", tmp_path / "p.gpkg", "p", None, Georef((1, 0, 0, 0, 1, 0), "pixel"), 0
    )
    big = polygons.PROCESS_MIN_PIXELS
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True, raising=False)
    sink = polygons.polygon_sink(spec, big, workers=2)
    assert isinstance(sink, polygons.PolygonSink)  # daemonic processes may not have children
    sink.abandon()


@pytest.mark.parametrize("bad", [0, -3])
def test_workers_below_one_is_refused(bad: int) -> None:
    with pytest.raises(LnetError, match=f"--workers {bad}"):
        check_workers(bad)
    assert check_workers(None) in (1, 2) and check_workers(3) == 3


def test_ctrl_c_stops_threads_and_the_polygon_process_in_one_line(tmp_path: Path) -> None:
    scene = write_blob_scene(tmp_path / "big.tif", 5200, 5200)  # above PROCESS_MIN_PIXELS: polygons in a child
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lnet_edge.cli.main", "infer", str(scene), "-o", str(out), "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=as_foreground_job,
    )
    deadline = time.monotonic() + 120
    while not list((out / "big").glob("*.part")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # let the child process start and take strips
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert [p.name for p in (out / "big").iterdir()] == []
    left = ""
    for _ in range(50):  # no process of the run is left behind (the polygon process included)
        left = subprocess.run(
            ["ps", "-o", "pid,args", "--no-headers", "-g", str(proc.pid)], capture_output=True, text=True
        ).stdout
        if not left.strip():
            break
        time.sleep(0.1)
    assert not left.strip(), left
