"""``lnet-edge pack --gate-here``: the accuracy gate of a bundle's CPU int8 model, re-run on this
machine's int8 kernels and recorded beside the first gate.

ONNX Runtime's int8 kernels differ by CPU kind (VNNI sums int8 products in 32 bits, AVX2 in
saturating 16-bit pairs: :mod:`lnet_edge.cpu_int8`), so a gate speaks for the kind it ran on.
The result goes into the int8-cpu entry's ``gates`` map of ``bundle.json`` under this CPU's
kind, with the tiles it scored and the IoU drop it allowed (the calibration's, from the
bundle's calibration report); the models and their sha256s do not change. It reads and rewrites
a bundle, so it sits above ``bundle``, not in ``calibration`` whose gate it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lnet_edge.artifacts import Role
from lnet_edge.bundle import INDEX, Bundle, read_bundle
from lnet_edge.calibration.gate import GateOptions, gate_scores
from lnet_edge.cpu_int8 import cpu_kind, cpu_view
from lnet_edge.errors import LnetError
from lnet_edge.export.tiles import batch_of, tiles_from_folders, tiles_sha256
from lnet_edge.files import write_text_atomic


def first_gate_options(bundle: Bundle) -> GateOptions:
    """The gate settings of the bundle's calibration (tiles, allowed IoU drop), else the defaults."""
    try:
        gate = json.loads(bundle.path(Role.calibration_report).read_text())["options"]["gate"]
        return GateOptions(tiles=int(gate["tiles"]), max_iou_drop=float(gate["max_iou_drop"]))
    except (KeyError, OSError, TypeError, ValueError):
        return GateOptions()


def gate_on_this_cpu(root: Path, data: list[Path]) -> dict:
    """Gate the CPU int8 model of the bundle at ``root`` on this CPU's kernels, against its fp32
    model, on the validation tiles of ``data``; record it in ``bundle.json`` and return it."""
    bundle = read_bundle(root)
    if not bundle.has(Role.int8_cpu):
        raise LnetError(
            f"bundle {root} holds no CPU int8 model (int8-cpu) to gate: remake it with 'lnet-edge pack -d DATA'"
        )
    options = first_gate_options(bundle)
    tiles = tiles_from_folders(data, bundle.config, "val", limit=options.tiles)
    masks = np.stack([t.mask for t in tiles])
    models = {Role.fp32.value: bundle.path(Role.fp32), Role.int8_cpu.value: bundle.path(Role.int8_cpu)}
    scores = gate_scores(models, batch_of(tiles, bundle.config), masks, bundle.config.threshold, options)
    gate = {
        **scores[Role.int8_cpu.value],
        "cpu": cpu_kind(),
        "max_iou_drop": options.max_iou_drop,
        "tiles": {"count": len(tiles), "side": "val", "sha256": tiles_sha256(tiles)},
    }
    view = cpu_view()  # AVX2 kernels on a CPU that has more
    if view:
        gate["cpu_view"] = view
    record_gate(Path(root), gate)
    return gate


def record_gate(root: Path, gate: dict) -> None:
    """Put ``gate`` into the int8-cpu entry's ``gates`` under its CPU kind (replacing an earlier
    gate of that kind) and rewrite ``bundle.json`` atomically; the first ``gate`` stays."""
    index = root / INDEX
    data = json.loads(index.read_text())
    entry = next(a for a in data["artifacts"] if a["role"] == Role.int8_cpu.value)
    entry["gates"] = {**(entry.get("gates") or {}), gate["cpu"]: gate}
    write_text_atomic(index, json.dumps(data, indent=1) + "\n")
    read_bundle(root)  # the rewritten index still proves itself
