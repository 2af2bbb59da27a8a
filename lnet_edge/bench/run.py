"""``lnet-edge bench`` as one function: one checkpoint -> every artifact -> every available
(backend, precision) timed in its own process, scored on validation tiles, optionally run
through the whole field pipeline -> report (JSON, markdown, PNG)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lnet_edge.artifacts import Role
from lnet_edge.bench import report as reporting
from lnet_edge.bench.accuracy import accuracy_table, validation_set
from lnet_edge.bench.artifacts import Artifacts, artifacts_from_checkpoint
from lnet_edge.bench.backends import BACKENDS, Entry, candidates, known_keys, needed_sources, role_of
from lnet_edge.bench.memory import check_fits
from lnet_edge.config import TILE_MULTIPLE as MULTIPLE
from lnet_edge.errors import LnetError
from lnet_edge.machine import machine_facts, machine_tag


@dataclass(frozen=True)
class BenchOptions:
    """Everything a bench decides (saved in its report). Defaults fit 2 CPU cores in minutes."""

    batches: tuple[int, ...] = (1, 4)
    tiles: tuple[int, ...] = (256,)
    runs: int = 30
    warmup: int = 5
    backends: tuple[str, ...] = ()  # backend names or backend/precision keys; empty: all
    gsd_m: float = 0.5  # ground resolution for km²/s
    threads: int | None = None  # CPU threads (None: the runtime's default, all cores)
    val_cap: int = 48  # validation tiles scored per entry (lowest key hash first)
    field_scene: Path | None = None
    field_repeats: int = 3
    machine: str | None = None  # name in the result files; None: from the machine facts
    entry_timeout_s: float = 1800.0
    cuda_graph: bool = False  # TensorRT entries replay their enqueue as a CUDA graph

    def check(self) -> None:
        if not self.batches or min(self.batches) < 1:
            raise LnetError(f"--batch {self.batches}: give positive batch sizes, e.g. --batch 1,4")
        bad = [t for t in self.tiles if t < MULTIPLE or t % MULTIPLE]
        if not self.tiles or bad:
            raise LnetError(
                f"--tile {bad or self.tiles}: tiles must be positive multiples of {MULTIPLE}, e.g. --tile 256"
            )
        if self.runs < 2 or self.warmup < 0 or self.val_cap < 1 or self.field_repeats < 1:
            raise LnetError("--runs must be >= 2, --warmup >= 0, --val-tiles >= 1 and --field-repeats >= 1")
        if self.gsd_m <= 0:
            raise LnetError(f"--gsd {self.gsd_m}: give the ground resolution in metres per pixel, e.g. 0.5")
        unknown = [b for b in self.backends if b not in BACKENDS and b not in known_keys()]
        if unknown:
            raise LnetError(
                f"--backends {','.join(unknown)}: unknown; choose from {', '.join(BACKENDS)} "
                f"or a backend/precision key ({', '.join(known_keys())})"
            )
        if self.field_scene is not None and not Path(self.field_scene).is_file():
            raise LnetError(f"--field {self.field_scene} does not exist: give a scene file (GeoTIFF, PNG, ...)")


def _spec(entry: Entry, options: BenchOptions, art: Artifacts, run_dir: Path, work: Path) -> dict:
    name = entry.key.replace("/", "-")
    spec = {
        "entry": entry.to_dict(),
        "config": art.config.to_dict(),
        "batches": list(options.batches),
        "tiles": list(options.tiles),
        "runs": options.runs,
        "warmup": options.warmup,
        "gsd": options.gsd_m,
        "threads": options.threads,
        "work": str(work),
        "cuda_graph": options.cuda_graph,
        "val_batch": str(run_dir / "val.npy"),
        "logits": str(run_dir / f"{name}.logits.npy"),
        "result": str(run_dir / f"{name}.result.json"),
    }
    if options.field_scene is not None:
        spec["field"] = {
            "scene": str(options.field_scene),
            "out": str(run_dir / f"field-{name}"),
            "batch": max(options.batches),
            "repeats": options.field_repeats,
        }
    return spec


def run_worker(spec: dict, spec_path: Path, timeout_s: float) -> dict:
    """Run one entry in a fresh Python process; a crash or timeout becomes a failed result."""
    spec_path.write_text(json.dumps(spec, indent=1))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lnet_edge.bench.worker", str(spec_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"worker timed out after {timeout_s:.0f} s"}
    result = Path(spec["result"])
    if done.returncode != 0 or not result.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"ok": False, "error": f"worker exited with code {done.returncode}: {' | '.join(tail)}"}
    return json.loads(result.read_text())


def _size_and_build(entry: Entry, art: Artifacts, result: dict) -> tuple[int | None, float | None]:
    if "plan_bytes" in result:
        return result["plan_bytes"], result["plan_build_seconds"]
    role = role_of(entry)
    size = Path(entry.artifact).stat().st_size if entry.artifact else None
    return size, 0.0 if role is Role.checkpoint else art.build_seconds.get(role)


def bench_from_checkpoint(
    checkpoint: Path,
    data: list[Path],
    out: Path,
    work: Path,
    options: BenchOptions = BenchOptions(),
    command: str = "",
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[dict, dict[str, Path]]:
    """Bench every (backend, precision) of ``checkpoint``; returns the report and the written files."""
    from lnet_edge.model.checkpoint import load_model

    options.check()
    if not Path(checkpoint).is_file():
        raise LnetError(f"checkpoint {checkpoint} does not exist: give a .pt from 'lnet-edge train'")
    for d in data:
        if not Path(d).is_dir():
            raise LnetError(f"data folder {d} does not exist: give image/mask folders with --data")
    facts = machine_facts()
    config = load_model(Path(checkpoint))[0].config
    if options.field_scene is not None and config.tile not in options.tiles:
        raise LnetError(f"--field compares with the model-only figure at the model's tile: add {config.tile} to --tile")
    need = check_fits(config, options.batches, options.tiles, Path(checkpoint).stat().st_size / 2**20)
    wanted = list(options.backends) or None
    art = artifacts_from_checkpoint(Path(checkpoint), work, data, needed_sources(wanted), say)
    run_dir = art.folder / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    masks, validation = validation_set(data, config, options.val_cap, run_dir / "val.npy")
    rows, logits = [], {}
    for entry in candidates(art, wanted):
        row = {"key": entry.key, **entry.to_dict(), "available": entry.reason is None}
        if entry.reason is None:
            say(f"timing {entry.key}")
            spec = _spec(entry, options, art, run_dir, work)
            result = run_worker(spec, run_dir / f"{entry.key.replace('/', '-')}.spec.json", options.entry_timeout_s)
            if result.pop("ok"):
                row["size_bytes"], row["build_seconds"] = _size_and_build(entry, art, result)
                row.update(result)
                logits[entry.key] = Path(spec["logits"])
            else:
                row.update(available=False, reason=result["error"])
        rows.append(row)
    scores = accuracy_table(logits, masks, config.threshold)
    for row in rows:
        if row["key"] in scores:
            row["accuracy"] = scores[row["key"]]
    report = {
        "format": "lnet-edge-bench",
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "machine_tag": options.machine or machine_tag(facts),
        "machine": facts,
        "load_average_after": list(os.getloadavg()),
        "options": {**asdict(options), "field_scene": str(options.field_scene) if options.field_scene else None},
        "memory_estimate_mib": round(need, 1),
        "artifacts": art.to_dict(),
        "validation": validation,
        "model": {
            "preset": config.preset,
            "variant": config.variant.value,
            "tile": config.tile,
            "threshold": config.threshold,
        },
        "entries": rows,
    }
    reporting.add_field_comparison(report)
    report["goals"] = reporting.goals(report)
    return report, reporting.write_all(report, Path(out))
