"""The quicklook a mapper reads: fill, legend numbers from the summary, scale bar, size cap."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lnet_edge.config import ModelConfig
from lnet_edge.field.pipeline import InferOptions, output_file, run_scene
from lnet_edge.field.quicklook import Legend, area_text, legend_lines, nice_length
from tests.field.field_helpers import ThresholdRunner, rgb_from_mask, write_scene


def _scene(tmp_path: Path, h: int = 600, w: int = 900, **kw) -> Path:
    mask = np.zeros((h, w), np.uint8)
    mask[100:300, 100:400] = 1
    mask[400:450, 600:700] = 1
    return write_scene(tmp_path / "s.tif", rgb_from_mask(mask), **kw)


def test_legend_numbers_are_the_summarys(tmp_path: Path) -> None:
    with ThresholdRunner() as r:
        summary = run_scene(_scene(tmp_path), tmp_path / "out", r, ModelConfig(), InferOptions(), {"model": "m.onnx"})
    legend = Legend(summary["landslide_count"], summary["landslide_area_m2"], 0.5, True, "m")
    lines = legend_lines(legend)
    assert lines[0] == f"{summary['landslide_count']} landslides" == "2 landslides"
    # (200*300 + 50*100) * 0.25 m² of map = 16,250 m², and 0.2 % more on the ground: the UTM scene of
    # write_scene lies off its zone's central meridian, where grid metres are shorter than ground ones
    assert summary["landslide_area_m2"] == pytest.approx(16250, rel=3e-3)
    assert lines[1] == area_text(summary["landslide_area_m2"], True)
    png = cv2.imread(str(output_file(summary, "quicklook")))
    assert png.shape[:2] == (600, 900)
    inside = png[200, 250].astype(int)  # a landslide pixel: grey 200 blended with yellow
    assert inside[0] < inside[2] and inside[1] > 150  # BGR: more red/green than blue


def test_areas_switch_to_hectares_and_pixels_without_a_georeference() -> None:
    assert area_text(9999, True) == "9,999 m2" and area_text(34_100, True) == "3.41 ha"
    assert area_text(120, False) == "120 px2"
    assert legend_lines(Legend(1, 50.0, None, False, "x")) == ["1 landslide", "50 px2"]
    assert nice_length(730) == 500 and nice_length(180) == 100 and nice_length(2.5) == 2


def test_a_big_scene_stays_within_the_size_cap(tmp_path: Path) -> None:
    scene = _scene(tmp_path, 3000, 5000)
    with ThresholdRunner() as r:
        summary = run_scene(scene, tmp_path / "out", r, ModelConfig(), InferOptions(quicklook_size=1024), {})
    png = cv2.imread(str(output_file(summary, "quicklook")))
    assert max(png.shape[:2]) <= 1024


@pytest.mark.parametrize("north_up", [True, False])
def test_scale_bar_and_arrow_are_drawn_only_when_meaningful(north_up: bool) -> None:
    from lnet_edge.field.quicklook import annotate

    img = np.full((500, 800, 3), 128, np.uint8)
    with_bar = annotate(img, Legend(3, 500.0, 0.5, north_up, "lnet-edge-s int8 | 2026-11-29"), 1)
    without = annotate(img, Legend(3, 500.0, None, False, "lnet-edge-s int8 | 2026-11-29"), 1)
    corner = (slice(380, 490), slice(560, 790))  # bottom right: scale bar and arrow
    assert (with_bar[corner] != 128).any() and (without[corner] == 128).all()


def test_a_small_scene_is_enlarged_so_the_legend_leaves_it_visible(tmp_path: Path) -> None:
    mask = np.zeros((130, 140), np.uint8)
    mask[40:90, 50:110] = 1
    scene = write_scene(tmp_path / "small.tif", rgb_from_mask(mask))
    with ThresholdRunner() as r:
        summary = run_scene(scene, tmp_path / "out", r, ModelConfig(), InferOptions(min_area_m2=0), {})
    png = cv2.imread(str(output_file(summary, "quicklook")))
    assert png.shape[:2] == (130 * 4, 140 * 4)  # nearest-neighbour x4: at least 512 px on the long side
    with ThresholdRunner() as r:
        capped = run_scene(scene, tmp_path / "o2", r, ModelConfig(), InferOptions(quicklook_size=300), {})
    assert max(cv2.imread(str(output_file(capped, "quicklook"))).shape[:2]) <= 300
