"""The fastest safe backend for a bundle on this machine.

Among the bundle's artifacts that passed the accuracy gate, in this order:

1. TensorRT (a runtime and a CUDA GPU here): int8 QDQ, else fp16, else fp32; the plan comes from
   the engine cache, built on first use;
2. ONNX Runtime's CUDA provider (where installed with a GPU): fp16, else fp32;
3. ONNX Runtime on the CPU: the CPU int8 model where its weights cannot saturate this CPU's
   int8 kernels (:mod:`lnet_edge.cpu_int8`): with 7-bit weights on any x86 CPU with AVX2 and on
   Arm CPUs with the dot product; with 8-bit weights (or when the bundle does not say) only on
   CPUs with an int8 dot product (x86 VNNI, Arm's dot product); fp32 otherwise. README command 1
   ran 1.80x faster with it than with fp32 on the 2-core AVX-512 VNNI development CPU
   (bench/results/sample_run.json).

``--backend`` and ``--precision`` narrow the choice; an int8 artifact that failed its gate is
never chosen, and asking for it is refused with the gate's numbers unless forced. For the CPU
int8 model the gate that counts is the one run on this CPU's kind (``lnet-edge pack
--gate-here``), else the first; int8 that runs on another kind than its gate's, or with 8-bit
weights on an x86 CPU without VNNI (``--precision int8``), comes with one line saying so
(``Choice.note``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.bundle import Artifact, Bundle
from lnet_edge.cpu_int8 import (
    DOT_PRODUCT,
    X86_16BIT,
    cpu_kind,
    gate_for,
    gates_of,
    int8_fits,
    kind_name,
    weight_bits,
)
from lnet_edge.errors import LnetError


@dataclass(frozen=True)
class Here:
    """What this machine offers (measured by ``here()``, given by hand in tests)."""

    tensorrt: bool  # a TensorRT runtime and a CUDA GPU
    ort_cuda: bool  # ONNX Runtime's CUDA provider and a CUDA GPU
    cpu_int8: str | None  # the int8 dot-product instructions (VNNI, Arm dot product), or None
    cpu_kind: str | None = None  # "avx512-vnni", "avx2", "arm-dotprod", ... (cpu_int8.cpu_kind)

    @classmethod
    def from_facts(cls, cpu: dict, tensorrt: bool = False, ort_cuda: bool = False) -> Here:
        """A machine with the CPU of ``cpu`` (``bench.machine.cpu_facts()``: arch, flags)."""
        kind = cpu_kind(cpu)
        return cls(tensorrt, ort_cuda, kind_name(kind) if kind in DOT_PRODUCT else None, kind)


@dataclass(frozen=True)
class Choice:
    backend: str  # "tensorrt" | "onnxruntime-cuda" | "onnxruntime"
    precision: str  # "fp32" | "fp16" | "int8"
    role: str  # the bundle artifact it runs
    reason: str
    note: str = ""  # one line the user should read before trusting the result, or ""

    def describe(self) -> str:
        return f"{self.backend} {self.precision} ({self.role}): {self.reason}"


def here() -> Here:
    from lnet_edge.bench.machine import cpu_facts
    from lnet_edge.runners.registry import BACKENDS

    usable = {name for name, spec in BACKENDS.items() if spec.unavailable() is None}
    return Here.from_facts(cpu_facts(), "tensorrt" in usable, "onnxruntime-cuda" in usable)


def _gate_text(gate: dict | None) -> str:
    if not gate:
        return "no gate result"
    drop = gate.get("iou_drop_points")
    return (
        f"landslide IoU {'-' if drop is None else f'{-drop:+.2f}'} points against fp32"
        + ("" if gate.get("passed") else f", allowed -{gate.get('max_iou_drop', 1.0)}")
        + (f", gated on {gate['cpu']}" if gate.get("cpu") else "")
    )


def _gate(art: Artifact, machine: Here) -> dict | None:
    """The gate that counts here: for the CPU int8 model, the one run on this CPU's kind if any."""
    return gate_for(art, machine.cpu_kind) if art.role == "int8-cpu" else art.gate


def _passed(art: Artifact, machine: Here) -> bool:
    gate = _gate(art, machine)
    return gate is None or bool(gate.get("passed", False))


def choose(
    bundle: Bundle, machine: Here, backend: str = "auto", precision: str | None = None, force: bool = False
) -> Choice:
    """The choice for ``bundle`` on ``machine`` (see the module docstring)."""
    int8_roles = {"tensorrt": "int8-qdq", "onnxruntime-cuda": None, "onnxruntime": "int8-cpu"}
    if precision == "int8":
        for role in ("int8-qdq", "int8-cpu"):
            if bundle.has(role) and not _passed(bundle.artifacts[role], machine) and not force:
                raise LnetError(
                    f"the int8 model {bundle.artifacts[role].file} of {bundle.root} failed its accuracy gate "
                    f"({_gate_text(_gate(bundle.artifacts[role], machine))}): use another --precision, or "
                    "--force-precision to run it anyway"
                )
    candidates: list[tuple[str, list[str]]] = []
    if machine.tensorrt and backend in ("auto", "tensorrt"):
        candidates.append(("tensorrt", ["int8", "fp16", "fp32"]))
    if machine.ort_cuda and backend in ("auto", "onnxruntime-cuda"):
        candidates.append(("onnxruntime-cuda", ["fp16", "fp32"]))
    if backend in ("auto", "onnxruntime"):
        fits = bundle.has("int8-cpu") and _fits(bundle.artifacts["int8-cpu"], machine)
        candidates.append(("onnxruntime", ["int8", "fp32"] if fits or precision == "int8" else ["fp32"]))
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
            if not _passed(art, machine) and not force:
                continue
            reason = _reason(name, p, art, machine, backend, precision, bundle)
            return Choice(name, p, role, reason, _note(art, machine, bundle) if role == "int8-cpu" else "")
    raise LnetError(
        f"{bundle.root} has no {precision or ''} model that {backend if backend != 'auto' else 'this machine'} can run: "
        f"it holds {', '.join(sorted(bundle.artifacts))}"
    )


def _fits(art: Artifact, machine: Here) -> bool:
    return int8_fits(weight_bits(art), machine.cpu_kind, machine.cpu_int8 is not None)


def _bits_text(art: Artifact) -> str:
    return f"{art.weight_bits}-bit weights" if art.weight_bits else "weights of unrecorded range, taken as 8-bit"


def _weights_text(art: Artifact, machine: Here) -> str:
    """Why the CPU int8 model's weights are (or are not) safe on this CPU, in words."""
    if machine.cpu_int8:
        return f"int8 ({_bits_text(art)}) on this CPU's {machine.cpu_int8}, which sums int8 products in 32 bits"
    if _fits(art, machine):
        return f"int8 ({_bits_text(art)}, safe without VNNI) on this CPU's {kind_name(machine.cpu_kind)}"
    return (
        f"int8 ({_bits_text(art)}), which int8 kernels without VNNI can saturate ({kind_name(machine.cpu_kind)} here)"
    )


def _reason(name: str, precision: str, art, machine: Here, backend: str, asked: str | None, bundle: Bundle) -> str:
    cpu_int8 = name == "onnxruntime" and precision == "int8"
    if asked or backend != "auto":
        return "as asked (--backend/--precision)" + (f"; {_weights_text(art, machine)}" if cpu_int8 else "")
    why = {
        "tensorrt": "a TensorRT runtime and a CUDA GPU are here",
        "onnxruntime-cuda": "ONNX Runtime's CUDA provider is here (no TensorRT)",
        "onnxruntime": "no GPU backend here",
    }[name]
    if cpu_int8:
        return f"{why}; {_weights_text(art, machine)}; it passed the accuracy gate ({_gate_text(_gate(art, machine))})"
    if precision == "int8":
        return f"{why}; the int8 model passed the accuracy gate ({_gate_text(art.gate)})"
    cpu8 = bundle.artifacts.get("int8-cpu") if name == "onnxruntime" else None
    if cpu8 is not None and not _fits(cpu8, machine) and machine.cpu_kind in X86_16BIT:
        return (
            f"{why}; the CPU int8 model has {_bits_text(cpu8)}, which int8 kernels without VNNI "
            f"({kind_name(machine.cpu_kind)} here) can saturate ('lnet-edge calibrate' makes 7-bit ones, safe here)"
        )
    if cpu8 is not None and _fits(cpu8, machine) and not _passed(cpu8, machine):
        return f"{why}; the CPU int8 model failed its accuracy gate ({_gate_text(_gate(cpu8, machine))})"
    if name == "onnxruntime" and not machine.cpu_int8:
        return f"{why}; this CPU has no int8 dot-product instructions (VNNI), without which int8 kernels can saturate"
    return why


def _note(art: Artifact, machine: Here, bundle: Bundle) -> str:
    """One line for CPU int8 that runs at a risk (8-bit weights on an x86 CPU without VNNI, not
    gated there) or on another CPU kind than its gate's; "" otherwise."""
    here = gates_of(art).get(machine.cpu_kind) if machine.cpu_kind else None
    gate_here = f"'lnet-edge pack --gate-here -m {bundle.root} -d DATA' (validation image/mask folders)"
    at_risk = weight_bits(art) > 7 and not machine.cpu_int8 and machine.cpu_kind != "arm"
    if at_risk and not (here and here.get("passed")):
        return (
            f"{art.file} has {_bits_text(art)}, and runs on {kind_name(machine.cpu_kind)}: x86 int8 kernels without "
            "VNNI sum products in saturating 16-bit pairs, which 8-bit weights can overflow, losing landslides; gate "
            f"it on this CPU with {gate_here}, or recalibrate with 7-bit weights ('lnet-edge calibrate', then "
            "'lnet-edge pack')"
        )
    first = (art.gate or {}).get("cpu")
    if here is None and first and machine.cpu_kind and first != machine.cpu_kind:
        return (
            f"{art.file} passed its accuracy gate on {kind_name(first)} kernels, not on this CPU's "
            f"({kind_name(machine.cpu_kind)}); {gate_here} gates it here"
        )
    return ""


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
