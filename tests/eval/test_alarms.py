"""False alarms: the figures on hand-made masks, and eval on an all-negative folder."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.eval.alarms import FalseAlarms, false_alarm_polygons
from tests.conftest import BIJIE, NEGATIVES, link_pairs

runner = CliRunner()


def test_false_alarm_polygons_are_components_off_the_truth_above_the_mapping_unit():
    pred = np.zeros((40, 40), bool)
    truth = np.zeros_like(pred)
    pred[2:6, 2:6] = True  # 16 px, off the truth: a false alarm
    pred[10:12, 10:12] = True  # 4 px: below the mapping unit of 10 px
    pred[20:30, 20:30] = True  # touches the truth: a detection, not a false alarm
    truth[25:35, 25:35] = True
    pred[0, 30], pred[1, 31] = True, True  # diagonal neighbours: two 1-px components (4-connected)
    assert false_alarm_polygons(pred, truth, min_pixels=10) == 1
    assert false_alarm_polygons(pred, truth, min_pixels=1) == 4


def test_totals_give_pixel_and_image_shares_and_polygons_per_km2():
    fa = FalseAlarms(pixel_m=1.0, min_area_m2=10.0)
    quiet, busy = np.zeros((100, 100), bool), np.zeros((100, 100), bool)
    busy[:20, :20] = True  # 4 % of the image, one polygon
    empty = np.zeros((100, 100), bool)
    fa.add(quiet, empty)
    fa.add(busy, empty)
    d = fa.to_dict()
    assert d["pixels"] == pytest.approx(400 / 20000) and d["images_over_1pct"] == 0.5
    assert d["polygons"] == 1 and d["polygons_per_km2"] == pytest.approx(1 / 0.02)
    assert FalseAlarms().to_dict()["polygons_per_km2"] is None  # no pixel size: no area


@pytest.fixture(scope="module")
def negatives(tmp_path_factory, shared_data):
    return link_pairs(NEGATIVES, tmp_path_factory.mktemp("data") / "bijie_negatives", 3)


def test_eval_of_an_all_negative_folder_reports_false_alarms_not_f1(negatives, tmp_path):
    result = runner.invoke(
        app, ["eval", "-d", str(negatives), "--split", "all", "-o", str(tmp_path), "--pixel-size", "0.8"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["overall"] is None and report["per_dataset"] == {}
    assert report["negative_sets"] == ["bijie_negatives"]
    fa = report["false_alarms"]["per_dataset"]["bijie_negatives"]
    assert fa["images"] == 3 and 0 <= fa["pixels"] <= 1 and fa["polygons_per_km2"] is not None
    md = (tmp_path / "eval.md").read_text()
    assert "F1" not in md and "bijie_negatives (no landslides)" in md
    assert "scored by false alarms only" in result.output


def test_eval_of_landslide_and_negative_folders_scores_each_its_way(negatives, tmp_path, shared_data):
    pos = link_pairs(BIJIE, tmp_path / "bijie_small", 2)
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "-d", str(pos), "-d", str(negatives), "--split", "all", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "eval.json").read_text())
    assert list(report["per_dataset"]) == ["bijie_small"] and report["overall"]["images"] == 2
    assert set(report["false_alarms"]["per_dataset"]) == {"bijie_small", "bijie_negatives"}
    assert report["false_alarms"]["all"]["images"] == 5
    assert "bijie_small (background)" in (out / "eval.md").read_text()
