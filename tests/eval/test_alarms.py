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
    pred[20:30, 20:30] = True  # overlaps the truth: a detection, not a false alarm
    truth[25:35, 25:35] = True
    pred[36:40, 20:34] = True  # beside the truth (row 35), overlapping none: a false alarm
    pred[0, 30], pred[1, 31] = True, True  # diagonal neighbours: two 1-px components (4-connected)
    assert false_alarm_polygons(pred, truth, min_pixels=10) == 2
    assert false_alarm_polygons(pred, truth, min_pixels=1) == 5


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


def test_a_set_without_background_says_so_rather_than_zero():
    from lnet_edge.eval.alarms import markdown_alarms

    full = np.ones((10, 10), bool)
    known, unknown = FalseAlarms(pixel_m=0.5), FalseAlarms()
    for fa in (known, unknown):
        fa.add(full, full)  # the mask covers the whole image: no background to mark
    assert known.to_dict()["pixels"] is None and known.to_dict()["polygons_per_km2"] is None
    table = markdown_alarms({"known": known.to_dict(), "unknown": unknown.to_dict()})
    known_row, unknown_row = table.splitlines()[2:4]
    assert "n/a (no background)" in known_row and "--pixel-size" not in known_row
    assert "n/a (give --pixel-size)" in unknown_row


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


def test_nan_pixels_are_scored_nowhere(tmp_path):
    """A float image with NaN pixels (an HDF5 or float TIFF tile with gaps): filled for the model,
    left out of the confusion and of the false alarms' background, and named in the report."""
    import cv2

    from lnet_edge.config import ModelConfig
    from lnet_edge.data.readers import list_samples
    from lnet_edge.eval.evaluate import evaluate, scaling_line
    from lnet_edge.field.synthetic import ThresholdRunner

    (tmp_path / "gaps" / "images").mkdir(parents=True)
    (tmp_path / "gaps" / "masks").mkdir()
    image = np.full((64, 64, 3), 50, np.float32)
    image[:, :32] = 200  # the stand-in marks the left half
    image[:16, :32] = np.nan  # a quarter of that half is a gap
    cv2.imwrite(str(tmp_path / "gaps" / "images" / "tile.tif"), image)
    cv2.imwrite(str(tmp_path / "gaps" / "masks" / "tile.png"), np.zeros((64, 64), np.uint8))
    with ThresholdRunner() as runner:
        report = evaluate(runner, ModelConfig(), list_samples(tmp_path / "gaps"))
    assert report["nonfinite_pixels"] == {"tile.tif": 16 * 32}
    fa = report["false_alarms"]["all"]
    assert fa["pixels"] == pytest.approx(48 * 32 / (64 * 64 - 16 * 32))  # gaps in neither count
    (row,) = report["per_image"]
    assert row["tp"] + row["fp"] + row["fn"] + row["tn"] == 64 * 64 - 16 * 32
    assert "NaN or infinite pixels in 1 images (512 pixels)" in scaling_line(report)
