"""``infer --cluster`` on a real Dask LocalCluster of 2 worker processes: outputs identical to
the in-process run, a catalogue and summary that count every scene once, and the faults a
cluster sees (a worker killed mid-scene, a corrupt scene, a second client, a rerun)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lnet_edge.errors import LnetError
from lnet_edge.field.cluster import (
    CATALOGUE,
    RUN_SUMMARY,
    ClusterSpec,
    cpu_count,
    map_on_worker,
    parse_cluster,
    run_on_cluster,
)
from lnet_edge.field.outputs import LOCK_NAME, SceneLock
from lnet_edge.field.pipeline import InferOptions, output_file, run_scenes
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.synthetic import write_blob_scene
from lnet_edge.field.tasks import ClusterJob, SceneTask
from lnet_edge.runners.open import open_model
from tests.field.field_helpers import as_foreground_job

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
REQUEST = ModelRequest(model=MODEL, threads=1)


def _local_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )


@pytest.fixture(scope="module")
def cluster():
    with _local_cluster() as c:
        yield c


@pytest.fixture
def own_cluster():
    """A cluster for one test that kills a worker. A killed worker leaves a timer behind: if no
    worker of its name is back when it fires (15 s later), the cluster closes that worker's nanny
    for good, so a second kill on a shared cluster could lose the worker the next test needs."""
    with _local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("scenes")
    return [write_blob_scene(d / f"site{i}.tif", 520 + 40 * i, 600) for i in range(4)]


def _spec(cluster) -> ClusterSpec:
    return ClusterSpec("tcp", address=cluster.scheduler_address)


def _digest(summary: dict) -> dict:
    return {k: hashlib.sha256(output_file(summary, k).read_bytes()).hexdigest() for k in ("mask", "polygons")}


def _catalogue(out: Path) -> list[tuple]:
    with sqlite3.connect(out / CATALOGUE) as db:
        return db.execute("SELECT scene_id, id FROM landslides ORDER BY scene_id, id").fetchall()


def test_cluster_outputs_match_the_in_process_run_and_the_catalogue_counts_each_scene_once(
    cluster, scenes, tmp_path: Path
) -> None:
    out = tmp_path / "cluster"
    results = run_on_cluster(scenes, out, _spec(cluster), REQUEST, InferOptions(), {"model": str(MODEL)})
    assert [r.status for r in results] == ["done"] * 4 and [r.scene for r in results] == scenes
    runner, config = open_model(MODEL, threads=1)
    with runner:
        local = run_scenes(scenes, tmp_path / "local", runner, config, InferOptions(), {"model": str(MODEL)})
    for c, here in zip(results, local):
        assert _digest(c.summary) == _digest(here.summary)
    rows = _catalogue(out)
    assert len(rows) == len(set(rows)) == sum(r.summary["landslide_count"] for r in results) > 0
    summary = json.loads((out / RUN_SUMMARY).read_text())
    assert len(summary["done"]) == 4 and summary["failed"] == []
    assert summary["landslide_count"] == len(rows) and summary["km2_mapped"] > 0

    again = run_on_cluster(scenes, out, _spec(cluster), REQUEST, InferOptions(), {"model": str(MODEL)})
    assert [r.status for r in again] == ["skipped"] * 4  # a rerun resumes: complete scenes are skipped
    assert _catalogue(out) == rows  # and the catalogue still holds every scene once


def test_a_large_scene_in_row_bands_on_two_workers_matches_the_in_process_run(cluster, tmp_path: Path) -> None:
    scene = write_blob_scene(tmp_path / "large.tif", 1250, 700)  # 0.875 Mpx: 3 bands of at most 0.3 Mpx
    out = tmp_path / "cluster"
    events: list[dict] = []
    (banded,) = run_on_cluster(
        [scene],
        out,
        _spec(cluster),
        REQUEST,
        InferOptions(),
        {"model": str(MODEL)},
        band_pixels=300_000,
        on_tiles=events.append,
    )
    runner, config = open_model(MODEL, threads=1)
    with runner:
        (local,) = run_scenes([scene], tmp_path / "local", runner, config, InferOptions(), {"model": str(MODEL)})
    assert banded.status == "done", banded.message
    assert _digest(banded.summary) == _digest(local.summary)  # the mask and polygons, byte for byte
    for key in ("landslide_count", "landslide_area_m2", "tiles_run", "valid_pixels"):
        assert banded.summary[key] == local.summary[key]
    assert not (out / ".bands").exists()  # the bands are gone once the scene is assembled, and their folder
    # the client's tile bar: each band announced its tiles and reported them done
    assert events[-1] == {"total": banded.summary["tiles"], "done": banded.summary["tiles"]}
    # the scene's time is every task's: the bands' (which ran the model) and the assembly's
    bands = banded.summary["bands"]
    assert bands["count"] == 3 and banded.summary["model_seconds"] <= bands["seconds"]
    assert banded.summary["seconds"] == pytest.approx(bands["seconds"] + bands["assemble_seconds"], abs=0.01)
    assert banded.summary["km2_per_second"] == pytest.approx(
        banded.summary["scene_area_km2"] / banded.summary["seconds"], rel=0.01
    )


def test_a_corrupt_scene_is_reported_and_the_others_complete(cluster, scenes, tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 100)
    out = tmp_path / "out"
    results = run_on_cluster([bad, *scenes[:2]], out, _spec(cluster), REQUEST, InferOptions(), {})
    assert [r.status for r in results] == ["failed", "done", "done"]
    summary = json.loads((out / RUN_SUMMARY).read_text())
    assert summary["failed"][0]["scene"] == str(bad) and "cannot read scene" in summary["failed"][0]["reason"]


@pytest.mark.parametrize("band_pixels", [64_000_000, 1_000_000], ids=["whole-scenes", "row-bands"])
def test_a_worker_killed_mid_scene_is_retried_and_nothing_is_lost_or_counted_twice(
    own_cluster, tmp_path: Path, band_pixels: int
) -> None:
    cluster = own_cluster
    big = [write_blob_scene(tmp_path / f"big{i}.tif", 1400, 1400) for i in range(3)]
    out = tmp_path / "out"
    client = distributed.Client(cluster.scheduler_address)
    killed = []

    def kill_one_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            processing = client.processing()
            busy = [w for w, keys in processing.items() if keys]
            parts = list(out.glob("*/*.part")) + list(out.glob(".bands/*/*.part"))
            if busy and parts:  # a worker is mid-scene: its part files exist
                pids = client.run(os.getpid, workers=[busy[0]])
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.1)

    thread = threading.Thread(target=kill_one_busy_worker)
    thread.start()
    tiles: list[dict] = []
    try:
        results = run_on_cluster(
            big, out, _spec(cluster), REQUEST, InferOptions(), {}, band_pixels=band_pixels, on_tiles=tiles.append
        )
    finally:
        thread.join()
        client.close()
    assert killed, "no worker was killed mid-scene"
    assert [r.status for r in results] == ["done"] * 3
    assert not list(out.glob("*/*.part"))
    assert not (out / ".bands").exists()
    # the tile bar counts the retried task once: its second attempt started the count again
    assert tiles[-1]["total"] == tiles[-1]["done"] == sum(r.summary["tiles"] for r in results)
    rows = _catalogue(out)
    assert len(rows) == len(set(rows)) == sum(r.summary["landslide_count"] for r in results)
    cluster.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_a_second_client_on_the_same_output_folder_is_refused(cluster, scenes, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with SceneLock(out), pytest.raises(LnetError, match="being written by another lnet-edge run"):
        run_on_cluster(scenes[:1], out, _spec(cluster), REQUEST, InferOptions(), {})


def test_a_scene_the_worker_cannot_see_names_the_path_and_shared_storage(tmp_path: Path) -> None:
    task = SceneTask(tmp_path / "elsewhere.tif", tmp_path, "elsewhere")
    r = map_on_worker(task, ClusterJob(REQUEST, InferOptions(), {}))
    assert r.status == "failed" and "elsewhere.tif" in r.message and "shared" in r.message


@pytest.mark.parametrize("bad", ["local:0", "local:-2", "dask", "tcp://host", "http://host:8786", "local:two"])
def test_a_malformed_cluster_is_one_error_listing_the_forms(bad: str) -> None:
    with pytest.raises(LnetError, match=r"--cluster"):
        parse_cluster(bad)
    assert parse_cluster("local:1") == ClusterSpec("local", workers=1)
    assert parse_cluster("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"


def test_an_unreachable_scheduler_is_one_error_within_the_timeout(scenes, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    t = time.monotonic()
    with pytest.raises(LnetError, match="cannot reach the Dask scheduler"):
        run_on_cluster(
            scenes[:1],
            tmp_path / "out",
            ClusterSpec("tcp", address=f"tcp://127.0.0.1:{port}"),
            REQUEST,
            InferOptions(),
            {},
        )
    assert time.monotonic() - t < 30


def test_without_dask_the_error_gives_the_pip_command(monkeypatch, scenes, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(LnetError, match=r"pip install -e '\.\[cluster\]'"):
        run_on_cluster(scenes[:1], tmp_path / "out", ClusterSpec("local", workers=1), REQUEST, InferOptions(), {})


def test_a_rerun_on_a_moved_output_folder_skips_and_keeps_every_scene_in_the_catalogue(
    cluster, scenes, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_on_cluster(scenes[:2], out, _spec(cluster), REQUEST, InferOptions(), {"model": str(MODEL)})
    rows = _catalogue(out)
    moved = Path(shutil.move(out, tmp_path / "elsewhere" / "moved"))  # its summaries name the old folder
    (again,) = run_on_cluster(scenes[:1], moved, _spec(cluster), REQUEST, InferOptions(), {"model": str(MODEL)})
    assert again.status == "skipped" and again.out_dir == moved / "site0"
    assert _catalogue(moved) == rows  # both scenes, though this run named one
    summary = json.loads((moved / RUN_SUMMARY).read_text())
    assert summary["catalogue"]["scenes"] == ["site0", "site1"] and summary["catalogue"]["removed"] == []
    assert summary["landslide_count"] == len(rows) and summary["skipped"] == [str(scenes[0])]


def _interrupted(args: list[str], out: Path) -> tuple[int, str]:
    """The CLI with these arguments, sent SIGINT (to its whole process group, as a terminal's
    Ctrl-C is) once a scene is being written; its exit code and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lnet_edge.cli.main", "infer", *args, "-o", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_foreground_job,
    )
    deadline = time.monotonic() + 180
    while not list(out.glob("*/*.part")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    return proc.returncode, " ".join(err.split())


def _assert_stopped_cleanly(out: Path, err: str) -> None:
    assert "interrupted:" in err and "no partial files are left" in err and "Traceback" not in err, err
    assert not list(out.rglob("*.part")) and not list(out.glob(f"*/{LOCK_NAME}")) and not (out / ".bands").exists()
    summary = json.loads((out / RUN_SUMMARY).read_text())
    assert summary["interrupted"] and summary["unfinished"], summary
    for scene in summary["unfinished"]:  # a stopped scene did not commit
        assert not (out / Path(scene).stem / f"{Path(scene).stem}_summary.json").exists()


def test_ctrl_c_on_a_local_cluster_stops_the_running_scenes_and_says_what_is_left(tmp_path: Path) -> None:
    big = [str(write_blob_scene(tmp_path / f"big{i}.tif", 1400, 1400)) for i in range(3)]
    out = tmp_path / "out"
    code, err = _interrupted([*big, "--cluster", "local:2"], out)
    assert code == 130, err
    _assert_stopped_cleanly(out, err)


def test_ctrl_c_on_a_tcp_cluster_stops_the_scenes_running_on_its_workers(cluster, tmp_path: Path) -> None:
    big = [str(write_blob_scene(tmp_path / f"big{i}.tif", 1400, 1400)) for i in range(3)]
    out = tmp_path / "out"
    code, err = _interrupted([*big, "--cluster", cluster.scheduler_address], out)
    assert code == 130, err
    time.sleep(5)  # a scene that went on after the client left would commit meanwhile
    _assert_stopped_cleanly(out, err)
    with distributed.Client(cluster.scheduler_address) as client:
        assert not any(client.processing().values())  # nothing of the run goes on on the workers


def test_a_local_cluster_larger_than_the_machine_is_refused_naming_its_cpus() -> None:
    cpus = cpu_count()
    with pytest.raises(LnetError, match=rf"this machine has {cpus} CPUs, so at most local:{cpus}"):
        parse_cluster(f"local:{cpus + 1}")
    assert parse_cluster(f"local:{cpus}") == ClusterSpec("local", workers=cpus)


def test_cuda_graph_reaches_the_workers(monkeypatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lnet_edge.cli.main import app

    seen = {}
    monkeypatch.setattr("lnet_edge.field.cluster.run_on_cluster", lambda *a, **k: seen.setdefault("args", a) and [])
    scene = write_blob_scene(tmp_path / "s.tif", 64, 64)
    result = CliRunner().invoke(
        app, ["infer", str(scene), "-o", str(tmp_path / "o"), "--cluster", "local:1", "--cuda-graph"]
    )
    assert result.exit_code == 0, result.output
    assert seen["args"][3].cuda_graph is True  # the ModelRequest the workers open


# --- one worker with two threads and two (stand-in) GPUs, within a 3 GB memory limit -----------


@pytest.fixture(scope="module")
def gpu_worker():
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        resources={"GPU": 2},
        memory_limit="3GB",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as c:
        yield c


def _count_model_openings(dask_worker) -> None:
    """On the worker: forget its models and count the next openings (each takes a second)."""
    from lnet_edge.field import backend

    dask_worker.__dict__.pop("_lnet_edge_models", None)
    original = getattr(backend, "_original_open", backend.open_field_model)
    backend._original_open, backend.openings = original, []

    def counting(*args, **kwargs):
        backend.openings.append(1)
        time.sleep(1.0)
        return original(*args, **kwargs)

    backend.open_field_model = counting


def test_a_worker_with_two_threads_opens_the_model_once(gpu_worker, scenes, tmp_path: Path) -> None:
    with distributed.Client(gpu_worker.scheduler_address) as client:
        client.run(_count_model_openings)
        results = run_on_cluster(scenes[:2], tmp_path / "out", _spec(gpu_worker), REQUEST, InferOptions(), {})
        openings = client.run(lambda: len(__import__("lnet_edge.field.backend").field.backend.openings))
    assert [r.status for r in results] == ["done", "done"]
    assert list(openings.values()) == [1]


def test_every_task_of_a_banded_scene_asks_for_a_gpu(gpu_worker, monkeypatch, tmp_path: Path) -> None:
    submitted = []
    submit = distributed.Client.submit

    def recording(self, func, *args, **kwargs):
        submitted.append((func.__name__, kwargs.get("resources")))
        return submit(self, func, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", recording)
    scene = write_blob_scene(tmp_path / "large.tif", 900, 600)
    (r,) = run_on_cluster(
        [scene], tmp_path / "out", _spec(gpu_worker), REQUEST, InferOptions(), {}, band_pixels=200_000
    )
    assert r.status == "done", r.message
    assert [name for name, _ in submitted].count("band_on_worker") == 3
    assert all(resources == {"GPU": 1} for _, resources in submitted), submitted  # the assembly too


def test_bands_beyond_the_workers_memory_are_refused_and_scene_notes_reach_the_client(
    gpu_worker, shared_data: Path, tmp_path: Path
) -> None:
    import rasterio
    from rasterio.transform import from_origin

    photo = shared_data / "sichuan_aerial_atlan1024" / "images" / "Landslide003.png"
    with rasterio.open(photo) as src:
        data, profile = src.read(), {"count": src.count, "width": src.width, "height": src.height}
    km = tmp_path / "km.tif"  # a real photo tagged with 1 km pixels
    transform = from_origin(366070.0, 3483660.0, 1000.0, 1000.0)
    with rasterio.open(km, "w", driver="GTiff", dtype="uint8", crs="EPSG:32648", transform=transform, **profile) as dst:
        dst.write(data)
    small = shared_data / "bijie_native" / "images" / "ls_0000.png"  # no georeference
    notes: list[str] = []
    out = tmp_path / "out"
    refused, mapped = run_on_cluster(
        [km, small], out, _spec(gpu_worker), REQUEST, InferOptions(), {}, band_pixels=600_000, warn=notes.append
    )
    assert refused.status == "failed" and "band 1 of 2" in refused.message, refused.message
    assert "needs about" in refused.message and "Dask worker's memory limit" in refused.message
    assert "is resampled x99" in refused.message and "--gsd none" in refused.message
    assert mapped.status == "done" and any("ls_0000.png has no georeference" in n for n in notes), notes
    assert not (out / ".bands").exists()
