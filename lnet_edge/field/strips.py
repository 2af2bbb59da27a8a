"""Tile rows of a scene through the model into blended probabilities, strip by strip.

For each tile row: read the rows it covers (all bands the model reads, full width), cut the
tiles, skip those whose pixels are all nodata, run the rest in batches, add them into a strip
accumulator with a raised-cosine weight, and hand on the rows no later tile can touch. Peak
memory is O(tile x scene width). With ``workers`` > 1 reading, the model, blending and handing
on overlap, a few strips apart (field/stages.py); the probabilities are the same bits either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.field.blending import BlendWeights, StripAccumulator
from lnet_edge.field.grid import Grid
from lnet_edge.field.options import InferOptions
from lnet_edge.field.predict import prepare_batches, probabilities, run_logits
from lnet_edge.field.reader import SceneSetup, StripReader
from lnet_edge.field.stages import run_staged
from lnet_edge.runners.base import Runner

# below this many tile rows the stages take turns even with --workers 2: on the 5-row sample
# scene, handing strips between threads cost more than overlapping them gained (0.28 s against
# 0.26 s; bench/field_pipeline.py)
OVERLAP_MIN_STRIPS = 8


@dataclass
class Strip:
    """One row of tiles on its way through the run: read and prepared, then predicted."""

    index: int
    row0: int
    stop: int  # rows [row0, stop) are final once this strip is blended
    image: np.ndarray  # HxWxC in the model's 0..255 range (uint8 scenes stay uint8)
    valid: np.ndarray
    nonfinite: int  # non-finite pixels among the final rows
    keep: list[int]  # tile columns with any valid pixel
    batches: list
    logits: list | None = None  # the runner's, per batch, until blended
    model_s: float = 0.0


def overlapped(workers: int, strips: int) -> bool:
    """Whether a run of ``strips`` tile rows overlaps its stages (see OVERLAP_MIN_STRIPS)."""
    return workers > 1 and strips >= OVERLAP_MIN_STRIPS


def blend_rows(
    src,
    setup: SceneSetup,
    runner: Runner,
    config: ModelConfig,
    options: InferOptions,
    grid: Grid,
    rows: range,
    emit: Callable[[Strip, np.ndarray], None],
    workers: int = 1,
) -> float:
    """Tile rows ``rows`` read, run and blended; ``emit(strip, prob)`` gets each one's final
    rows, in order. The tile rows before ``rows`` that reach into it run too (not emitted),
    so the blend is the one a whole-scene run makes, to the bit. Returns seconds in the model.

    Per strip: read and prepare (reader), run the model and nothing else (calling thread),
    sigmoid and blend (a thread), emit (a thread); with ``workers`` > 1 they overlap
    (field/stages.py), else they take turns."""
    run = _StripRun(src, setup, runner, config, options, grid, rows, emit)
    run_staged(run.read(), run.predict, [run.blend, run.deliver], threaded=overlapped(workers, len(rows)))
    return run.model_s


class _StripRun:
    """The stages of ``blend_rows``, sharing the accumulator, the weights and the model time."""

    def __init__(self, src, setup, runner, config, options, grid: Grid, rows: range, emit) -> None:
        self.src, self.setup, self.runner, self.config, self.options = src, setup, runner, config, options
        self.grid, self.rows, self.emit = grid, rows, emit
        self.first = grid.first_reaching(rows.start) if rows.start > 0 else 0
        self.acc = StripAccumulator(grid.th, grid.width, grid.ys[self.first])
        self.weights = BlendWeights(grid.ys, grid.xs, grid.th, grid.tw, grid.overlap, grid.height, grid.width)
        self.model_s = 0.0

    def read(self) -> Iterator[Strip]:
        grid, tw = self.grid, self.grid.tw
        reader = StripReader(self.src, self.setup, self.config, grid)
        for i in range(self.first, self.rows.stop):
            image, valid, count = reader.strip(i)
            keep = [x for x in grid.xs if valid[:, x : x + tw].any()]
            tiles = [image[:, x : x + tw] for x in keep]
            batches = prepare_batches(tiles, self.config, self.options.batch, self.setup.factor)
            yield Strip(i, grid.ys[i], grid.stop(i), image, valid, count, keep, batches)

    def predict(self, strip: Strip) -> Strip:
        t0 = time.perf_counter()
        strip.logits = run_logits(self.runner, strip.batches, self.options.tta)
        strip.model_s = time.perf_counter() - t0
        for b in strip.batches:  # the inputs are done with: only the tile sizes travel on
            b.x = None
        self.model_s += strip.model_s
        return strip

    def blend(self, strip: Strip) -> tuple[Strip, np.ndarray]:
        i, y, ys, xs = strip.index, strip.row0, self.grid.ys, self.grid.xs
        probs = probabilities(self.runner.name, strip.batches, strip.logits)
        strip.batches, strip.logits = [], None
        for x, p in zip(strip.keep, probs):
            self.acc.add(p, self.weights.window(i, xs.index(x)), y, x)
        prob = self.acc.rows(strip.stop)
        if i + 1 < len(ys):
            self.acc.advance(ys[i + 1])
        return strip, prob

    def deliver(self, blended: tuple[Strip, np.ndarray]) -> None:
        if blended[0].index >= self.rows.start:
            self.emit(*blended)
