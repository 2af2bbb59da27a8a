"""What field machines do to a run: two runs at once, NaN pixels, colliding names, stale and
copied output folders, failures mid-swap, unexpected errors, signals, pipes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from lnet_edge.config import ModelConfig
from lnet_edge.field import io
from lnet_edge.field.outputs import SceneLock
from lnet_edge.field.pipeline import InferOptions, output_file, run_scenes, scene_outputs
from lnet_edge.runners.base import OUTPUT_NAME
from tests.field.field_helpers import ThresholdRunner, rgb_from_mask, write_scene

INFO = {"model": "test", "backend": "test", "precision": "fp32", "model_sha256": "0" * 64}
ROOT = Path(__file__).resolve().parents[2]


def _run(scenes: list[Path], out: Path, runner=None, info=INFO, **kw):
    with runner or ThresholdRunner() as r:
        return run_scenes(scenes, out, r, ModelConfig(), InferOptions(**kw), info)


def _mask(h: int = 300, w: int = 300) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[100:200, 50:250] = 1
    return m


def _read(summary: dict, key: str) -> np.ndarray:
    with rasterio.open(output_file(summary, key)) as dst:
        return dst.read(1)


# --- one writer per output folder ---------------------------------------------------------


def test_a_second_run_into_a_held_folder_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    out = tmp_path / "out"
    with SceneLock(out / "site"):
        (result,) = _run([scene], out)
    assert result.status == "failed"
    assert "being written by another lnet-edge run" in result.message and f"pid {os.getpid()}" in result.message
    assert not (out / "site" / "site_summary.json").exists()
    (again,) = _run([scene], out)  # the lock went with its holder
    assert again.status == "done" and not (out / "site" / ".lnet-edge.lock").exists()


RACER = """
import sys
from pathlib import Path
from lnet_edge.field.pipeline import InferOptions, run_scenes
from lnet_edge.config import ModelConfig
from tests.field.field_helpers import ThresholdRunner
with ThresholdRunner() as r:
    (res,) = run_scenes([Path(sys.argv[1])], Path(sys.argv[2]), r, ModelConfig(),
                        InferOptions(threshold=float(sys.argv[3])), {"model_sha256": "x"})
print(res.status, res.message)
"""


def test_two_processes_racing_on_one_folder_never_leave_a_mixed_set(tmp_path: Path) -> None:
    """Two real processes, started together, different thresholds: whatever the interleaving,
    each either finishes or is refused, and the set on disk is readable and of one run."""
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask(1500, 1500)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(scene), str(out), t], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for t in ("0.3", "0.7")
    ]
    lines = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    statuses = [line.split()[0] for line in lines]
    assert "done" in statuses, lines
    for line in lines:
        assert line.startswith("done") or "being written by another lnet-edge run" in line, line
    summary = json.loads((out / "site" / "site_summary.json").read_text())
    with rasterio.open(output_file(summary, "mask")) as dst:
        assert f"p > {summary['threshold']}" in dst.tags()["lnet_edge"]
        assert (dst.read(1) == _mask(1500, 1500)).all()
    assert not list((out / "site").glob("*.part"))


# --- non-finite input ---------------------------------------------------------------------


def test_nan_block_without_nodata_tag_is_nodata_and_the_rest_is_mapped(tmp_path: Path) -> None:
    data = rgb_from_mask(_mask()).astype(np.float32)
    data[:, 0:60, 0:60] = np.nan
    scene = write_scene(tmp_path / "nan.tif", data)
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "done" and result.summary["nonfinite_pixels"] == 3600
    mask = _read(result.summary, "mask")
    assert (mask[:60, :60] == io.NODATA).all()
    expected = _mask()
    assert (mask[60:] == expected[60:]).all() and (mask[:60, 60:] == expected[:60, 60:]).all()
    ground = (result.summary["pixel_size_m"] / 0.5) ** 2  # ground m² per UTM grid m²
    assert result.summary["landslide_area_m2"] == pytest.approx(100 * 200 * 0.25 * ground, rel=1e-5)


@pytest.mark.parametrize(("dtype", "value", "nodata"), [("float32", np.nan, np.nan), ("float64", np.inf, None)])
def test_a_non_finite_corner_never_zeroes_its_neighbours(tmp_path: Path, dtype: str, value: float, nodata) -> None:
    mask = np.zeros((300, 300), np.uint8)
    mask[10:120, 10:150] = 1  # a landslide in the tile that holds the bad corner
    data = rgb_from_mask(mask).astype(dtype)
    data[:, 0:5, 0:5] = value
    scene = write_scene(tmp_path / f"corner_{dtype}.tif", data, nodata=nodata)
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "done" and result.summary["nonfinite_pixels"] == 25
    probability = _read(result.summary, "probability")
    assert (probability[:5, :5] == io.NODATA).all()
    ground = (result.summary["pixel_size_m"] / 0.5) ** 2  # ground m² per UTM grid m²
    assert result.summary["landslide_area_m2"] == pytest.approx(110 * 140 * 0.25 * ground, rel=1e-5)  # all of it


class NanRunner(ThresholdRunner):
    """A network with broken (NaN) weights."""

    def infer_impl(self, feed):
        return {OUTPUT_NAME: np.full((feed["image"].shape[0], 1, *feed["image"].shape[2:]), np.nan, np.float32)}


def test_a_model_giving_nan_fails_the_scene_instead_of_a_blank_map(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    (result,) = _run([scene], tmp_path / "out", runner=NanRunner())
    assert result.status == "failed" and "NaN or infinite" in result.message
    assert list((tmp_path / "out" / "site").iterdir()) == []


# --- scene folders unique per input -------------------------------------------------------


def test_scenes_sharing_a_stem_get_folders_of_their_own(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir(), (tmp_path / "d2").mkdir()
    a = write_scene(tmp_path / "d1" / "site.tif", rgb_from_mask(_mask()))
    b = write_scene(tmp_path / "d2" / "site.tif", rgb_from_mask(1 - _mask()))
    png = tmp_path / "d1" / "site.png"
    import cv2

    cv2.imwrite(str(png), np.moveaxis(rgb_from_mask(_mask()), 0, -1))
    out = tmp_path / "out"
    results = _run([a, b], out)
    assert [r.status for r in results] == ["done", "done"]
    assert len({r.out_dir for r in results}) == 2
    assert (_read(results[0].summary, "mask") == _mask()).all()
    assert (_read(results[1].summary, "mask") == 1 - _mask()).all()
    by_ext = _run([a, png], tmp_path / "out2")
    assert [r.status for r in by_ext] == ["done", "done"]
    assert sorted(r.out_dir.name for r in by_ext) == ["site.png", "site.tif"]
    later = _run([b], tmp_path / "out2")  # a third site, in a later run: a folder of its own
    assert later[0].status == "done" and later[0].out_dir.name == "site"
    assert _run([a], tmp_path / "out2")[0].status == "skipped"  # still found in site.tif/
    part = _run([b], out)  # half of the first batch again: found in its hashed folder
    assert part[0].status == "skipped" and part[0].out_dir == results[1].out_dir


# --- stale and copied outputs -------------------------------------------------------------


def test_changed_options_model_or_scene_redo_the_scene_and_say_why(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    out = tmp_path / "out"
    assert _run([scene], out)[0].status == "done"
    assert _run([scene], out)[0].status == "skipped"
    for kw, info, why in (
        ({"threshold": 0.3}, INFO, "threshold"),
        ({"threshold": 0.3, "min_area_m2": 5.0}, INFO, "min_area 100.0 -> 5.0"),
        ({"threshold": 0.3, "min_area_m2": 5.0}, {**INFO, "model_sha256": "1" * 64}, "another model"),
    ):
        (r,) = _run([scene], out, info=info, **kw)
        assert r.status == "done" and why in r.message, r.message
    os.utime(scene, ns=(time.time_ns(), time.time_ns() + 10**9))
    (r,) = _run([scene], out, info={**INFO, "model_sha256": "1" * 64}, threshold=0.3, min_area_m2=5.0)
    assert r.status == "done" and "scene file changed" in r.message


def test_a_copied_folder_missing_its_rasters_or_a_null_summary_is_not_complete(tmp_path: Path) -> None:
    import shutil

    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    _run([scene], tmp_path / "out")
    shutil.copytree(tmp_path / "out", tmp_path / "copy")
    for tif in (tmp_path / "copy" / "site").glob("*.tif"):
        tif.unlink()
    (r,) = _run([scene], tmp_path / "copy")
    assert r.status == "done" and "outputs missing" in r.message
    scene_outputs(tmp_path / "copy", scene)["summary"].write_text("null")
    assert _run([scene], tmp_path / "copy")[0].status == "done"


# --- failure is atomic --------------------------------------------------------------------


def test_a_failed_overwrite_keeps_the_previous_complete_set(tmp_path: Path, monkeypatch) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask(600, 600)))
    out = tmp_path / "out"
    (first,) = _run([scene], out)
    before = {p.name: p.read_bytes() for p in (out / "site").iterdir()}

    def full(self, data, row):
        raise rasterio.errors.RasterioIOError("Write error: No space left on device")

    monkeypatch.setattr(io.BlockRowWriter, "_write", full)
    (again,) = _run([scene], out, overwrite=True)
    assert again.status == "failed" and again.message.startswith("disk full"), again.message
    assert {p.name: p.read_bytes() for p in (out / "site").iterdir()} == before
    monkeypatch.undo()
    assert _run([scene], out)[0].status == "skipped"


def test_an_unexpected_error_fails_one_scene_and_the_batch_goes_on(tmp_path: Path) -> None:
    class Flaky(ThresholdRunner):
        def infer_impl(self, feed):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("device lost")
            return super().infer_impl(feed)

    a = write_scene(tmp_path / "a.tif", rgb_from_mask(_mask()))
    b = write_scene(tmp_path / "b.tif", rgb_from_mask(_mask()))
    results = _run([a, b], tmp_path / "out", runner=Flaky())
    assert [r.status for r in results] == ["failed", "done"]
    assert "RuntimeError: device lost" in results[0].message
    assert list((tmp_path / "out" / "a").iterdir()) == []


def test_cleanup_spares_a_users_own_part_files(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    folder = tmp_path / "out" / "site"
    folder.mkdir(parents=True)
    mine = folder / "notes.part"
    mine.write_text("field notes")
    dead = folder / "site_mask.tif.dead01.part"  # left by a run that died
    dead.write_text("x")
    (r,) = _run([scene], tmp_path / "out", runner=NanRunner())
    assert r.status == "failed"
    assert mine.read_text() == "field notes" and not dead.exists()


# --- what is in the way: a user's files, a folder, complex data ---------------------------


def test_a_users_file_at_an_output_name_is_kept_unless_overwrite(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    folder = tmp_path / "out" / "site"
    folder.mkdir(parents=True)
    mine = write_scene(folder / "site_mask.tif", rgb_from_mask(1 - _mask())[:1])  # the user's own mask
    before = mine.read_bytes()
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "failed", result.message
    assert f"{mine} already exists and was not written by lnet-edge" in result.message
    assert "--overwrite" in result.message
    assert mine.read_bytes() == before and [p.name for p in folder.iterdir()] == ["site_mask.tif"]
    (again,) = _run([scene], tmp_path / "out", overwrite=True)
    assert again.status == "done" and (_read(again.summary, "mask") == _mask()).all()


def test_a_folder_at_an_output_name_fails_the_scene_and_leaves_the_old_set(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    out = tmp_path / "out"
    assert _run([scene], out)[0].status == "done"
    folder = out / "site"
    (folder / "site_mask.tif").unlink()
    (folder / "site_mask.tif").mkdir()  # a folder where an output goes
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    (result,) = _run([scene], out, threshold=0.3)
    assert result.status == "failed" and "site_mask.tif is a folder" in result.message, result.message
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # nothing new beside it
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "site_mask.tif"])


def test_a_complex_valued_scene_is_one_clear_error(tmp_path: Path) -> None:
    data = rgb_from_mask(_mask()).astype(np.complex64) * np.complex64(1 + 1j)
    scene = write_scene(tmp_path / "radar.tif", data)
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "failed"
    assert f"scene {scene} holds complex values (complex64)" in result.message, result.message
    assert "please report" not in result.message and list((tmp_path / "out" / "radar").iterdir()) == []


# --- signals and special files (the CLI, in real processes) --------------------------------


def test_sigterm_removes_this_runs_part_files_and_says_one_line(tmp_path: Path) -> None:
    big = write_scene(tmp_path / "big.tif", rgb_from_mask(_mask(2048, 2048)))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lnet_edge.cli.main", "infer", str(big), "-o", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / "big").glob("*.part")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert [p.name for p in (out / "big").iterdir()] == []


def test_a_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lnet_edge.cli.main import app

    fifo = tmp_path / "scene.tif"
    os.mkfifo(fifo)
    result = CliRunner().invoke(app, ["infer", str(fifo), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_describe_failure_finds_the_os_cause() -> None:
    from lnet_edge.field.pipeline import describe_failure

    try:
        try:
            raise OSError(errno.EACCES, "Permission denied", "/x/y.tif")
        except OSError as inner:
            raise ValueError("I/O operation on closed file") from inner
    except ValueError as exc:
        assert describe_failure(exc, Path("/x")).startswith("cannot write /x/y.tif (Permission denied)")


# --- a real full filesystem (a small tmpfs; skipped where mounting is not allowed) ----------


@pytest.fixture
def small_fs(tmp_path: Path):
    mounts = []

    def mount(size_kb: int) -> Path:
        where = tmp_path / f"fs{len(mounts)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("size_kb", [8, 40, 120, 400])
def test_a_real_full_disk_fails_the_scene_cleanly_at_any_level(tmp_path: Path, small_fs, size_kb: int) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask(1200, 1200)))
    out = small_fs(size_kb) / "out"
    (result,) = _run([scene], out)
    folder = out / "site"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if result.status == "done":  # it fitted: then the set is whole and readable
        assert (_read(result.summary, "mask") == _mask(1200, 1200)).all()
    else:
        assert result.message.startswith("disk full") or "No space left" in result.message, result.message
        assert names == [], names  # nothing under a final name, no .part left


def test_overwrite_on_a_full_disk_keeps_the_previous_complete_set(tmp_path: Path, small_fs) -> None:
    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask(600, 600)))
    fs = small_fs(2048)
    out = fs / "out"
    assert _run([scene], out)[0].status == "done"
    before = {p.name: p.read_bytes() for p in (out / "site").iterdir()}
    filler = fs / "filler"
    with open(filler, "wb") as f:  # fill what is left
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    (again,) = _run([scene], out, overwrite=True, threshold=0.3)
    assert again.status == "failed" and again.message.startswith("disk full"), again.message
    assert {p.name: p.read_bytes() for p in (out / "site").iterdir()} == before
    filler.unlink()
    assert _run([scene], out)[0].status == "skipped"


def test_an_output_folder_name_too_long_for_the_filesystem_is_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lnet_edge.cli.main import app

    scene = write_scene(tmp_path / "site.tif", rgb_from_mask(_mask()))
    result = CliRunner().invoke(app, ["infer", str(scene), "-o", str(tmp_path / ("x" * 300))])
    assert result.exit_code == 1 and "name is too long" in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
