"""Bounded memory: the real pipeline on a tall generated scene with a tiny pointwise runner.

Peak traced (NumPy) memory must stay a fraction of one full-scene float32 buffer: the pipeline
holds one tile row, never the scene. bench/field_memory.py measures peak RSS on 20000 x 20000.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.field.pipeline import InferOptions, run_scene
from lnet_edge.field.synthetic import ThresholdRunner, write_blob_scene


def test_peak_memory_is_bounded_by_a_strip_not_the_scene(tmp_path: Path) -> None:
    h, w = 32768, 1024  # tall and narrow: a strip is 1/128 of the scene, a vectorising band 1/32
    scene = tmp_path / "tall.tif"
    write_blob_scene(scene, h, w)
    full_float_scene = h * w * 4
    tracemalloc.start()
    try:
        with ThresholdRunner() as runner:
            summary = run_scene(
                scene, tmp_path / "out", runner, ModelConfig(), InferOptions(batch=8, tile=256), {}
            )  # many strips per scene
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak traced {peak / 2**20:.1f} MiB vs full-scene float32 {full_float_scene / 2**20:.0f} MiB")
    assert summary["landslide_count"] > 50
    assert peak < 0.75 * full_float_scene  # no full-scene buffer (measured about 78 MiB)
