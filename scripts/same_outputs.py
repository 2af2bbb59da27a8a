"""Whether two `lnet-edge infer` output folders hold the same map: byte for byte for the rasters,
GeoJSON, quicklook and options; feature for feature for the GeoPackage (its contents table
carries a write time); key for key for the summary, but for its timings and its own folder.

Usage: python scripts/same_outputs.py BEFORE_DIR AFTER_DIR [--json RESULT.json]
Exit 0 when every file matches, 1 otherwise (each difference printed)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from lnet_edge.files import sha256_file

VOLATILE = {"seconds", "model_seconds", "km2_per_second", "folder"}  # differ on every run


def _tables(path: Path) -> dict:
    """Every table's rows, the write time in gpkg_contents left out."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = {}
        for name in names:
            cur = db.execute(f'SELECT * FROM "{name}"')
            cols = [c[0] for c in cur.description]
            rows[name] = [tuple(v for c, v in zip(cols, r) if c != "last_change") for r in cur]
        return rows


def _summary(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in VOLATILE}


def differences(before: Path, after: Path) -> tuple[list[str], int]:
    """(what differs, files compared) between two output folders."""
    a = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    b = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    found = [f"only in {before}: {p}" for p in sorted(a - b)] + [f"only in {after}: {p}" for p in sorted(b - a)]
    for rel in sorted(a & b):
        x, y = before / rel, after / rel
        if rel.suffix == ".gpkg":
            same = _tables(x) == _tables(y)
        elif rel.name.endswith("_summary.json"):
            same = list(json.loads(x.read_text())) == list(json.loads(y.read_text())) and _summary(x) == _summary(y)
        else:
            same = sha256_file(x) == sha256_file(y)
        if not same:
            found.append(f"differs: {rel}")
    return found, len(a & b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--json", type=Path, help="write the comparison here")
    args = parser.parse_args()
    found, n = differences(args.before, args.after)
    for line in found:
        print(line)
    print(f"{n} files compared: {'the same' if not found else f'{len(found)} differences'}")
    if args.json:
        args.json.write_text(
            json.dumps({"files_compared": n, "differences": found, "same": not found}, indent=1) + "\n"
        )
    return 0 if not found else 1


if __name__ == "__main__":
    sys.exit(main())
