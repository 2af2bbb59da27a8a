"""scripts/release_default.sh refuses, before it writes anything, a release it could not finish:
a destination without the model card it keeps, a run without the learning curve the bundle ships.
scripts/release_check.py judges the fallback and keeps a gate's test scores in its record."""

from __future__ import annotations

import hashlib
import subprocess
import sys
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


def test_release_check_judges_the_fallback_and_keeps_the_scores_in_a_gate_record(tmp_path: Path) -> None:
    """scripts/release_check.py on test scores already in RUN_DIR (--reuse): a gated checkpoint
    that loses 1.06 points misses the fallback, and --record stores its scores under the digest of
    the network that earned them."""
    import json

    import numpy as np

    from lnet_edge.config import ModelConfig
    from lnet_edge.model.checkpoint import network_digest, read_checkpoint, save_checkpoint
    from lnet_edge.model.gate import descriptor_size
    from lnet_edge.model.lnet import LNet
    from lnet_edge.train.scene_gate import gated_checkpoint

    shipped = json.loads((SHIPPED / "eval-test.json").read_text())["overall"]
    shipped_val = json.loads((SHIPPED / "eval-val.json").read_text())
    plain = LNet(ModelConfig(preset="edge-xs"))
    row = {"cut": 0.7, "threshold": 0.6, "floor": None, "precision": 0.6, "recall": 0.5, "f1": 0.541, "iou": 0.37,
           "iou_background": 0.87, "miou2": 0.62, "per_set": {k: v["f1"] for k, v in shipped_val["per_dataset"].items()},
           "fa_pixels": 0.009, "fa_images": 0.09}  # fmt: skip
    base = {"config": plain.config.to_dict(), "state_dict": plain.state_dict(), "epoch": 12}
    ckpt = gated_checkpoint(base, np.zeros(descriptor_size(plain.config.widths)), -1.0, row, {})
    run = tmp_path / "run"
    save_checkpoint(run / "best.pt", ckpt)
    test = {"f1": shipped["f1"] - 0.0106, "iou": 0.566, "precision": 0.74, "recall": 0.71}
    fa = {"pixels": 0.0127, "images_over_1pct": 0.056, "images": 250, "images_over": 14}
    gate = {"cut": 0.7, "floor": None, "images_shut": {"bijie_native": {"shut": 25, "images": 184}}}
    for name, body in (("eval-test", {"overall": test, "scene_gate": gate}),
                       ("eval-negatives-test", {"overall": {}, "false_alarms": {"all": fa}})):  # fmt: skip
        (run / name).mkdir()
        (run / name / "eval.json").write_text(json.dumps(body))
    record = tmp_path / "scene_gate-test.json"
    record.write_text(json.dumps({"chosen": row}))
    cmd = [sys.executable, str(ROOT / "scripts/release_check.py"), str(run), "--data", str(tmp_path), "--reuse"]
    done = subprocess.run([*cmd, "--record", str(record)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "not met  fallback" in done.stdout and "releasable: False" in done.stdout
    kept = json.loads(record.read_text())
    assert kept["chosen"] == row  # the fit's own figures stay
    scored = kept["test_quarters"]
    assert scored["gated_network_digest"] == network_digest(read_checkpoint(run / "best.pt"))
    assert scored["bijie_native_test"]["f1"] == test["f1"] and scored["negatives_test_false_alarms"] == fa
    assert scored["scene_gate"] == gate and scored["releasable"] is False

    missing = subprocess.run(
        [*cmd, "--record", str(tmp_path / "none.json")], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode != 0 and "none.json" in missing.stderr and "Traceback" not in missing.stderr
