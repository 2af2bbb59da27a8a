"""The fastest safe backend for a bundle on this machine.

The usable registered backends (runners.registry) in order of priority: TensorRT, TensorRT-RTX,
ONNX Runtime's CUDA provider, ONNX Runtime on the CPU. Each runs the bundle's artifacts in the
order of its entry's ``roles`` (TensorRT: int8 QDQ, else fp16, else fp32, the plan from the
engine cache, built on first use; the CUDA provider: fp16, else fp32), stopping at fp32 unless a
precision is asked for. On the CPU, the CPU int8 model runs where its weights cannot saturate
this CPU's int8 kernels (:mod:`lnet_edge.cpu_int8`): with 7-bit weights on any x86 CPU with AVX2
and on Arm CPUs with the dot product; with 8-bit weights (or when the bundle does not say) only on
CPUs with an int8 dot product (x86 VNNI, Arm's dot product); fp32 otherwise. README command 1
ran 1.60x faster with it than with fp32 on the 2-core AVX-512 VNNI development CPU
(bench/results/sample_run-89c1cb3e-avx512-vnni.json).

``--backend`` and ``--precision`` narrow the choice; an int8 artifact that failed its gate is
never chosen, and asking for it is refused with the gate's numbers unless forced. For the CPU
int8 model the gate that counts is the one run on this CPU's kind (``lnet-edge pack
--gate-here``), else the first; int8 that runs on another kind than its gate's, or with 8-bit
weights on an x86 CPU without VNNI (``--precision int8``), comes with one line saying so
(``Choice.note``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lnet_edge.artifacts import Precision, Role
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
from lnet_edge.runners.registry import BACKENDS, BackendSpec, automatic, backend_named


@dataclass(frozen=True)
class Here:
    """What this machine offers (measured by ``here()``, given by hand in tests)."""

    backends: frozenset[str]  # the registered backends usable here
    cpu_int8: str | None  # the int8 dot-product instructions (VNNI, Arm dot product), or None
    cpu_kind: str | None = None  # "avx512-vnni", "avx2", "arm-dotprod", ... (cpu_int8.cpu_kind)
    why_not: dict[str, str] = field(default_factory=dict)  # backend -> why it cannot run here

    @classmethod
    def from_facts(
        cls, cpu: dict, backends: Iterable[str] | None = None, why_not: dict[str, str] | None = None
    ) -> Here:
        """A machine with the CPU of ``cpu`` (``machine.cpu_facts()``: arch, flags) and ``backends``
        (default: every registered CPU backend, no GPU one)."""
        if backends is None:
            backends = (name for name, spec in BACKENDS.items() if spec.device == "cpu")
        kind = cpu_kind(cpu)
        return cls(frozenset(backends), kind_name(kind) if kind in DOT_PRODUCT else None, kind, why_not or {})


@dataclass(frozen=True)
class Choice:
    backend: str  # a registered backend
    precision: Precision
    role: Role  # the bundle artifact it runs
    reason: str
    note: str = ""  # one line the user should read before trusting the result, or ""

    def describe(self) -> str:
        return f"{self.backend} {self.precision.value} ({self.role.value}): {self.reason}"


def here() -> Here:
    """This CPU, and which registered backends that run a bundle's models work here."""
    from lnet_edge.machine import cpu_facts

    bundled = set(Role.bundled())
    found = {n: s.check() for n, s in BACKENDS.items() if bundled & set(s.roles)}
    usable = [n for n, a in found.items() if a.usable]
    return Here.from_facts(cpu_facts(), usable, {n: a.reason for n, a in found.items() if not a.usable})


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
    return gate_for(art, machine.cpu_kind) if art.role == Role.int8_cpu else art.gate


def _passed(art: Artifact, machine: Here) -> bool:
    gate = _gate(art, machine)
    return gate is None or bool(gate.get("passed", False))


def choose(
    bundle: Bundle, machine: Here, backend: str = "auto", precision: Precision | str | None = None, force: bool = False
) -> Choice:
    """The choice for ``bundle`` on ``machine`` (see the module docstring)."""
    precision = Precision(precision) if precision else None
    if precision is Precision.int8 and not force:
        for role in (r for r in Role.bundled() if r.is_onnx and r.precision is Precision.int8):
            if bundle.has(role) and not _passed(bundle.artifacts[role], machine):
                raise LnetError(
                    f"the int8 model {bundle.artifacts[role].file} of {bundle.root} failed its accuracy gate "
                    f"({_gate_text(_gate(bundle.artifacts[role], machine))}): use another --precision, or "
                    "--force-precision to run it anyway"
                )
    if backend == "auto":
        specs = [s for s in automatic() if s.name in machine.backends]
    else:
        specs = [backend_named(backend)]
        if backend not in machine.backends:
            usable = [s.name for s in automatic() if s.name in machine.backends]
            raise LnetError(
                f"--backend {backend}: {machine.why_not.get(backend, 'it cannot run here')} ('lnet-edge doctor' "
                f"says what runs here); use --backend auto{''.join(f' or {n}' for n in usable)}"
            )
    for spec in specs:
        for role in _roles(spec, bundle, machine, precision):
            art = bundle.artifacts[role]
            if not _passed(art, machine) and not force:
                continue
            reason = _reason(spec, role, art, machine, backend, precision, bundle)
            note = _note(art, machine, bundle) if role is Role.int8_cpu else ""
            return Choice(spec.name, role.precision, role, reason, note)
    raise LnetError(
        f"{bundle.root} has no {precision or ''} model that {backend if backend != 'auto' else 'this machine'} can run: "
        f"it holds {', '.join(sorted(bundle.artifacts))}"
    )


def _roles(spec: BackendSpec, bundle: Bundle, machine: Here, precision: Precision | None) -> list[Role]:
    """The bundle's artifacts ``spec`` would run here, best first: those of ``precision`` when it
    is asked for; else its roles up to fp32 (those after run slower than fp32 there), the CPU int8
    model only where its weights cannot saturate this CPU's int8 kernels."""
    if precision is not None:
        roles = [r for r in spec.roles if r.precision is precision]
    else:
        roles = list(spec.roles[: spec.roles.index(Role.fp32) + 1] if Role.fp32 in spec.roles else spec.roles)
        roles = [r for r in roles if r is not Role.int8_cpu or (bundle.has(r) and _fits(bundle.artifacts[r], machine))]
    return [r for r in roles if bundle.has(r)]


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


def _reason(
    spec: BackendSpec, role: Role, art, machine: Here, backend: str, asked: Precision | None, bundle: Bundle
) -> str:
    cpu_int8 = role is Role.int8_cpu
    if asked or backend != "auto":
        return "as asked (--backend/--precision)" + (f"; {_weights_text(art, machine)}" if cpu_int8 else "")
    why = spec.why or f"{spec.name} is the first usable backend here"
    if cpu_int8:
        return f"{why}; {_weights_text(art, machine)}; it passed the accuracy gate ({_gate_text(_gate(art, machine))})"
    if role.precision is Precision.int8:
        return f"{why}; the int8 model passed the accuracy gate ({_gate_text(art.gate)})"
    on_cpu8 = Role.int8_cpu in spec.roles  # a backend that would run the CPU int8 model says why it does not
    cpu8 = bundle.artifacts.get(Role.int8_cpu) if on_cpu8 else None
    if cpu8 is not None and not _fits(cpu8, machine) and machine.cpu_kind in X86_16BIT:
        return (
            f"{why}; the CPU int8 model has {_bits_text(cpu8)}, which int8 kernels without VNNI "
            f"({kind_name(machine.cpu_kind)} here) can saturate ('lnet-edge calibrate' makes 7-bit ones, safe here)"
        )
    if cpu8 is not None and _fits(cpu8, machine) and not _passed(cpu8, machine):
        return f"{why}; the CPU int8 model failed its accuracy gate ({_gate_text(_gate(cpu8, machine))})"
    if on_cpu8 and not machine.cpu_int8:
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
    spec = backend_named(choice.backend)
    path = bundle.path(choice.role)
    return spec.open(path, threads=threads, cuda_graph=cuda_graph, precision=choice.precision, say=say)[0]
