"""The memory a field run of one scene will allocate, estimated from its tile plan before it
starts, and the refusal of a plan above the budget (lnet_edge/memory.py).

Per tile row (field/strips.blend_rows): the strip read from the scene (raw bands, the overlap
kept from the previous strip, the float32 scaled copy, the masks); every tile of the row
resampled by ``factor`` and padded to the model's input (``ph`` x ``pw``, NCHW float32), all
held until the row has run; one runner call on ``batch`` of them (the four flips with TTA) with
the network's activations when it runs on this host's CPU; the row's logits; the float64 blend
accumulator. With the stages overlapped, up to three rows are prepared and three rows' logits
alive at once. A resampling factor f multiplies a row's inputs and logits by about f^2: a 300 px
scene tagged with 1 km pixels, mapped for a 1 m model, has 19 tiles of 16 px per row, each
16000 px at the model's input: 58 GB for one row's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.data.resample import scaled_size
from lnet_edge.memory import Budget, activation_bytes, budget, size_text
from lnet_edge.runners.base import Runner

IN_FLIGHT = 3  # tile rows held at once by the overlapped stages: being prepared, queued, running


@dataclass(frozen=True)
class Plan:
    """A scene's tile plan, in scene pixels: tile height and width, tile columns, scene width."""

    th: int
    tw: int
    columns: int
    width: int
    bands: int  # bands read (the model's)
    itemsize: int  # bytes per value of the scene's dtype
    factor: float  # model pixels per scene pixel
    threaded: bool  # the stages overlap (IN_FLIGHT rows at once)


def runs_on_host(runner: Runner | None) -> bool:
    """Whether ``runner``'s activations live in this host's memory (any runner not on a GPU)."""
    from lnet_edge.runners.registry import BACKENDS

    if runner is None:
        return False
    spec = BACKENDS.get(runner.name)
    device = getattr(runner, "device", None) or (spec.device if spec else "cpu")
    return str(device) == "cpu"


def model_input(plan: Plan, config: ModelConfig) -> tuple[int, int]:
    """(ph, pw): a tile's size at the network's input, resampled and padded (field/predict.py)."""

    def padded(n: int) -> int:
        return max(config.tile, -(-scaled_size(n, plan.factor) // TILE_MULTIPLE) * TILE_MULTIPLE)

    return padded(plan.th), padded(plan.tw)


def scene_parts(plan: Plan, config: ModelConfig, batch: int, tta: bool, host_model: bool) -> dict[str, int]:
    """Bytes of each part of a scene's run (see the module docstring); the total is their sum."""
    ph, pw = model_input(plan, config)
    rows = IN_FLIGHT if plan.threaded else 1
    c, strip = plan.bands, plan.th * plan.width
    calls = min(batch, plan.columns) * (4 if tta else 1)
    sh, sw = scaled_size(plan.th, plan.factor), scaled_size(plan.tw, plan.factor)
    resampling = min(batch, plan.columns) * c * (plan.th * plan.tw + sh * sw) * 4 if plan.factor != 1 else 0
    return {
        "scene rows read": rows * strip * (c * (2 * plan.itemsize + 4) + 3),
        "tiles at the model's input": rows * plan.columns * c * ph * pw * 4,
        "tiles being resampled": resampling,
        "network activations": activation_bytes(config, calls, ph, pw) if host_model else 0,
        "one call's input and output": calls * ph * pw * 4 * ((c + 3) if tta else 1),  # TTA: flips, averages
        "logits": rows * plan.columns * ph * pw * 4,
        "blending": strip * (8 + 4 * 2),
    }


def assembly_parts(plan: Plan) -> dict[str, int]:
    """Bytes of the task that writes a banded scene's outputs (no model): a strip read, its
    probabilities read back, the writers' rows."""
    strip = plan.th * plan.width
    return {"scene rows read": strip * (plan.bands * (2 * plan.itemsize + 4) + 3), "band rows": strip * 4 * 3}


def check_scene(
    what: str, src, setup, grid, config: ModelConfig, options, runner: Runner | None, threaded: bool, assembly: bool
) -> int:
    """The estimated bytes of mapping a scene (``what``: "the scene", "band 2 of 3"; open as
    ``src``, with its field/reader SceneSetup and field/grid Grid; ``assembly``: writing a banded scene's
    outputs, no model); an LnetError with the numbers and the fixes when they exceed the budget."""
    import numpy as np

    from lnet_edge.field.options import field_tile

    plan = Plan(
        grid.th,
        grid.tw,
        len(grid.xs),
        grid.width,
        len(setup.indexes),
        np.dtype(src.dtypes[setup.indexes[0] - 1]).itemsize,
        setup.factor,
        threaded,
    )
    if assembly:
        parts = assembly_parts(plan)
    else:
        parts = scene_parts(plan, config, options.batch, options.tta, runs_on_host(runner))
    need = sum(parts.values())
    budget_ = run_budget(options.memory_limit)
    if budget_ is None or need <= budget_.limit:
        return need
    largest = sorted(((v, k) for k, v in parts.items() if v), reverse=True)[:2]
    detail = ", ".join(f"{k} {size_text(v)}" for v, k in largest)
    fixes = []
    if plan.factor > 1.5:
        fixes.append(
            f"its pixel size {setup.scene_m:.4g} m is resampled x{plan.factor:.4g} for the model: check its "
            "georeference (or --pixel-size), or give --gsd none to map it at its own pixel size"
        )
    fixes.append(f"give a smaller --batch (now {options.batch}) or --tile (now {field_tile(options, config, runner)})")
    ph, pw = model_input(plan, config)
    what += f" (tiles of {plan.th}x{plan.tw} px, {plan.columns} per row, {ph}x{pw} px at the model's input)"
    budget_.check(need, what, detail, fixes)
    return need


def run_budget(memory_limit: int | None) -> Budget | None:
    """A field run's budget: ``memory_limit`` bytes, else the default (lnet_edge/memory.budget),
    within the Dask worker's own memory limit when the run is a task on one."""
    return budget(memory_limit, ceiling=_worker_limit())


def _worker_limit() -> int | None:
    import sys

    if "distributed" not in sys.modules:  # a Dask worker has imported it; importing it here costs 0.2 s
        return None
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):  # not on a worker, or no limit
        return None
    return int(limit) if limit else None
