"""The CPU int8 model and the CPU that runs it: weight range, CPU kind, and which runs where.

ONNX Runtime's x86 int8 kernels multiply u8 activations by s8 weights. With VNNI (AVX-512 VNNI,
AVX-VNNI) each product is summed in 32 bits, as with Arm's dot product. Without it (AVX2,
AVX-512BW alone) products are summed in pairs into saturating 16-bit lanes: 2 x 255 x 127 =
64770 overflows 32767, while 7-bit weights (``reduce_range``: symmetric weights in [-64, 64],
2 x 255 x 64 = 32640) cannot. So a model with 8-bit weights is safe only on CPUs with an int8
dot product, one with 7-bit weights on any x86 CPU with AVX2 too.

Calibration records the weight range as ``weight_bits`` (7 or 8) in the CPU int8 model's
manifest, and ``pack`` copies it into the model's ``bundle.json`` entry; an entry without it
counts as 8-bit. Each accuracy gate records the CPU kind whose kernels it ran on (``"cpu"``:
:func:`cpu_kind`); ``lnet-edge pack --gate-here`` adds the gate of this machine's kind to the
entry's ``gates`` map, beside the first gate (``gate``, the calibration's).
"""

from __future__ import annotations

from pathlib import Path

from lnet_edge.errors import LnetError

WEIGHT_BITS = "weight_bits"  # the key in the manifest and in the bundle.json entry
SEVEN_BIT_MAX = 64  # |weight| of symmetric 7-bit weights (ONNX Runtime's reduce_range: [-64, 64])

# CPU kinds, most capable first: (kind, the cpu_facts flag that marks it, a name for people)
KINDS = (
    ("avx512-vnni", "avx512_vnni", "AVX-512 VNNI"),
    ("avx-vnni", "avx_vnni", "AVX-VNNI"),
    ("arm-dotprod", "asimddp", "Arm dot product"),
    ("avx512", "avx512bw", "AVX-512 without VNNI"),
    ("avx2", "avx2", "AVX2 without VNNI"),
    ("arm", "asimd", "Arm without the dot product"),
    ("x86", None, "x86 without AVX2"),
)
DOT_PRODUCT = ("avx512-vnni", "avx-vnni", "arm-dotprod")  # int8 products summed in 32 bits
X86_16BIT = ("avx512", "avx2")  # u8 x s8 pairs summed in saturating 16-bit lanes


def cpu_kind(facts: dict | None = None) -> str:
    """The int8 instruction-set kind of a CPU (``cpu_facts()`` of this one by default): one of
    KINDS, else its architecture."""
    if facts is None:
        from lnet_edge.machine import cpu_facts

        facts = cpu_facts()
    flags = set(facts.get("flags") or ())
    kind = next((kind for kind, flag, _ in KINDS if flag in flags), None)
    arch = str(facts.get("arch") or "unknown").lower()
    if kind is None and arch in ("aarch64", "arm64"):
        return "arm"
    if kind is None and arch in ("x86_64", "amd64", "i386", "i686"):
        return "x86"
    return kind or arch


def kind_name(kind: str | None) -> str:
    return next((name for k, _, name in KINDS if k == kind), kind or "an unknown CPU")


def int8_fits(bits: int, kind: str | None, dot_product: bool) -> bool:
    """Whether int8 weights of ``bits`` bits run without saturation on CPUs of ``kind``."""
    return dot_product or kind in DOT_PRODUCT or (bits <= 7 and kind in X86_16BIT)


def bits_of_metadata(meta: dict | None) -> int | None:
    """The weight range an int8-cpu manifest records: ``weight_bits``, else its options'
    ``reduce_range``; None when it says neither."""
    meta = meta or {}
    if meta.get(WEIGHT_BITS) is not None:
        return meta[WEIGHT_BITS]
    reduce = (meta.get("options") or {}).get("reduce_range")
    return None if not isinstance(reduce, bool) else (7 if reduce else 8)


def weight_record(path: Path) -> dict:
    """The ``bundle.json`` entry keys for the int8-cpu model at ``path``: its ``weight_bits``
    when its manifest records them, else none (the bundle then counts it as 8-bit)."""
    from lnet_edge.onnx_meta import onnx_metadata

    bits = bits_of_metadata(onnx_metadata(path))
    if bits not in (None, 7, 8):
        raise LnetError(
            f"{path}: metadata field '{WEIGHT_BITS}' is {bits!r}, not 7 or 8: recalibrate ('lnet-edge calibrate')"
        )
    return {} if bits is None else {WEIGHT_BITS: bits}


def weight_bits(artifact) -> int:
    """The weight range of a bundle's int8-cpu artifact (8 when its entry does not say)."""
    return artifact.weight_bits or 8


def gates_of(artifact) -> dict[str, dict]:
    """Every accuracy gate of a bundle artifact by CPU kind: the first one (when it names its
    CPU), then those of ``pack --gate-here``."""
    first = artifact.gate if isinstance(artifact.gate, dict) and artifact.gate.get("cpu") else None
    return {**({first["cpu"]: first} if first else {}), **(artifact.gates or {})}


def gate_for(artifact, kind: str | None) -> dict | None:
    """The gate that speaks for CPUs of ``kind``: the one run on that kind, else the first."""
    return gates_of(artifact).get(kind, artifact.gate) if kind else artifact.gate


AS_AVX2 = "LNET_EDGE_AS_AVX2"  # set by scripts/as_avx2.sh: this CPU's AVX-512, VNNI and bf16 hidden


def cpu_view() -> str | None:
    """How scripts/as_avx2.sh shows this CPU (the real one and what it hides), or None outside it:
    records of runs under it (gates, benchmarks) say so beside the CPU kind."""
    import os

    view = os.environ.get(AS_AVX2)
    return f"scripts/as_avx2.sh: {view}" if view else None


def widest_weight(path: Path) -> tuple[str, int]:
    """(name, largest |value|) of the widest quantized weight tensor of an int8 QDQ model: the
    int8 initializers that DequantizeLinear nodes read as their data. Read from the wire format
    (onnx_wire); weights kept in an external file are read through the onnx package."""
    import numpy as np

    from lnet_edge.onnx_meta import read_wire
    from lnet_edge.onnx_wire import int8_weights

    weights = list(int8_weights(read_wire(path)))
    if any(values is None for _, values in weights):
        weights = _int8_weights_onnx(path)
    widest = ("", 0)
    for name, values in weights:
        peak = int(np.abs(values.astype(np.int16)).max()) if values.size else 0
        if peak > widest[1]:
            widest = (name, peak)
    return widest


def _int8_weights_onnx(path: Path) -> list:
    """(name, values) of the int8 initializers DequantizeLinear nodes read, through the onnx package."""
    from onnx import numpy_helper

    from lnet_edge.onnx_meta import load_onnx_graph

    graph = load_onnx_graph(path).graph
    inits = {i.name: i for i in graph.initializer}
    found = []
    for node in graph.node:
        init = inits.get(node.input[0]) if node.op_type == "DequantizeLinear" and node.input else None
        if init is not None and init.data_type == 3:  # TensorProto.INT8
            found.append((init.name, numpy_helper.to_array(init)))
    return found


def check_record(root: Path, artifact, measure: bool = True) -> None:
    """The int8-cpu entry of the bundle at ``root``: ``weight_bits`` is 7 or 8 (or absent),
    ``gates`` maps CPU kinds to gates, and (``measure``) a 7-bit claim, in the entry or in the
    model's own manifest, holds for every weight tensor of the model."""
    index = Path(root) / "bundle.json"
    remake = "restore the bundle from its original copy, or recalibrate and remake it ('lnet-edge pack')"
    if artifact.weight_bits not in (None, 7, 8):
        raise LnetError(f"{index}: {artifact.file} has weight_bits {artifact.weight_bits!r}, not 7 or 8: {remake}")
    if artifact.gates is not None and not (
        isinstance(artifact.gates, dict) and all(isinstance(g, dict) for g in artifact.gates.values())
    ):
        raise LnetError(f"{index}: the 'gates' of {artifact.file} are not a map of CPU kind to gate: {remake}")
    if not measure:
        return
    from lnet_edge.onnx_meta import onnx_metadata

    path = Path(root) / artifact.file
    claims = {"bundle.json": artifact.weight_bits, "its manifest": bits_of_metadata(onnx_metadata(path))}
    said = [where for where, bits in claims.items() if bits == 7]
    if not said:
        return
    name, peak = widest_weight(path)
    if peak > SEVEN_BIT_MAX:
        raise LnetError(
            f"bundle {root}: {artifact.file} (int8-cpu) says 7-bit weights ({' and '.join(said)}) but its weight "
            f"tensor {name} holds values up to {peak} (8-bit; 7-bit ones stay within +-{SEVEN_BIT_MAX}), which "
            f"x86 CPUs without VNNI can overflow: {remake}"
        )
