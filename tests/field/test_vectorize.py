from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lnet_edge.field.vectorize import StripVectorizer


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), strip=st.integers(1, 40))
def test_strip_vectorizing_equals_whole_mask_components(seed: int, strip: int) -> None:
    rng = np.random.default_rng(seed)
    mask = (cv2.GaussianBlur(rng.random((80, 60)), (0, 0), 3) > 0.5).astype(np.uint8)
    prob = rng.random(mask.shape).astype(np.float32)
    polys = []
    vec = StripVectorizer(polys.append, band_px=0)  # every strip traced on its own: exercises the merging
    for r in range(0, 80, strip):
        vec.add(mask[r : r + strip], prob[r : r + strip], r)
    vec.close()
    n, labels = cv2.connectedComponents(mask, connectivity=4)
    assert len(polys) == n - 1
    expected = sorted(int((labels == i).sum()) for i in range(1, n))
    assert sorted(p.pixels for p in polys) == expected
    assert sorted(round(p.geometry.area) for p in polys) == expected
    assert all(p.geometry.geom_type == "Polygon" for p in polys)
    assert sorted(round(p.max_probability, 6) for p in polys) == sorted(
        round(float(prob[labels == i].max()), 6) for i in range(1, n)
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), strip=st.integers(1, 40), min_pixels=st.integers(1, 60))
def test_small_components_are_counted_not_traced(seed: int, strip: int, min_pixels: int) -> None:
    rng = np.random.default_rng(seed)
    mask = (cv2.GaussianBlur(rng.random((80, 60)), (0, 0), 2) > 0.55).astype(np.uint8)
    prob = rng.random(mask.shape).astype(np.float32)
    polys = []
    vec = StripVectorizer(polys.append, min_pixels=min_pixels, band_px=0)
    for r in range(0, 80, strip):
        vec.add(mask[r : r + strip], prob[r : r + strip], r)
    vec.close()
    n, labels = cv2.connectedComponents(mask, connectivity=4)
    sizes = np.bincount(labels.ravel())[1:]
    # a speck cut by a strip edge is traced (it may continue), so only the sum is exact:
    assert len(polys) + vec.dropped == n - 1
    assert vec.dropped <= int((sizes < min_pixels).sum())
    assert sorted(p.pixels for p in polys if p.pixels >= min_pixels) == sorted(s for s in sizes if s >= min_pixels)
