"""scripts/as_avx2.sh runs a command as on an AVX2 CPU without VNNI: lnet-edge sees the kind, and
ONNX Runtime runs the 16-bit-pair int8 kernels that 8-bit weights can saturate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/as_avx2.sh"
FLAGS = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""

needs_view = pytest.mark.skipif(
    os.geteuid() != 0 or " cpuid_fault" not in FLAGS or " avx512f" not in FLAGS or not shutil.which("gcc"),
    reason="needs root, gcc and an AVX-512 CPU that can fault on CPUID (cpuid_fault)",
)

# u8 255 x s8 127, 64 terms: 2,072,640 summed in 32 bits (VNNI); the AVX2 kernels add the products
# in pairs into saturating 16-bit lanes, 2 x 255 x 127 = 64,770 > 32,767, so 32 x 32,767
SATURATION = """
import numpy as np, onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
b = numpy_helper.from_array(np.full((64, 8), 127, np.int8), "B")
graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "g",
    [helper.make_tensor_value_info("A", TensorProto.UINT8, [1, 64])],
    [helper.make_tensor_value_info("Y", TensorProto.INT32, [1, 8])], [b])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
print(int(session.run(None, {"A": np.full((1, 64), 255, np.uint8)})[0][0, 0]))
"""


def _run(*cmd: str, view: bool) -> str:
    full = [str(SCRIPT), *cmd] if view else list(cmd)
    return subprocess.run(full, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()


@needs_view
def test_int8_kernels_switch_to_avx2():
    assert _run(sys.executable, "-c", SATURATION, view=False) == str(64 * 255 * 127)
    assert _run(sys.executable, "-c", SATURATION, view=True) == str(32 * 32767)


@needs_view
def test_lnet_edge_sees_an_avx2_cpu_and_the_record_says_what_was_hidden():
    probe = "from lnet_edge.cpu_int8 import cpu_kind, cpu_view; print(cpu_kind(), cpu_view())"
    kind, hidden = _run(sys.executable, "-c", probe, view=True).split(" ", 1)
    assert kind == "avx2"
    assert "avx512f" in hidden and "avx512_vnni" in hidden
    assert (
        _run(sys.executable, "-c", "from lnet_edge.cpu_int8 import cpu_kind; print(cpu_kind())", view=False) != "avx2"
    )


def test_without_a_command_it_says_how_to_use_it():
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "usage: scripts/as_avx2.sh COMMAND" in done.stderr
