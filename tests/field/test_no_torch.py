"""The field install has no torch: lnet_edge.field and `infer` must run with torch unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLOCK_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed (blocked by the test)")
sys.meta_path.insert(0, NoTorch())
import lnet_edge.field, lnet_edge.field.pipeline, lnet_edge.config, lnet_edge.bundle
assert "torch" not in sys.modules
from lnet_edge.cli.main import app
args = ["infer", "-o", sys.argv[2]] + (["--model", sys.argv[1]] if sys.argv[1] != "-" else [])
app(args)
"""


@pytest.mark.parametrize("model", ["onnx", "default bundle"])
def test_infer_runs_without_torch(tmp_path: Path, model: str) -> None:
    from lnet_edge.defaults import DEFAULT_ONNX

    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, str(DEFAULT_ONNX) if model == "onnx" else "-", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "out").glob("*/*_summary.json"))
