from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnet_edge.errors import LnetError
from lnet_edge.field.blending import BlendWeights, StripAccumulator, taper
from lnet_edge.field.tiling import tile_origins, tile_windows


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 1500), w=st.integers(1, 1500), tile=st.integers(16, 512), data=st.data())
def test_windows_cover_every_pixel_and_stay_inside(h: int, w: int, tile: int, data) -> None:
    overlap = data.draw(st.integers(0, tile - 1))
    cover = np.zeros((h, w), dtype=np.int32)
    for win in tile_windows(h, w, tile, overlap):
        assert win.row >= 0 and win.col >= 0
        assert win.row + win.height <= h and win.col + win.width <= w
        assert (win.height, win.width) == (min(tile, h), min(tile, w))
        cover[win.row : win.row + win.height, win.col : win.col + win.width] += 1
    assert cover.min() >= 1


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 5000), tile=st.integers(16, 512), data=st.data())
def test_neighbours_overlap_at_least_the_requested_overlap(length: int, tile: int, data) -> None:
    overlap = data.draw(st.integers(0, tile - 1))
    origins = tile_origins(length, tile, overlap)
    assert origins == sorted(set(origins))
    for a, b in itertools.pairwise(origins):
        assert tile - (b - a) >= overlap


def test_bad_overlap_is_a_user_error() -> None:
    with pytest.raises(LnetError, match="overlap"):
        tile_origins(1000, 256, 256)


def test_taper_is_a_partition_of_unity_when_ramps_meet_exactly() -> None:
    a, b = taper(256, 64, False, True), taper(256, 64, True, False)
    np.testing.assert_allclose(a[-64:] + b[:64], 1.0, atol=1e-12)
    assert (taper(256, 64, True, True) > 0).all()


def _blend_constant(h: int, w: int, tile: int, overlap: int, value: np.float32) -> np.ndarray:
    """The pipeline's blending (tile rows, normalised weights, strip accumulator) of a constant."""
    ys, xs = tile_origins(h, tile, overlap), tile_origins(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    weights = BlendWeights(ys, xs, th, tw, overlap, h, w)
    acc, out = StripAccumulator(th, w), []
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            acc.add(np.full((th, tw), value, np.float32), weights.window(i, j), y, x)
        stop = ys[i + 1] if i + 1 < len(ys) else h
        out.append(acc.rows(stop))
        if i + 1 < len(ys):
            acc.advance(ys[i + 1])
    return np.concatenate(out)


@settings(max_examples=100, deadline=None)
@given(h=st.integers(1, 900), w=st.integers(1, 900), tile=st.sampled_from([32, 64, 256]), data=st.data())
def test_normalised_weights_sum_to_one_at_every_pixel(h: int, w: int, tile: int, data) -> None:
    overlap = data.draw(st.integers(0, tile - 1))
    ys, xs = tile_origins(h, tile, overlap), tile_origins(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    weights = BlendWeights(ys, xs, th, tw, overlap, h, w)
    total = np.zeros((h, w))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            win = weights.window(i, j)
            assert (win > 0).all()
            total[y : y + th, x : x + tw] += win
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 700), w=st.integers(1, 700), value=st.floats(0, 1, width=32), data=st.data())
def test_blending_a_constant_prediction_is_exactly_constant(h: int, w: int, value: float, data) -> None:
    tile = data.draw(st.sampled_from([32, 64, 256]))
    overlap = data.draw(st.integers(0, tile - 1))
    out = _blend_constant(h, w, tile, overlap, np.float32(value))
    assert out.shape == (h, w) and out.dtype == np.float32
    assert (out == np.float32(value)).all()


def test_an_overlap_near_the_tile_size_keeps_the_weight_windows_within_the_cache_bound() -> None:
    """--tile 256 --overlap 250 on a 900 px scene: 109 distinct weight profiles a side, 6 GB if
    every window were kept; they are computed as asked, the same weights, and none is kept."""
    ys = tile_origins(900, 256, 250)
    weights = BlendWeights(ys, ys, 256, 256, 250, 900, 900)
    assert len(set(weights._row_ids)) ** 2 * 256 * 256 * 8 > BlendWeights.CACHE_BYTES
    for i, j in [(0, 0), (1, 2), (54, 54), (len(ys) - 1, 3)]:
        w = weights.window(i, j)
        np.testing.assert_array_equal(w, np.outer(weights.rows[i], weights.cols[j]))
        assert not w.flags.writeable
    assert not weights._windows
    small = BlendWeights(tile_origins(900, 256, 64), tile_origins(900, 256, 64), 256, 256, 64, 900, 900)
    assert small.window(1, 1) is small.window(1, 1)  # a usual grid still shares its few windows
