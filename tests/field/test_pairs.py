"""``lnet-edge infer AFTER --before BEFORE`` end to end, with the shipped model, on a 384 x 384 px
crop of the shipped sample scene and before scenes made from it: a landslide inpainted away, a
known misregistration, a before scene covering half the ground, the same file twice, a rewritten
before scene, and the pairs that must be refused with one clear message.

The after crop is mapped once per module (``scenes``); each test copies those outputs into its own
output folder, so its runs map only the before scene (the after scene's outputs are complete)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from rasterio.windows import Window
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.field.change import Change

SIDE = 384
CROP = Window(0, 128, SIDE, SIDE)  # a landslide among fields at the top left, a larger one at the bottom right
BLOCK = np.s_[8:160, 20:190]  # around the top left landslide: what the inpainted before scene loses


@dataclass(frozen=True)
class Scenes:
    after: Path  # the crop, georeferenced (0.5 m UTM)
    image: np.ndarray  # its pixels, H x W x 3 RGB
    profile: dict
    seed: Path  # an output folder holding the after crop's complete outputs
    mask: np.ndarray  # the after crop's landslide mask (0/1, 255 nodata)


def _write(path: Path, image: np.ndarray, profile: dict, **changes) -> Path:
    """An H x W x 3 image as a GeoTIFF with ``profile`` (and ``changes`` to it)."""
    profile = {**profile, "height": image.shape[0], "width": image.shape[1], **changes}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.moveaxis(image, -1, 0))
    return path


def _png(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    return path


def _recolour(image: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _infer(*args: object):
    return CliRunner().invoke(app, ["infer", *map(str, args)])


def _text(result) -> str:
    return " ".join(result.output.split())


def _ok(result) -> str:
    text = _text(result)
    assert result.exit_code == 0 and result.exception is None, text
    return text


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _summary(out: Path) -> dict:
    return json.loads((out / "after" / "after_change_summary.json").read_text())


def _change(out: Path) -> np.ndarray:
    return _read(out / "after" / "after_change.tif")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Scenes:
    root = tmp_path_factory.mktemp("pairs")
    with rasterio.open(SAMPLE_SCENE) as src:
        image = np.moveaxis(src.read(window=CROP), 0, -1)
        profile = {**src.profile, "transform": src.window_transform(CROP)}
    after = _write(root / "after.tif", image, profile)
    _ok(_infer(after, "-o", root / "seed"))
    mask = _read(root / "seed" / "after" / "after_mask.tif")
    assert (mask[BLOCK] == 1).sum() > 2000, "the crop no longer holds the landslide the tests inpaint"
    return Scenes(after, image, profile, root / "seed", mask)


@pytest.fixture
def out(scenes: Scenes, tmp_path: Path) -> Path:
    """An output folder where the after crop is mapped already."""
    return Path(shutil.copytree(scenes.seed, tmp_path / "out"))


def _inpainted(scenes: Scenes) -> tuple[np.ndarray, np.ndarray]:
    """The after crop with its landslide in BLOCK inpainted away (a few pixels of margin) and its
    colours changed; and the inpainted pixels."""
    block = np.zeros(scenes.mask.shape, bool)
    block[BLOCK] = True
    hole = cv2.dilate((scenes.mask == 1).view(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & block
    filled = cv2.inpaint(np.ascontiguousarray(scenes.image), hole.view(np.uint8), 5, cv2.INPAINT_TELEA)
    return _recolour(filled, 0.95), hole


def _near(region: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(region.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


def test_a_landslide_inpainted_out_of_the_before_scene_is_new_and_only_there(
    scenes: Scenes, out: Path, tmp_path: Path
) -> None:
    image, hole = _inpainted(scenes)
    before = _write(tmp_path / "before.tif", image, scenes.profile)
    text = _ok(_infer(scenes.after, "--before", before, "-o", out))
    assert "new (" in text and "persisting (" in text
    change, landslide = _change(out), scenes.mask == 1
    new = change == Change.new
    assert new[hole & landslide].sum() >= 0.9 * (hole & landslide).sum()  # the erased landslide is new
    block = np.zeros_like(new)
    block[BLOCK] = True
    assert new[~_near(block, 4)].sum() <= 0.02 * new.sum(), "new landslides away from the inpainted block"
    assert (change[landslide & ~_near(hole, 4)] == Change.persisting).mean() > 0.9  # the rest persists
    features = json.loads((out / "after" / "after_change.geojson").read_text())["features"]
    fresh = [f["properties"] for f in features if f["properties"]["change"] == "new"]
    assert fresh and all(p["after_mean_probability"] > p["before_mean_probability"] for p in fresh)
    summary = _summary(out)
    assert summary["classes"]["new"]["polygons"] == len(fresh) and summary["classes"]["new"]["pixels"] == new.sum()
    assert summary["before"]["folder"] == "before" and not summary["same_scene"]
    assert (out / "after" / "after_change_quicklook.png").is_file()
    import sqlite3

    with sqlite3.connect(out / "after" / "after_change.gpkg") as db:
        rows = db.execute('SELECT change, count(*) FROM "change" GROUP BY change').fetchall()
    assert dict(rows)["new"] == len(fresh)


def test_the_shift_tolerance_absorbs_a_known_misregistration_and_coregister_undoes_it(
    scenes: Scenes, out: Path, tmp_path: Path
) -> None:
    t = scenes.profile["transform"]
    shifted = Affine(t.a, t.b, t.c + 1.5, t.d, t.e, t.f)  # the same pixels 1.5 m (3 px) east
    before = _write(tmp_path / "before.tif", scenes.image, scenes.profile, transform=shifted)
    landslide = scenes.mask == 1
    edges = landslide & ~cv2.erode(landslide.view(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)

    args = [scenes.after, "--before", before, "-o", out, "--change-margin", 0]  # masks alone decide new
    strict = _ok(_infer(*args, "--shift-tolerance", 0))
    assert "sits 1.5 m from the after scene, more than the tolerance (0 px)" in strict
    s = _summary(out)
    assert s["shift"]["east_m"] == pytest.approx(1.5, abs=0.2) and s["shift"]["north_m"] == pytest.approx(0, abs=0.2)
    assert s["shift"]["exceeds_tolerance"] and not s["shift"]["applied"] and s["tolerance_px"] == 0
    new_strict = _change(out) == Change.new
    assert new_strict.sum() > 500 and (new_strict & ~edges).sum() == 0  # along the scars' edges only

    tolerant = _ok(_infer(*args, "--shift-tolerance", 2))
    assert "change redone: options changed" in tolerant and "more than the tolerance" not in tolerant
    s = _summary(out)
    assert s["tolerance_px"] == 4 and s["tolerance_m"] == 2.0 and not s["shift"]["exceeds_tolerance"]
    assert (_change(out) == Change.new).sum() <= 0.05 * new_strict.sum()

    undone = _ok(_infer(*args, "--shift-tolerance", 0, "--coregister"))
    assert "undone (--coregister)" in undone
    s = _summary(out)
    assert s["shift"]["applied"] and s["shift"]["east_m"] == pytest.approx(1.5, abs=0.2)
    assert (_change(out) == Change.new).sum() <= 0.05 * new_strict.sum()


def test_ground_the_before_scene_does_not_cover_is_no_before_never_new(
    scenes: Scenes, out: Path, tmp_path: Path
) -> None:
    half = SIDE // 2
    before = _write(tmp_path / "before.tif", _recolour(scenes.image[:, :half], 0.95), scenes.profile)
    _ok(_infer(scenes.after, "--before", before, "-o", out))
    change = _change(out)
    valid = scenes.mask != 255
    right = change[:, half:]
    assert not (right == Change.new).any()
    assert (right[valid[:, half:]] == Change.no_before).all()
    assert (scenes.mask[:, half:] == 1).sum() > 5000  # landslides there would otherwise be new
    assert not (change[:, :half] == Change.no_before).any()
    s = _summary(out)
    assert s["classes"]["no-before"]["pixels"] == (change == Change.no_before).sum()
    assert s["overlap_share"] == pytest.approx(0.5, abs=0.01)


def _no_change_outputs(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if p.name.endswith(".part") or "_change" in p.name]
    assert left == [], left


def _refused(result, code: int, *words: object) -> str:
    """One error line naming ``words``, exit ``code``, no traceback."""
    text = _text(result)
    assert result.exit_code == code, text
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    assert "Traceback" not in text and text.count("error:") == 1, text
    for w in words:
        assert str(w) in text, (w, text)
    return text


def test_a_before_scene_overlapping_under_10_percent_is_refused(scenes: Scenes, tmp_path: Path) -> None:
    t = scenes.profile["transform"]
    far = Affine(t.a, t.b, t.c + 0.95 * SIDE * t.a, t.d, t.e, t.f)  # 95 % of the width east
    before = _write(tmp_path / "far.tif", scenes.image, scenes.profile, transform=far)
    out = tmp_path / "out"
    text = _refused(_infer(scenes.after, "--before", before, "-o", out), 1, scenes.after, before)
    assert "covers 5.0 % of after scene" in text and "at least 10 %" in text
    _no_change_outputs(out)


def test_one_scene_without_georeference_needs_pixel_pairs(scenes: Scenes, tmp_path: Path) -> None:
    image, hole = _inpainted(scenes)
    before_png = _png(tmp_path / "before.png", image)
    out = tmp_path / "out"
    text = _refused(_infer(scenes.after, "--before", before_png, "-o", out), 1, scenes.after, before_png)
    assert "no georeference" in text and "--pixel-pairs" in text
    _no_change_outputs(out)

    after_png = _png(tmp_path / "after.png", scenes.image)
    text = _ok(_infer(after_png, "--before", before_png, "-o", out, "--pixel-pairs"))
    assert "compared pixel for pixel" in text and "px²" in text
    s = json.loads((out / "after" / "after_change_summary.json").read_text())
    assert s["pixel_pairs"] and s["tolerance_m"] is None and s["shift"]["metres"] is None
    assert "area_px2" in s["classes"]["new"]
    new = _read(out / "after" / "after_change.tif") == Change.new
    assert new[hole].sum() > 1000 and new[~_near(hole, 4)].sum() <= 0.02 * new.sum()

    # with their pixel size stated, the same pair is measured in metres (the same unit: 100 px)
    metres = tmp_path / "metres"
    _ok(
        _infer(
            after_png, "--before", before_png, "-o", metres, "--pixel-pairs", "--pixel-size", "0.5", "--min-area", "25"
        )
    )
    m = json.loads((metres / "after" / "after_change_summary.json").read_text())
    assert m["classes"]["new"]["area_m2"] == pytest.approx(s["classes"]["new"]["area_px2"] * 0.25, rel=0.02)
    assert m["tolerance_m"] == pytest.approx(m["tolerance_px"] * 0.5)


def test_pixel_pairs_of_different_sizes_are_refused(scenes: Scenes, tmp_path: Path) -> None:
    after_png = _png(tmp_path / "after.png", scenes.image)
    before_png = _png(tmp_path / "before.png", scenes.image[:, : SIDE // 2])
    out = tmp_path / "out"
    text = _refused(_infer(after_png, "--before", before_png, "-o", out, "--pixel-pairs"), 1, after_png, before_png)
    assert "must be the same size" in text
    _no_change_outputs(out)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("two_befores", ["1 after scene(s) but 2 --before scene(s)"]),
        ("no_column", ["line 1: no column before", "pairs.csv"]),
        ("missing_file", ["line 3: before scene", "missing.tif does not exist"]),
        ("pairs_and_scenes", ["--pairs lists every pair: give no scene and no --before with it"]),
    ],
)
def test_bad_pair_lists_are_one_clear_error(scenes: Scenes, tmp_path: Path, case: str, words: list[str]) -> None:
    csv = tmp_path / "pairs.csv"
    out = tmp_path / "out"
    after = scenes.after
    if case == "two_befores":
        args = [after, "--before", after, "--before", after]
    elif case == "no_column":
        csv.write_text(f"after,earlier\n{after},{after}\n")
        args = ["--pairs", csv]
    elif case == "missing_file":
        csv.write_text(f"after,before\n{after},{after}\n{after},missing.tif\n")
        args = ["--pairs", csv]
    else:
        csv.write_text(f"after,before\n{after},{after}\n")
        args = [after, "--pairs", csv]
    _refused(_infer(*args, "-o", out), 2, *words)
    assert not out.exists()


def test_a_scene_paired_with_itself_is_all_persisting(scenes: Scenes, out: Path) -> None:
    text = _ok(_infer(scenes.after, "--before", scenes.after, "-o", out))
    assert "is its own before scene: every landslide is persisting" in text
    change = _change(out)
    assert not np.isin(change, [Change.new, Change.gone]).any()
    assert (change == Change.persisting).sum() == (scenes.mask == 1).sum() > 0
    s = _summary(out)
    assert s["same_scene"] and s["before"]["folder"] == "." and s["before"]["sha256"] == s["after"]["sha256"]
    assert not (out / "after" / "before").exists()


def test_a_rerun_skips_and_a_rewritten_before_scene_redoes_the_pair(scenes: Scenes, out: Path, tmp_path: Path) -> None:
    before = _write(tmp_path / "before.tif", _recolour(scenes.image, 0.95), scenes.profile)
    _ok(_infer(scenes.after, "--before", before, "-o", out))
    first = _summary(out)
    summary_file = out / "after" / "after_change_summary.json"
    made = summary_file.stat().st_mtime_ns

    again = _ok(_infer(scenes.after, "--before", before, "-o", out))
    assert "skipped" in again and "outputs in" not in again  # neither scene nor the change set redone
    assert summary_file.stat().st_mtime_ns == made

    _write(before, _recolour(scenes.image, 0.85), scenes.profile)
    redone = _ok(_infer(scenes.after, "--before", before, "-o", out))
    assert "change redone: the before scene's map changed" in redone
    second = _summary(out)
    assert second["before"]["sha256"] != first["before"]["sha256"]
    assert second["after"]["sha256"] == first["after"]["sha256"]
    assert second["inputs"]["before_summary_sha256"] != first["inputs"]["before_summary_sha256"]


def test_thin_strips_give_the_same_change_as_one_strip(
    scenes: Scenes, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tolerance band reaches across strip edges: 16-row strips (24 of them) give the raster
    and polygons of a single 384-row strip, pixel for pixel."""
    from lnet_edge.field import change_map

    image, _ = _inpainted(scenes)
    before = _write(tmp_path / "before.tif", image, scenes.profile)
    _ok(_infer(scenes.after, "--before", before, "-o", out))
    whole, whole_summary = _change(out), _summary(out)
    monkeypatch.setattr(change_map, "STRIP_PIXELS", 16 * SIDE)
    assert change_map.strip_rows(SIDE, 2) == 16
    _ok(_infer(scenes.after, "--before", before, "-o", out, "--overwrite"))
    assert np.array_equal(_change(out), whole)
    assert _summary(out)["classes"] == whole_summary["classes"]


def test_an_interrupted_comparison_leaves_the_previous_change_set_and_no_part_file(
    scenes: Scenes, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lnet_edge.field.change_polygons import ChangePolygons

    image, _ = _inpainted(scenes)
    before = _write(tmp_path / "before.tif", image, scenes.profile)
    _ok(_infer(scenes.after, "--before", before, "-o", out))
    summary = (out / "after" / "after_change_summary.json").read_bytes()
    raster = _change(out)

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(ChangePolygons, "close", interrupted)  # the change raster is written by then
    result = _infer(scenes.after, "--before", before, "-o", out, "--overwrite")
    assert result.exit_code != 0
    assert not list(out.rglob("*.part")), "a temporary file was left behind"
    assert (out / "after" / "after_change_summary.json").read_bytes() == summary
    assert np.array_equal(_change(out), raster)
