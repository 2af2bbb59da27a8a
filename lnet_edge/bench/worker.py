"""One bench entry in its own process: ``python -m lnet_edge.bench.worker SPEC.json``.

A fresh process per entry keeps each backend's peak RSS its own (no other runtime library or
model loaded beside it) and stops one backend's threads or caches from slowing the next. The
spec (written by run.py) names the entry, the sweep, the validation batch and where to write;
the result JSON goes to ``spec["result"]`` and the validation logits to ``spec["logits"]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from lnet_edge.bench.backends import BACKENDS, Entry, Settings, open_entry
from lnet_edge.bench.memory import peak_rss_mib, rss_mib
from lnet_edge.bench.timing import TegraStats, throughput, time_calls
from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import INPUT_NAME

ACCURACY_BATCH = 4


def gpu_used_mib() -> float | None:
    """Device-wide used GPU memory (cudaMemGetInfo), None without cuda-python or a device."""
    from lnet_edge.cuda import cudart

    rt = cudart()
    if rt is None:
        return None
    err, free, total = rt.cudaMemGetInfo()
    return (total - free) / 2**20 if int(err) == 0 else None


def sweep(runner, backend, spec: dict, config: ModelConfig) -> list[dict]:
    """Latency and throughput of every (tile, batch), per mode: "cpu" for CPU entries, "with_copies"
    (host in, host out) and "compute" (input already on the device) for GPU entries. Inputs are
    seeded standard-normal tensors: these networks' run time does not depend on pixel values."""
    rng = np.random.default_rng(0)
    rows = []
    for tile in spec["tiles"]:
        for batch in spec["batches"]:
            x = rng.standard_normal((batch, config.in_channels, tile, tile), dtype=np.float32)
            modes = {"with_copies" if backend.compute_only else "cpu": lambda x=x: runner.infer({INPUT_NAME: x})}
            if backend.compute_only:
                modes["compute"] = runner.compute_only(x)
            for mode, fn in modes.items():
                with TegraStats() as power:
                    lat = time_calls(fn, spec["runs"], spec["warmup"])
                row = {
                    "batch": batch,
                    "tile": tile,
                    "mode": mode,
                    **lat.to_dict(),
                    **throughput(lat, batch, tile, spec["gsd"]),
                }
                row["energy_j_per_tile"] = power.mean_watts * lat.mean_ms / 1e3 / batch if power.mean_watts else None
                rows.append(row)
    return rows


def validation_logits(runner, batch_path: Path, out: Path) -> float:
    """Logits of the validation batch (``ACCURACY_BATCH`` tiles per call) saved to ``out``; seconds."""
    x = np.load(batch_path)
    t = time.perf_counter()
    logits = np.concatenate([runner.logits(x[i : i + ACCURACY_BATCH]) for i in range(0, len(x), ACCURACY_BATCH)])
    np.save(out, logits)
    return time.perf_counter() - t


def run_entry(spec: dict) -> dict:
    entry = Entry(**spec["entry"])
    backend = BACKENDS[entry.backend]
    config = ModelConfig.from_dict(spec["config"])
    settings = Settings(
        spec["threads"], tuple(spec["batches"]), tuple(spec["tiles"]), Path(spec["work"]), spec.get("cuda_graph", False)
    )
    result: dict = {"rss_before_load_mib": rss_mib(), "gpu_used_before_mib": gpu_used_mib()}
    t0 = time.perf_counter()
    runner, facts = open_entry(entry, settings)
    with runner:
        result["load_seconds"] = time.perf_counter() - t0
        result.update(facts)
        result["timings"] = sweep(runner, backend, spec, config)
        result["peak_rss_mib"] = peak_rss_mib()  # before accuracy and field runs: the sweep's own peak
        used = gpu_used_mib()
        result["gpu_used_delta_mib"] = None if used is None else used - (result["gpu_used_before_mib"] or 0.0)
        result["accuracy_seconds"] = validation_logits(runner, Path(spec["val_batch"]), Path(spec["logits"]))
        if spec.get("field"):
            from lnet_edge.bench.field import time_field

            f = spec["field"]
            result["field"] = time_field(
                runner, config, Path(f["scene"]), Path(f["out"]), f["batch"], f["repeats"], spec["gsd"]
            )
    return result


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = {"ok": True, **run_entry(spec)}
    except LnetError as exc:  # e.g. a plan that does not fit this GPU: the entry says why
        result = {"ok": False, "error": str(exc)}
    Path(spec["result"]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
