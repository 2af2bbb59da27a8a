"""Change classes, the shift tolerance, no-before ground, pairing checks and the shift estimate,
on the shipped sample scene and copies of it with a known misregistration."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from lnet_edge.errors import LnetError
from lnet_edge.field.change import NODATA, Change, change_classes, class_counts
from lnet_edge.field.coregister import estimate_shift
from lnet_edge.field.pairing import Grid, Pair, Warped, check_pair, pairs_from_csv, pairs_from_lists

SAMPLE = Path(__file__).parents[2] / "lnet_edge/assets/samples/scene/sichuan_landslide003.tif"


def _square(y, x, n=20, size=64):
    m = np.zeros((size, size), bool)
    m[y : y + n, x : x + n] = True
    return m


def test_classes_with_and_without_the_tolerance_band():
    after, before = _square(10, 10), _square(12, 12)  # the same scar, seen 2 px apart
    valid = np.ones_like(after)
    tolerant = change_classes(after, before, valid, valid, tolerance_px=3)
    assert class_counts(tolerant)["new"] == 0 and class_counts(tolerant)["gone"] == 0
    assert class_counts(tolerant)["persisting"] == after.sum()
    strict = change_classes(after, before, valid, valid, tolerance_px=0)
    assert class_counts(strict)["new"] == (after & ~before).sum() > 0
    assert class_counts(strict)["gone"] == (before & ~after).sum() > 0


def test_a_new_scar_is_new_and_a_revegetated_one_gone():
    after, before = _square(5, 5), _square(40, 40)
    valid = np.ones_like(after)
    out = change_classes(after, before, valid, valid, tolerance_px=2)
    assert (out[after] == Change.new).all() and (out[before] == Change.gone).all()
    assert (out[~(after | before)] == Change.none).all()


def test_ground_the_before_scene_lacks_is_never_new_and_nodata_is_255():
    after = _square(10, 10, n=40)
    valid = np.ones_like(after)
    before_valid = valid.copy()
    before_valid[:, 30:] = False  # the before scene ends at column 30
    valid[:, :2] = False  # the after scene's own nodata
    out = change_classes(after, np.zeros_like(after), valid, before_valid, tolerance_px=2)
    assert (out[:, 30:][valid[:, 30:]] == Change.no_before).all()
    assert not (out[:, 30:] == Change.new).any() and (out[:, :2] == NODATA).all()
    assert (out[10:50, 10:30] == Change.new).all()


def _write_before(path, shift_m=(1.5, -1.0), gain=0.8, bias=20):
    """The sample scene again, colours changed, georeferenced ``shift_m`` (east, north) off."""
    with rasterio.open(SAMPLE) as src:
        img, profile, t = src.read(), src.profile, src.transform
    img = np.clip(img * gain + bias, 0, 255).astype(np.uint8)
    profile.update(transform=Affine(t.a, 0, t.c + shift_m[0], 0, t.e, t.f + shift_m[1]))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(img)


def test_the_shift_of_a_known_misregistration_is_found_and_undone(tmp_path):
    before = tmp_path / "before.tif"
    _write_before(before, shift_m=(1.5, -1.0))  # 3 px east, 2 px south at 0.5 m
    with rasterio.open(SAMPLE) as a, rasterio.open(before) as b:
        after_img = np.moveaxis(a.read(), 0, -1)
        data, valid = Warped(b, Grid.of(a)).read([1, 2, 3], 0, a.height)
        shift = estimate_shift(after_img, data, valid)
        assert shift.reliable and shift.dx == pytest.approx(3, abs=0.2) and shift.dy == pytest.approx(2, abs=0.2)
        assert shift.metres(0.5) == pytest.approx(np.hypot(1.5, 1.0), abs=0.1)
        undone, valid2 = Warped(b, Grid.of(a).shifted(shift.dy, shift.dx)).read([1, 2, 3], 0, a.height)
        rest = estimate_shift(after_img, undone, valid & valid2)
        assert abs(rest.dx) < 0.2 and abs(rest.dy) < 0.2


def test_pairs_that_barely_overlap_or_mix_pixels_and_ground_are_refused(tmp_path):
    far = tmp_path / "far.tif"
    _write_before(far, shift_m=(480.0, 0.0))  # 960 of 1024 columns off: 6 % overlap
    with rasterio.open(SAMPLE) as a, rasterio.open(far) as b:
        with pytest.raises(LnetError, match=r"covers 6\.\d % of after scene"):
            check_pair(a, b, Pair(SAMPLE, far), pixel_pairs=False)
    plain = tmp_path / "plain.tif"
    with rasterio.open(SAMPLE) as src:
        data = src.read()
    with rasterio.open(plain, "w", driver="GTiff", width=1024, height=1024, count=3, dtype="uint8") as dst:
        dst.write(data)
    with rasterio.open(SAMPLE) as a, rasterio.open(plain) as b:
        with pytest.raises(LnetError, match="no georeference"):
            check_pair(a, b, Pair(SAMPLE, plain), pixel_pairs=False)
        assert check_pair(a, b, Pair(SAMPLE, plain), pixel_pairs=True) == 1.0


def test_pair_lists_and_csv_errors_name_the_line(tmp_path):
    with pytest.raises(LnetError, match="2 after scene"):
        pairs_from_lists([SAMPLE, SAMPLE], [SAMPLE])
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"after,before\n{SAMPLE},{SAMPLE}\n{SAMPLE},missing.tif\n")
    with pytest.raises(LnetError, match=r"line 3: before scene .*missing.tif does not exist"):
        pairs_from_csv(csv)
    csv.write_text(f"after,earlier\n{SAMPLE},{SAMPLE}\n")
    with pytest.raises(LnetError, match="line 1: no column before"):
        pairs_from_csv(csv)
    csv.write_text(f"after,before\n{SAMPLE},{SAMPLE}\n")
    assert pairs_from_csv(csv) == [Pair(SAMPLE, SAMPLE)]


def test_strips_stay_small_on_wide_scenes_and_are_cut_nowhere_else():
    from lnet_edge.field.change_map import STRIP_PIXELS, STRIP_ROWS, strip_rows

    assert strip_rows(1024, 2) == STRIP_ROWS
    wide = strip_rows(100_000, 2)
    assert 16 <= wide < STRIP_ROWS and wide * 100_000 <= STRIP_PIXELS
    assert strip_rows(10_000_000, 40) == 80  # never thinner than the tolerance band twice
