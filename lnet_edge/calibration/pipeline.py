"""``lnet-edge calibrate`` as one function: calibration set -> int8 QDQ (TensorRT), TensorRT
calibration cache, int8 CPU model -> accuracy gate (+ sensitivity, fallback) -> report.

Artifacts are built in a temporary folder inside ``out`` and renamed into place only after the
gate has passed, so a failed run leaves the report and nothing else.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from lnet_edge.artifacts import Role, check_targets
from lnet_edge.calibration.dataset import MIN_TILES, calibration_set_from_folders
from lnet_edge.calibration.gate import SIMULATED, GateOptions, gate_scores, run_logits, sensitivity
from lnet_edge.calibration.quantize import (
    CpuInt8Options,
    Method,
    QdqOptions,
    cpu_int8_from_onnx,
    qdq_from_onnx,
)
from lnet_edge.calibration.trt_cache import calibration_cache_from_qdq
from lnet_edge.cpu_int8 import WEIGHT_BITS, cpu_kind
from lnet_edge.errors import LnetError
from lnet_edge.export.manifest import (
    config_of,
    export_metadata,
    manifest_path,
    read_export_metadata,
    save_artifact,
)
from lnet_edge.export.tiles import Tile, batch_of, tiles_from_folders, tiles_sha256
from lnet_edge.files import sha256_file, write_text_atomic


@dataclass(frozen=True)
class CalibrateOptions:
    """Everything ``lnet-edge calibrate`` decides (saved in the report and each manifest)."""

    tiles: int = 32
    minimum: int = MIN_TILES
    qdq: QdqOptions = field(default_factory=QdqOptions)
    cpu: CpuInt8Options = field(default_factory=CpuInt8Options)
    gate: GateOptions = field(default_factory=GateOptions)
    trt_version: str = "10.3"  # the TensorRT the calibration cache is for (its TRT-<tag>- header)


MADE = (Role.int8_qdq, Role.int8_cpu, Role.calibration_cache, Role.calibration_report)


def artifact_paths(fp32: Path, out: Path) -> dict[Role, Path]:
    """Where calibrating ``fp32`` into ``out`` writes each artifact (the report's markdown: :func:`markdown_path`)."""
    stem = Path(fp32).name.removesuffix(Role.fp32.suffix)
    return {role: Path(out) / role.file(stem) for role in MADE}


def markdown_path(paths: dict[Role, Path]) -> Path:
    """The calibration report in markdown, beside its JSON."""
    return paths[Role.calibration_report].with_suffix(".md")


def _builders(fp32: Path, calib: np.ndarray, tmp: Path, options: CalibrateOptions) -> dict:
    """precision -> requantize(exclude, out): the model with ``exclude`` left in float."""

    def qdq(exclude: tuple[str, ...], out: Path) -> Path:
        opts = replace(options.qdq, exclude_nodes=tuple(exclude))
        return qdq_from_onnx(fp32, out, calib, tmp / "ranges-qdq.json", opts)

    def cpu(exclude: tuple[str, ...], out: Path) -> Path:
        opts = replace(options.cpu, exclude_nodes=tuple(exclude))
        return cpu_int8_from_onnx(fp32, out, calib, tmp / "ranges-cpu.json", opts)

    return {Role.int8_qdq: qdq, Role.int8_cpu: cpu}


def _fallback(name, build, fp32, models, order, gate_batch, masks, threshold, options, tmp) -> list[str]:
    """Leave the worst 1, 2, 4, ... Conv nodes of ``order`` in float until ``name`` passes the
    gate, at most ``fallback_max_layers`` of them; returns the nodes left in float."""
    order = order[: options.gate.fallback_max_layers]
    k, exclude = 1, ()
    ref = run_logits(fp32, gate_batch, options.gate.batch)
    while order and len(exclude) < len(order):
        exclude = tuple(order[: min(k, len(order))])
        models[name] = build(exclude, tmp / f"{name}.fallback-{len(exclude)}.onnx")
        result = gate_scores({"fp32": fp32, name: models[name]}, gate_batch, masks, threshold, options.gate, ref)
        if result[name]["passed"]:
            break
        k *= 2
    return list(exclude)


def calibration_from_onnx(
    fp32: Path,
    out: Path,
    data: list[Path],
    val_data: list[Path] | None = None,
    fp16: Path | None = None,
    options: CalibrateOptions = CalibrateOptions(),
    calibration_tiles: list[Tile] | None = None,
    overwrite: bool = False,
) -> dict:
    """Make and gate the int8 artifacts of an lnet-edge fp32 export; return the report.

    ``data``: image/mask folders whose training side gives the calibration set; ``val_data``
    (default ``data``): folders whose validation side gives the gate tiles. ``calibration_tiles``
    replaces the calibration set (tests use it to feed a deliberately bad one). Files at the
    output names that lnet-edge did not write are refused before any work, unless ``overwrite``.
    """
    t0 = time.perf_counter()
    meta = read_export_metadata(fp32, precision="fp32")
    if fp16 is not None:
        read_export_metadata(fp16, precision="fp16")
    config = config_of(meta)
    paths = artifact_paths(fp32, Path(out))
    made = [*paths.values(), markdown_path(paths), *(manifest_path(paths[r]) for r in (Role.int8_qdq, Role.int8_cpu))]
    check_targets(made, overwrite)
    calib_tiles, calib_summary = _calibration_tiles(data, config, options, calibration_tiles)
    gate_tiles = tiles_from_folders(val_data or data, config, "val", limit=options.gate.tiles)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".calibrate-") as tmpdir:
        tmp = Path(tmpdir)
        builders = _builders(fp32, batch_of(calib_tiles, config), tmp, options)
        models: dict[str, object] = {"fp32": fp32, **({"fp16": fp16} if fp16 else {})}
        for name, build in builders.items():
            models[name] = build((), tmp / f"{name}.onnx")
        report = {
            "fp32": Path(fp32).name,
            "options": asdict(options),
            "calibration": calib_summary,
            "gate_tiles": {
                "count": len(gate_tiles),
                "size": config.tile,
                "side": "val",
                "sha256": tiles_sha256(gate_tiles),
            },
        }
        report.update(_gate(models, builders, gate_tiles, config, options, tmp))
        report["gate"][Role.int8_cpu]["cpu"] = cpu_kind()  # it ran on this CPU's int8 kernels (cpu_int8.py)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        failed = [n for n, g in report["gate"].items() if not g["passed"]]
        if failed:
            write_report(report, paths)
            raise LnetError(_failure_message(report, failed, options, paths))
        _save_int8(models, meta, fp32, report, paths, options, overwrite)
        write_report(report, paths)
    return report


def _calibration_tiles(data, config, options: CalibrateOptions, given: list[Tile] | None) -> tuple[list[Tile], dict]:
    if given is not None:
        return given, {
            "tiles": len(given),
            "sha256": tiles_sha256(given),
            "keys": [t.key for t in given],
            "given": True,
        }
    cset = calibration_set_from_folders(data, config, options.tiles, options.qdq.batch, options.minimum)
    return cset.tiles, cset.summary()


def _gate(models: dict, builders: dict, tiles: list[Tile], config, options: CalibrateOptions, tmp: Path) -> dict:
    """Gate every model; sensitivity for each failing int8 model, fallback when asked."""
    batch, masks = batch_of(tiles, config), np.stack([t.mask for t in tiles])
    gate = gate_scores(models, batch, masks, config.threshold, options.gate)
    result = {"gate": gate, "sensitivity": {}, "fallback": {}}
    for name, build in builders.items():
        if gate[name]["passed"]:
            continue
        measured, rest = sensitivity(
            models["fp32"],
            models[name],
            build,
            batch[: options.gate.sensitivity_tiles],
            config.threshold,
            options.gate,
            tmp,
            name in SIMULATED,
        )
        result["sensitivity"][name] = measured
        if options.gate.auto_fallback:
            order = [r["node"] for r in measured] + rest
            result["fallback"][name] = _fallback(
                name, build, models["fp32"], models, order, batch, masks, config.threshold, options, tmp
            )
    if result["fallback"]:
        result["gate_before_fallback"] = gate
        result["gate"] = gate_scores(models, batch, masks, config.threshold, options.gate)
    return result


def _failure_message(report: dict, failed: list[str], options: CalibrateOptions, paths: dict) -> str:
    worst = {n: [r["node"] for r in report["sensitivity"].get(n, [])[:3]] for n in failed}
    fix = (
        "even with the worst layers left in float (--auto-fallback): the calibration set, not a few "
        "layers, is the problem; calibrate on representative tiles"
        if options.gate.auto_fallback
        else "rerun with --auto-fallback to leave them in float, or calibrate on more representative tiles"
    )
    return (
        f"accuracy gate failed for {', '.join(failed)} (landslide IoU more than {options.gate.max_iou_drop} "
        f"points below fp32); layers most responsible: {worst}; {fix}. Report: {markdown_path(paths)}; "
        "no int8 model was written"
    )


def _save_int8(
    models: dict, meta: dict, fp32: Path, report: dict, paths: dict, options: CalibrateOptions, overwrite: bool
) -> None:
    import onnx

    config = config_of(meta)
    parent = {"path": Path(fp32).name, "sha256": sha256_file(fp32)}
    for name, opts in ((Role.int8_qdq, options.qdq), (Role.int8_cpu, options.cpu)):
        proto = onnx.load(str(models[name]))
        left = report["fallback"].get(name, [])
        meta_i = export_metadata(
            config,
            name.value,
            meta["source_checkpoint_sha256"],
            source_checkpoint=meta.get("source_checkpoint"),
            opset=meta.get("opset"),
            parent=parent,
            options={**asdict(opts), "exclude_nodes": left},
            calibration=report["calibration"],
            gate=report["gate"][name],
            left_in_float=left,
            **({WEIGHT_BITS: 7 if options.cpu.reduce_range else 8} if name is Role.int8_cpu else {}),
        )
        if name is Role.int8_qdq:
            calibration_cache_from_qdq(
                proto, paths[Role.calibration_cache], Method(options.qdq.method).value, options.trt_version
            )
        save_artifact(proto, paths[name], meta_i, overwrite)


def write_report(report: dict, paths: dict) -> None:
    for path, text in (
        (paths[Role.calibration_report], json.dumps(report, indent=1, default=str)),
        (markdown_path(paths), report_markdown(report)),
    ):
        write_text_atomic(path, text + "\n")


def report_markdown(report: dict) -> str:
    g, cal, tiles = report["options"]["gate"], report["calibration"], report["gate_tiles"]
    lines = [
        f"# Calibration report: {report['fp32']}",
        "",
        f"Calibration set: {cal['tiles']} tiles, sha256 {cal['sha256'][:16]}...",
        f"Gate: {tiles['count']} validation tiles of {tiles['size']} px through ONNX Runtime (CPU); an int8 "
        f"model fails when its landslide IoU is more than {g['max_iou_drop']} points below fp32.",
        "",
        "| artifact | F1 | landslide IoU | IoU drop (points) | flip rate vs fp32 | gate |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in report["gate"].items():
        verdict = ("pass" if s["passed"] else "FAIL") if s.get("gated") else "-"
        lines.append(
            f"| {name} | {100 * s['f1']:.2f} | {100 * s['iou']:.2f} | {s['iou_drop_points']:.2f} | "
            f"{100 * s['flip_rate']:.3f} % | {verdict} |"
        )
    for name, rows in report["sensitivity"].items():
        lines += [
            "",
            f"## Layers most responsible ({name}, leave-one-out)",
            "",
            "| node | flip rate all int8 | flip rate with node in float | added rel. error |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['node']} | {100 * r['flip_rate_all_quantized']:.3f} % | "
            f"{100 * r['flip_rate_left_in_float']:.3f} % | {r['added_relative_error']:.3g} |"
            for r in rows
        ]
    for name, nodes in report["fallback"].items():
        lines += ["", f"Fallback ({name}): left in float: {', '.join(nodes) or 'none'}"]
    return "\n".join(lines)
