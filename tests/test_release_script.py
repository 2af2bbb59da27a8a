"""scripts/release_default.sh refuses, before it writes anything, a release it could not finish:
a destination without the model card it keeps, a run without the learning curve the bundle ships."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/release_default.sh"
SHIPPED = ROOT / "lnet_edge/assets/default"


def _shipped_digest() -> str:
    h = hashlib.sha256()
    for f in sorted(SHIPPED.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def _release(*args: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_a_release_it_could_not_finish_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    before = _shipped_digest()
    run, dest = tmp_path / "run", tmp_path / "dest"
    run.mkdir()
    dest.mkdir()
    result = _release(run, tmp_path, dest)
    assert result.returncode == 2 and f"{dest} has no MODEL_CARD.md" in result.stderr

    (dest / "MODEL_CARD.md").write_text("card\n")
    result = _release(run, tmp_path, dest)
    assert result.returncode == 2 and "no metrics.csv" in result.stderr and "training-metrics.csv" in result.stderr
    assert not (run / "release").exists() and sorted(p.name for p in dest.iterdir()) == ["MODEL_CARD.md"]
    assert _shipped_digest() == before
