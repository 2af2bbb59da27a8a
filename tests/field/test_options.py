"""InferOptions checks itself when made, whoever makes it (the CLI, a cluster task, the bench, a
library caller): one error naming the option, with the same bounds everywhere."""

from __future__ import annotations

import math

import pytest

from lnet_edge.errors import LnetError
from lnet_edge.field.options import InferOptions


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"threshold": 0.0}, "--threshold 0.0: give a probability strictly between 0 and 1"),
        ({"threshold": 1.0}, "--threshold 1.0"),
        ({"threshold": math.nan}, "--threshold nan"),
        ({"min_area_m2": math.inf}, "--min-area inf: give a finite area"),
        ({"min_area_m2": -1.0}, "--min-area -1.0"),
        ({"scale": "nan"}, "--scale 'nan'"),
        ({"gsd": "fine"}, "--gsd 'fine'"),
        ({"pixel_size": 0.0}, "--pixel-size 0.0"),
        ({"tile": 100}, "--tile 100: give a multiple of 16"),
        ({"tile": 64, "overlap": 64}, "--overlap 64 must be smaller than --tile 64"),
        ({"batch": 0}, "--batch 0"),
        ({"workers": 0}, "--workers 0"),
    ],
)
def test_an_option_out_of_range_is_refused_naming_it(kw: dict, words: str) -> None:
    with pytest.raises(LnetError) as caught:
        InferOptions(**kw)
    assert words in str(caught.value)


def test_options_in_range_are_kept_as_given() -> None:
    options = InferOptions(threshold=0.3, min_area_m2=0.0, scale="0.0625", gsd="0.8", tile=256, overlap=32)
    assert (options.threshold, options.min_area_m2, options.scale, options.tile) == (0.3, 0.0, "0.0625", 256)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        InferOptions(64)  # type: ignore[misc]
