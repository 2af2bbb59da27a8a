"""``infer --cluster`` on a real Dask LocalCluster of 2 worker processes: outputs identical to
the in-process run, a catalogue and summary that count every scene once, and the faults a
cluster sees (a worker killed mid-scene, a corrupt scene, a second client, a rerun)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from lnet_edge.errors import LnetError
from lnet_edge.field.cluster import CATALOGUE, RUN_SUMMARY, ClusterSpec, map_on_worker, parse_cluster, run_on_cluster
from lnet_edge.field.outputs import SceneLock
from lnet_edge.field.pipeline import InferOptions, output_file, run_scenes
from lnet_edge.field.synthetic import write_blob_scene
from lnet_edge.runners.open import open_model

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
MODEL_ARGS = (str(MODEL), "auto", 1, None, False)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as c:
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
    results = run_on_cluster(scenes, out, _spec(cluster), MODEL_ARGS, InferOptions(), {"model": str(MODEL)})
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

    again = run_on_cluster(scenes, out, _spec(cluster), MODEL_ARGS, InferOptions(), {"model": str(MODEL)})
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
        MODEL_ARGS,
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
    assert not any((out / ".bands").iterdir())  # the bands are gone once the scene is assembled
    # the client's tile bar: each band announced its tiles and reported them done
    assert sum(e.get("total", 0) for e in events) == sum(e.get("done", 0) for e in events) == banded.summary["tiles"]
    assert sum("total" in e for e in events) == 3


def test_a_corrupt_scene_is_reported_and_the_others_complete(cluster, scenes, tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 100)
    out = tmp_path / "out"
    results = run_on_cluster([bad, *scenes[:2]], out, _spec(cluster), MODEL_ARGS, InferOptions(), {})
    assert [r.status for r in results] == ["failed", "done", "done"]
    summary = json.loads((out / RUN_SUMMARY).read_text())
    assert summary["failed"][0]["scene"] == str(bad) and "cannot read scene" in summary["failed"][0]["reason"]


@pytest.mark.parametrize("band_pixels", [64_000_000, 1_000_000], ids=["whole-scenes", "row-bands"])
def test_a_worker_killed_mid_scene_is_retried_and_nothing_is_lost_or_counted_twice(
    cluster, tmp_path: Path, band_pixels: int
) -> None:
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
    try:
        results = run_on_cluster(big, out, _spec(cluster), MODEL_ARGS, InferOptions(), {}, band_pixels=band_pixels)
    finally:
        thread.join()
        client.close()
    assert killed, "no worker was killed mid-scene"
    assert [r.status for r in results] == ["done"] * 3
    assert not list(out.glob("*/*.part"))
    assert not (out / ".bands").exists() or not any((out / ".bands").iterdir())
    rows = _catalogue(out)
    assert len(rows) == len(set(rows)) == sum(r.summary["landslide_count"] for r in results)
    cluster.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_a_second_client_on_the_same_output_folder_is_refused(cluster, scenes, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with SceneLock(out), pytest.raises(LnetError, match="being written by another lnet-edge run"):
        run_on_cluster(scenes[:1], out, _spec(cluster), MODEL_ARGS, InferOptions(), {})


def test_a_scene_the_worker_cannot_see_names_the_path_and_shared_storage(tmp_path: Path) -> None:
    r = map_on_worker(str(tmp_path / "elsewhere.tif"), str(tmp_path), "elsewhere", MODEL_ARGS, InferOptions(), {})
    assert r["status"] == "failed" and "elsewhere.tif" in r["message"] and "shared" in r["message"]


@pytest.mark.parametrize("bad", ["local:0", "local:-2", "dask", "tcp://host", "http://host:8786", "local:two"])
def test_a_malformed_cluster_is_one_error_listing_the_forms(bad: str) -> None:
    with pytest.raises(LnetError, match=r"--cluster"):
        parse_cluster(bad)
    assert parse_cluster("local:3") == ClusterSpec("local", workers=3)
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
            MODEL_ARGS,
            InferOptions(),
            {},
        )
    assert time.monotonic() - t < 30


def test_without_dask_the_error_gives_the_pip_command(monkeypatch, scenes, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(LnetError, match=r"pip install -e '\.\[cluster\]'"):
        run_on_cluster(scenes[:1], tmp_path / "out", ClusterSpec("local", workers=1), MODEL_ARGS, InferOptions(), {})


def test_a_scene_without_georeference_is_summarised_in_pixels_not_in_km2(tmp_path: Path) -> None:
    from lnet_edge.field.cluster import Catalogue

    catalogue = Catalogue(tmp_path)
    pixel = {"scene": "a.png", "scene_area_km2": None, "landslide_count": 3, "landslide_area_px2": 120.0}
    metric = {"scene": "b.tif", "scene_area_km2": 0.25, "landslide_count": 2, "landslide_area_m2": 50.0}
    for summary in (pixel, metric):
        catalogue.results[summary["scene"]] = {"scene": summary["scene"], "status": "done", "summary": summary}
    s = catalogue.summary()
    assert s["km2_mapped"] == 0.25 and s["landslide_area_m2"] == 50.0 and s["landslide_count"] == 5
    assert s["scenes_without_georeference"] == ["a.png"] and s["landslide_area_px2_without_georeference"] == 120.0
