"""The catalogue of an output folder (field/catalogue.py): rebuilt from what OUT holds, found
relative to OUT; never smaller unless scenes were really removed; totals that agree with it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from lnet_edge.config import ModelConfig
from lnet_edge.field.catalogue import CATALOGUE, RUN_SUMMARY, Catalogue
from lnet_edge.field.pipeline import InferOptions, run_scenes
from lnet_edge.field.synthetic import write_blob_scene
from tests.field.field_helpers import ThresholdRunner


def _rows(out: Path) -> list[tuple]:
    with sqlite3.connect(out / CATALOGUE) as db:
        return db.execute("SELECT scene_id, id FROM landslides ORDER BY scene_id, id").fetchall()


def _write(out: Path, scenes: list[Path] | None = None) -> dict:
    Catalogue(out, {str(s.resolve()): s.stem for s in scenes or []}).write()
    return json.loads((out / RUN_SUMMARY).read_text())


@pytest.fixture
def mapped(tmp_path: Path, shared_data: Path) -> tuple[Path, list]:
    """OUT with two georeferenced scenes and a real photo without a georeference."""
    scenes = [write_blob_scene(tmp_path / f"site{i}.tif", 600, 500 + 100 * i) for i in range(2)]
    photo = shared_data / "sichuan_aerial_atlan1024" / "images" / "Landslide002.png"
    out = tmp_path / "out"
    with ThresholdRunner() as runner:
        results = run_scenes([*scenes, photo], out, runner, ModelConfig(), InferOptions(), {})
    assert [r.status for r in results] == ["done"] * 3
    return out, results


def test_totals_count_what_the_catalogue_holds_and_pixel_scenes_apart(mapped) -> None:
    out, (a, b, photo) = mapped
    summary = _write(out)
    rows = _rows(out)
    assert summary["landslide_count"] == len(rows) == a.summary["landslide_count"] + b.summary["landslide_count"]
    assert photo.summary["landslide_count"] > 0  # the photo has landslides, counted apart in pixels
    assert summary["landslide_count_without_georeference"] == photo.summary["landslide_count"]
    assert summary["scenes_without_georeference"] == [photo.summary["scene"]]
    assert summary["landslide_area_m2"] == pytest.approx(
        a.summary["landslide_area_m2"] + b.summary["landslide_area_m2"], abs=0.1
    )
    assert "counted apart" in summary["counted"] and summary["catalogue"]["scenes"] == ["site0", "site1"]
    assert summary["landslide_area_px2_without_georeference"] == photo.summary["landslide_area_px2"]
    assert summary["landslide_area_m2_without_georeference"] == 0


def test_a_scene_measured_with_a_stated_pixel_size_is_counted_apart_in_m2(tmp_path: Path, shared_data: Path) -> None:
    photo = shared_data / "sichuan_aerial_atlan1024" / "images" / "Landslide002.png"
    out = tmp_path / "out"
    with ThresholdRunner() as runner:
        (result,) = run_scenes([photo], out, runner, ModelConfig(), InferOptions(pixel_size=0.5, gsd="none"), {})
    summary = _write(out)
    assert result.summary["landslide_area_m2"] > 0 and summary["catalogue"]["scenes"] == []
    assert summary["landslide_area_m2_without_georeference"] == result.summary["landslide_area_m2"]
    assert summary["landslide_area_m2"] == 0 and summary["landslide_area_px2_without_georeference"] == 0

    # outputs written when a stated pixel size still meant pixels (their shaping options said
    # "areas": "ground") are not taken for these: a rerun maps the scene again
    path = out / photo.stem / f"{photo.stem}_summary.json"
    old = json.loads(path.read_text())
    old["shaping_options"]["areas"] = "ground"
    path.write_text(json.dumps(old))
    with ThresholdRunner() as runner:
        (again,) = run_scenes([photo], out, runner, ModelConfig(), InferOptions(pixel_size=0.5, gsd="none"), {})
        (third,) = run_scenes([photo], out, runner, ModelConfig(), InferOptions(pixel_size=0.5, gsd="none"), {})
    assert again.status == "done" and third.status == "skipped"


def test_a_moved_output_folder_gives_the_same_catalogue(mapped, tmp_path: Path) -> None:
    out, _ = mapped
    _write(out)
    before = _rows(out)
    moved = shutil.move(out, tmp_path / "elsewhere" / "moved")  # the summaries name the old folder
    summary = _write(Path(moved))
    assert _rows(Path(moved)) == before and summary["catalogue"]["removed"] == []


def test_a_scene_removed_from_the_folder_leaves_the_catalogue_and_the_summary_says_so(mapped) -> None:
    out, _ = mapped
    _write(out)
    shutil.rmtree(out / "site1")
    summary = _write(out)
    assert {r[0] for r in _rows(out)} == {"site0"}
    assert summary["catalogue"]["removed"] == [
        {"scene_id": "site1", "reason": "site1/ no longer holds complete outputs"}
    ]


def test_a_complete_scene_whose_polygons_cannot_be_read_keeps_the_previous_catalogue(mapped) -> None:
    out, (a, _, _) = mapped
    _write(out)
    before = (out / CATALOGUE).read_bytes()
    (out / "site0" / a.summary["outputs"]["polygons"]).write_text("{ truncated")
    summary = _write(out)
    assert (out / CATALOGUE).read_bytes() == before  # not replaced by a smaller one
    kept = summary["catalogue"]["kept_previous"]
    assert "would lose site0" in kept and "cannot read its polygons" in kept


def test_a_scene_this_run_is_still_mapping_keeps_its_polygons(mapped) -> None:
    out, (a, _, _) = mapped
    _write(out)
    before = _rows(out)
    catalogue = Catalogue(out, {a.summary["scene"]: "site0"})  # site0 is being redone by this run
    (out / "site0" / "site0_summary.json").unlink()  # the swap removes the old summary first
    catalogue.write()
    assert _rows(out) == before
    summary = json.loads((out / RUN_SUMMARY).read_text())
    assert summary["catalogue"]["removed"] == [] and summary["unfinished"] == [a.summary["scene"]]
