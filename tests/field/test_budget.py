"""A scene (or eval image) whose plan needs more memory than its budget is refused before anything
is allocated, with the numbers and the fix (field/budget.py, eval/predict.check_images).

The commands run in a child process whose address space is capped (RLIMIT_AS): a run that tried
to allocate what it estimated would fail there with a MemoryError, not take this machine down."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from lnet_edge.config import ModelConfig
from lnet_edge.field.pipeline import InferOptions, run_scenes
from tests.field.field_helpers import ThresholdRunner

ROOT = Path(__file__).resolve().parents[2]
CAP = 6 * 2**30  # the child's address space: a normal run of these images needs under 4 GiB


def _capped(*args: str) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    return subprocess.run(
        [sys.executable, "-m", "lnet_edge.cli.main", *args],
        cwd=ROOT,
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def sichuan(shared_data: Path) -> Path:
    return shared_data / "sichuan_aerial_atlan1024"


def test_a_scene_tagged_with_1_km_pixels_is_refused_with_the_numbers_and_leaves_nothing(
    sichuan: Path, tmp_path: Path
) -> None:
    image = sichuan / "images" / "Landslide001.png"  # 1024 px, no georeference: --pixel-size speaks for it
    out = tmp_path / "out"
    done = _capped("infer", str(image), "-o", str(out), "--pixel-size", "1000")
    text = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, text
    assert "needs about" in text and "TiB of memory" in text and "nothing was allocated" in text, text
    assert "more than its budget of" in text and "this machine's" in text
    assert "resampled x1000" in text and "--gsd none" in text and "--memory-limit" in text
    assert "Traceback" not in text and "MemoryError" not in text
    assert [p.name for p in out.rglob("*") if p.is_file()] == []  # no .part, no lock


def test_memory_limit_refuses_a_plan_above_it_and_passes_one_below(sichuan: Path, tmp_path: Path) -> None:
    image = sichuan / "images" / "Landslide002.png"
    with ThresholdRunner() as runner:
        (small,) = run_scenes([image], tmp_path / "a", runner, ModelConfig(), InferOptions(memory_limit=2**20), {})
        (fits,) = run_scenes([image], tmp_path / "b", runner, ModelConfig(), InferOptions(memory_limit=2**32), {})
    assert small.status == "failed" and "budget of 1 MiB (the --memory-limit)" in small.message, small.message
    assert "give a smaller --batch (now 4) or --tile (now 512)" in small.message
    assert not any(p.is_file() for p in (tmp_path / "a").rglob("*"))
    assert fits.status == "done", fits.message


def test_the_cli_reads_memory_limit_and_refuses_a_bare_number(sichuan: Path, tmp_path: Path) -> None:
    image = str(sichuan / "images" / "Landslide002.png")
    bare = _capped("infer", image, "-o", str(tmp_path), "--memory-limit", "4")
    assert bare.returncode == 2 and "--memory-limit '4': give a size" in bare.stderr
    low = _capped("infer", image, "-o", str(tmp_path), "--memory-limit", "100MB")
    assert low.returncode == 1 and "budget of 95 MiB (the --memory-limit)" in " ".join(low.stderr.split())


def test_eval_refuses_images_it_would_resample_beyond_memory_before_reading_them(sichuan: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    done = _capped("eval", "-d", str(sichuan), "--split", "all", "--pixel-size", "1000", "-o", str(out))
    text = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, text
    assert "scoring" in text and "1024x1024 px, the largest image" in text and "needs about" in text, text
    assert "resampled x1000" in text and "--gsd none" in text and "Traceback" not in text
    assert not out.exists()
