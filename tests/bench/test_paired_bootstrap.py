"""bench/paired_bootstrap.py on the shipped model's own test scores: a model against itself
differs by nothing, its F1 is eval's, and every candidate's record gets its own name."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_TEST = ROOT / "lnet_edge" / "assets" / "default" / "eval-test.json"


def _script():
    spec = importlib.util.spec_from_file_location("paired_bootstrap", ROOT / "bench" / "paired_bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_model_against_itself_differs_by_nothing_and_its_f1_is_evals() -> None:
    pb = _script()
    counts = pb.per_image(SHIPPED_TEST, "bijie_native")
    result = pb.bootstrap(counts, counts, draws=500)
    assert result["images"] == 184
    assert result["difference"] == result["sd_difference"] == 0.0 and result["difference_95"] == [0.0, 0.0]
    assert result["f1_base"] == pytest.approx(json.loads(SHIPPED_TEST.read_text())["overall"]["f1"], abs=1e-5)
    assert 0.005 < result["sd_f1_base"] < 0.05  # 184 images: a spread of points, not of zero


def test_scores_of_different_images_are_refused() -> None:
    pb = _script()
    counts = pb.per_image(SHIPPED_TEST, "bijie_native")
    fewer = dict(list(counts.items())[:-1])
    with pytest.raises(SystemExit, match="same folder and split"):
        pb.bootstrap(counts, fewer, draws=10)


def test_each_candidate_scored_the_usual_way_gets_its_own_record() -> None:
    pb = _script()
    assert pb.run_name(Path("runs/gate-a/eval-test/eval.json")) == "gate-a"
    assert pb.run_name(Path("runs/gate-b/eval-test/eval.json")) == "gate-b"
    assert pb.run_name(Path("runs/gate-a/scores.json")) == "gate-a"
