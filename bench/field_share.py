"""The field run's share of model-only throughput for one model: batch-4 model-only tiles/s
(random 256 x 256 tiles) against the whole field run on the shipped sample scene, at the same
256 px tiles, with ``--workers 1`` and ``2``, in ROUNDS interleaved rounds after warm-ups; medians.
Results: bench/results/field_share-<model>.json.

Usage: python bench/field_share.py [MODEL]   (default: the shipped CPU int8 model)
"""

from __future__ import annotations

import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5  # each: model-only, then one field pass with --workers 1 and one with 2
CALLS = 10  # model-only batch-4 calls per round


def main() -> None:
    from lnet_edge.defaults import SAMPLE_SCENE
    from lnet_edge.field.pipeline import InferOptions, run_scene
    from lnet_edge.files import write_text_atomic
    from lnet_edge.runners.open import open_model

    model = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "lnet_edge/assets/default/lnet-edge-s.int8-cpu.onnx"
    out = Path(tempfile.mkdtemp(prefix="field_share-"))
    runner, config = open_model(model)
    rows = []
    with runner:
        x = np.random.default_rng(0).standard_normal((4, 3, 256, 256)).astype(np.float32)
        for _ in range(3):
            runner.logits(x)

        def model_only() -> float:
            t = time.perf_counter()
            for _ in range(CALLS):
                runner.logits(x)
            return 4 * CALLS / (time.perf_counter() - t)

        rates = {1: [], 2: []}
        model_rates = []
        for workers in (1, 2):  # warm-up pass of each
            run_scene(
                SAMPLE_SCENE,
                out,
                runner,
                config,
                InferOptions(batch=4, overwrite=True, workers=workers, tile=config.tile),
                {},
            )
        for _ in range(ROUNDS):  # interleaved, so that drifts of a shared machine hit every figure alike
            model_rates.append(model_only())
            for workers in (1, 2):
                s = run_scene(
                    SAMPLE_SCENE,
                    out,
                    runner,
                    config,
                    InferOptions(batch=4, overwrite=True, workers=workers, tile=config.tile),
                    {},
                )
                rates[workers].append(s["tiles_run"] / s["seconds"])
        model_tps = statistics.median(model_rates)
        for workers in (1, 2):
            field = statistics.median(rates[workers])
            rows.append(
                {"workers": workers, "field_tiles_per_s": round(field, 1), "share": round(field / model_tps, 3)}
            )
    result = {
        "model": str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model),
        "model_tiles_per_s": round(model_tps, 1),
        "scene": Path(SAMPLE_SCENE).name,
        "rows": rows,
        "command": "python bench/field_share.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
    }
    write_text_atomic(
        ROOT / "bench" / "results" / f"field_share-{model.stem}.json", json.dumps(result, indent=2) + "\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
