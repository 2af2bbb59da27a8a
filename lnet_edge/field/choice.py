"""The fastest safe backend for a bundle on this machine.

Among the bundle's artifacts that passed the accuracy gate, in this order:

1. TensorRT (a runtime and a CUDA GPU here): int8 QDQ, else fp16, else fp32; the plan comes from
   the engine cache, built on first use;
2. ONNX Runtime's CUDA provider (where installed with a GPU): fp16, else fp32;
3. ONNX Runtime on the CPU: the CPU int8 model on CPUs with int8 dot-product instructions (x86
   VNNI, Arm's dot product), fp32 otherwise. On this project's 2-core AVX-512 VNNI development
   CPU the int8 model ran 1.98x faster than fp32 at the same validation IoU. On a 2-core AVX2
   CPU without VNNI it ran 2.5x faster too, but x86 int8 kernels without VNNI (AVX2, AVX-512BW
   alone) sum products in saturating 16-bit lanes, which models calibrated before 7-bit weights
   (calibration/quantize.py) overflow, and the choice does not yet read which kind a bundle holds.

``--backend`` and ``--precision`` narrow the choice; an int8 artifact that failed its gate is
never chosen, and asking for it is refused with the gate's numbers unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.bundle import Bundle
from lnet_edge.errors import LnetError

INT8_FLAGS = {
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "asimddp": "Arm dot product",
}


@dataclass(frozen=True)
class Here:
    """What this machine offers (measured by ``here()``, given by hand in tests)."""

    tensorrt: bool  # a TensorRT runtime and a CUDA GPU
    ort_cuda: bool  # ONNX Runtime's CUDA provider and a CUDA GPU
    cpu_int8: str | None  # the instruction set that makes CPU int8 fast, or None


@dataclass(frozen=True)
class Choice:
    backend: str  # "tensorrt" | "onnxruntime-cuda" | "onnxruntime"
    precision: str  # "fp32" | "fp16" | "int8"
    role: str  # the bundle artifact it runs
    reason: str

    def describe(self) -> str:
        return f"{self.backend} {self.precision} ({self.role}): {self.reason}"


def here() -> Here:
    from lnet_edge.bench.machine import cpu_facts
    from lnet_edge.runners.registry import BACKENDS

    flags = set(cpu_facts()["flags"])
    fast = next((name for flag, name in INT8_FLAGS.items() if flag in flags), None)
    usable = {name for name, spec in BACKENDS.items() if spec.unavailable() is None}
    return Here("tensorrt" in usable, "onnxruntime-cuda" in usable, fast)


def _gate_text(gate: dict | None) -> str:
    if not gate:
        return "no gate result"
    drop = gate.get("iou_drop_points")
    return f"landslide IoU {'-' if drop is None else f'{-drop:+.2f}'} points against fp32" + (
        "" if gate.get("passed") else f", allowed -{gate.get('max_iou_drop', 1.0)}"
    )


def choose(
    bundle: Bundle, machine: Here, backend: str = "auto", precision: str | None = None, force: bool = False
) -> Choice:
    """The choice for ``bundle`` on ``machine`` (see the module docstring)."""
    int8_roles = {"tensorrt": "int8-qdq", "onnxruntime-cuda": None, "onnxruntime": "int8-cpu"}
    if precision == "int8":
        for role in ("int8-qdq", "int8-cpu"):
            if bundle.has(role) and not bundle.artifacts[role].passed and not force:
                raise LnetError(
                    f"the int8 model {bundle.artifacts[role].file} of {bundle.root} failed its accuracy gate "
                    f"({_gate_text(bundle.artifacts[role].gate)}): use another --precision, or --force-precision "
                    "to run it anyway"
                )
    candidates: list[tuple[str, list[str]]] = []
    if machine.tensorrt and backend in ("auto", "tensorrt"):
        candidates.append(("tensorrt", ["int8", "fp16", "fp32"]))
    if machine.ort_cuda and backend in ("auto", "onnxruntime-cuda"):
        candidates.append(("onnxruntime-cuda", ["fp16", "fp32"]))
    if backend in ("auto", "onnxruntime"):
        candidates.append(("onnxruntime", ["int8", "fp32"] if machine.cpu_int8 or precision == "int8" else ["fp32"]))
    absent = {
        "tensorrt": None if machine.tensorrt else "no TensorRT runtime with a CUDA GPU here",
        "onnxruntime-cuda": None if machine.ort_cuda else "no ONNX Runtime CUDA provider with a CUDA GPU here",
    }.get(backend)
    if absent:
        raise LnetError(
            f"--backend {backend}: {absent} ('lnet-edge doctor' says why); use --backend onnxruntime or auto"
        )
    for name, order in candidates:
        for p in [precision] if precision else order:
            if p == "fp16" and name == "onnxruntime" and precision != "fp16":
                continue
            role = {"fp32": "fp32", "fp16": "fp16", "int8": int8_roles.get(name)}.get(p)
            if role is None or not bundle.has(role):
                continue
            art = bundle.artifacts[role]
            if not art.passed and not force:
                continue
            return Choice(name, p, role, _reason(name, p, art, machine, backend, precision))
    raise LnetError(
        f"{bundle.root} has no {precision or ''} model that {backend if backend != 'auto' else 'this machine'} can run: "
        f"it holds {', '.join(sorted(bundle.artifacts))}"
    )


def _reason(name: str, precision: str, art, machine: Here, backend: str, asked: str | None) -> str:
    if asked or backend != "auto":
        return "as asked (--backend/--precision)"
    why = {
        "tensorrt": "a TensorRT runtime and a CUDA GPU are here",
        "onnxruntime-cuda": "ONNX Runtime's CUDA provider is here (no TensorRT)",
        "onnxruntime": "no GPU backend here",
    }[name]
    if precision == "int8":
        cpu = f"; this CPU has {machine.cpu_int8}" if name == "onnxruntime" else ""
        return f"{why}; the int8 model passed the accuracy gate ({_gate_text(art.gate)}){cpu}"
    if name == "onnxruntime" and not machine.cpu_int8:
        return f"{why}; this CPU has no int8 dot-product instructions (VNNI), without which int8 kernels can saturate"
    return why


def open_choice(bundle: Bundle, choice: Choice, threads: int | None = None, cuda_graph: bool = False, say=None):
    """The Runner for ``choice``; a TensorRT plan is taken from the engine cache or built first."""
    from lnet_edge.runners.registry import BACKENDS

    path = bundle.path(choice.role)
    if choice.backend == "tensorrt":
        import time

        from lnet_edge.engines.cache import cached_plan
        from lnet_edge.engines.options import BuildOptions, Precision

        t0 = time.perf_counter()
        plan = cached_plan(path, BuildOptions(precision=Precision(choice.precision)), warn=say)
        if say:
            say(f"TensorRT plan {plan} ready in {time.perf_counter() - t0:.1f} s (built once, then cached)")
        return BACKENDS["tensorrt"].open(Path(plan), cuda_graph=cuda_graph)[0]
    return BACKENDS[choice.backend].open(path, threads=threads, cuda_graph=cuda_graph)[0]
