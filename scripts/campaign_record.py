"""Copy a training run's learning curve into the false-alarm campaign's record.

Reads RUN_DIR/metrics.json (every epoch of every sitting), renames ``per_dataset`` to
``per_dataset_f1_or_fa`` (F1 for landslide sets, share of pixels marked for negative sets),
rounds to 4 places and stores the epochs under the run's name in the record, keeping what else
the record says of the run (its command, test figures). ``--note`` replaces the run's note.

Usage: python scripts/campaign_record.py RUN_DIR [--name NAME] [--note TEXT] [--command TEXT]
           [--record bench/results/false_alarm_campaign-2026-12-06.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lnet_edge.files import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench/results/false_alarm_campaign-2026-12-06.json"


def epochs(run: Path) -> list[dict]:
    out = []
    for epoch in json.loads((run / "metrics.json").read_text()):
        epoch = dict(epoch)
        per_set = epoch.pop("per_dataset", None) or {}
        epoch["per_dataset_f1_or_fa"] = {k: v.get("f1", v.get("fa_pixels")) for k, v in per_set.items()}
        out.append({k: _rounded(v) for k, v in epoch.items()})
    return out


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", help="the run's name in the record (default: the folder's name)")
    ap.add_argument("--note")
    ap.add_argument("--command")
    ap.add_argument("--record", type=Path, default=RECORD)
    args = ap.parse_args()
    record = json.loads(args.record.read_text())
    entry = record["runs"].setdefault(args.name or args.run.name, {})
    if args.command:
        entry["command"] = args.command
    if args.note:
        entry["note"] = args.note
    entry["epochs"] = epochs(args.run)
    write_text_atomic(args.record, json.dumps(record, indent=1) + "\n")
    print({k: len(v["epochs"]) for k, v in record["runs"].items()})


if __name__ == "__main__":
    main()
