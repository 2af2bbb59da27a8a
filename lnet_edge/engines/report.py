"""What ``lnet-edge inspect PLAN`` prints: the manifest, and the layer precisions where possible."""

from __future__ import annotations

import json
from pathlib import Path

from lnet_edge.engines.manifest import Manifest, read_manifest


def manifest_lines(m: Manifest) -> list[str]:
    """A short human summary of a manifest."""
    c, p = m.config, m.options.profile
    gpu = (
        f"{m.build_gpu['name']} (compute capability {m.build_gpu['compute_capability']})"
        if m.build_gpu
        else "none (ahead-of-time build)"
    )
    return [
        f"flavour        {m.flavour} {m.trt_version}{' (version-compatible)' if m.options.version_compatible else ''}",
        f"precision      {m.precision} ({'strongly typed' if m.strongly_typed else 'builder flags'})",
        f"built on GPU   {gpu}",
        f"runs on        compute capability {', '.join(m.targets) or '?'}"
        + (f", hardware-compat {m.options.hardware_compat.value}" if m.options.hardware_compat.value != "none" else ""),
        f"profile        {p.describe()}",
        f"source ONNX    {m.source_onnx} (sha256 {m.onnx_sha256[:16]})",
        f"calibration    {m.calibration_sha256[:16] if m.calibration_sha256 else '-'}",
        f"model          {c.variant.value} {c.preset}, bands {list(c.band_names)}, tile {c.tile}, threshold {c.threshold}",
        f"normalisation  x*{c.norm.scale:.6g}, mean {list(c.norm.mean)}, std {list(c.norm.std)}"
        + (" (defaults: the ONNX had no lnet-edge metadata)" if m.metadata_defaulted else ""),
        f"network        {m.network.get('layers')} layers; tensor types {m.network.get('tensor_types')}",
        f"plan           {m.plan_bytes / 2**20:.1f} MiB, built in {m.build_seconds:.1f} s by lnet-edge {m.lnet_edge_version}",
    ]


def layer_precisions(plan: Path) -> list[str] | str:
    """One line per engine layer with its precision (engine inspector), or why it is unavailable.

    The inspector needs the plan deserialised, which needs the plan's TensorRT and a GPU it
    supports; without them this returns the reason as a string.
    """
    from lnet_edge.engines.check import check_plan
    from lnet_edge.engines.runtime import deserialize
    from lnet_edge.errors import LnetError

    try:
        manifest = check_plan(plan)
        trt, engine, _runtime = deserialize(plan, manifest)
    except LnetError as exc:
        return f"layer precisions unavailable: {exc}"
    inspector = engine.create_engine_inspector()
    info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    lines = []
    for layer in info.get("Layers", []):
        if isinstance(layer, str):
            lines.append(layer)
            continue
        outs = ", ".join(str(o.get("Format/Datatype", "?")) for o in layer.get("Outputs", []))
        lines.append(f"{layer.get('Name', '?')}  [{layer.get('LayerType', '?')}]  -> {outs}")
    return lines


def describe(plan: Path, layers: bool = True) -> str:
    m = read_manifest(plan)
    text = [str(plan), *("  " + line for line in manifest_lines(m))]
    if layers:
        got = layer_precisions(plan)
        text += ["layers:", *("  " + line for line in got)] if isinstance(got, list) else [got]
    return "\n".join(text)
