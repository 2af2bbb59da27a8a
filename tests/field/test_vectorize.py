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


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.floats(0.2, 0.8), blur=st.sampled_from([0.0, 1.0, 3.0]))
def test_traced_outlines_are_gdals_polygonize_to_the_pixel(seed: int, density: float, blur: float) -> None:
    # rasterio's shapes (GDAL's polygonize, 4-connected) is the reference: the same region, the
    # area of the pixel count, a valid polygon; noise masks are full of holes and pixels that
    # touch only at a corner
    import shapely
    from rasterio.features import shapes

    from lnet_edge.field.vectorize import trace_component

    rng = np.random.default_rng(seed)
    field = rng.random((70, 90))
    if blur:
        field = cv2.GaussianBlur(field, (0, 0), blur)
    mask = (field > np.quantile(field, 1 - density)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4, ltype=cv2.CV_32S)
    reference: dict[int, list] = {}
    for geom, value in shapes(labels, mask=labels > 0, connectivity=4):
        reference.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    for i in range(1, n):
        x, y, w, h, count = stats[i, :5]
        traced = trace_component(labels[y : y + h, x : x + w] == i, x, y)
        gdal = shapely.union_all(reference[i])
        assert traced.is_valid and traced.area == count
        assert traced.symmetric_difference(gdal).area == 0
