"""The bench report: field comparison, goal verdicts, and the three files (JSON, markdown, PNG).

Files: ``OUT/bench-<machine>.json``, ``.md`` and ``.png`` (throughput against batch, one line
per backend/precision/mode, one panel per tile size), drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lnet_edge.bench.field import versus_model
from lnet_edge.files import write_text_atomic

REFERENCE_TILE = 256
# Goals of the CPU recording, checked against the run itself.
ORT_VS_TORCH = 1.5
INT8_VS_ORT = 1.5
INT8_MAX_IOU_DROP = 1.0
FIELD_SHARE = 0.85


def _row(report: dict, key: str, batch: int, tile: int) -> dict | None:
    entry = next((e for e in report["entries"] if e["key"] == key and e["available"]), None)
    rows = [t for t in (entry or {}).get("timings", []) if t["batch"] == batch and t["tile"] == tile]
    return rows[0] if rows else None


def add_field_comparison(report: dict) -> None:
    """Put the model-only figures of the same entry, batch and tile beside each field result."""
    for e in report["entries"]:
        field = e.get("field")
        if field:
            model = _row(report, e["key"], field["batch"], field["tile"])
            field.update(versus_model(field, model["tiles_per_s"]))


def goals(report: dict) -> list[dict]:
    """The CPU goals, each with its measured value, target and verdict (None: not measured)."""
    b1 = {k: _row(report, k, 1, REFERENCE_TILE) for k in ("torch/fp32", "onnxruntime/fp32", "onnxruntime/int8-cpu")}

    def ratio(a: str, b: str) -> float | None:
        return b1[a]["tiles_per_s"] / b1[b]["tiles_per_s"] if b1[a] and b1[b] else None

    int8 = next((e.get("accuracy") for e in report["entries"] if e["key"] == "onnxruntime/int8-cpu"), None)
    drop = int8["iou_drop_points"] if int8 else None
    out = [
        {
            "goal": f"ONNX Runtime fp32 >= {ORT_VS_TORCH}x PyTorch eager fp32 (batch 1, {REFERENCE_TILE} px, mean)",
            "value": ratio("onnxruntime/fp32", "torch/fp32"),
            "target": ORT_VS_TORCH,
        },
        {
            "goal": f"CPU int8 >= {INT8_VS_ORT}x ONNX Runtime fp32 (batch 1, {REFERENCE_TILE} px, mean)",
            "value": ratio("onnxruntime/int8-cpu", "onnxruntime/fp32"),
            "target": INT8_VS_ORT,
        },
        {
            "goal": f"CPU int8 within {INT8_MAX_IOU_DROP} landslide-IoU point of fp32",
            "value": drop,
            "target": INT8_MAX_IOU_DROP,
            "lower_is_better": True,
        },
    ]
    for e in report["entries"]:
        if e.get("field"):
            out.append(
                {
                    "goal": f"field pipeline >= {FIELD_SHARE:.0%} of model-only tile throughput ({e['key']}, "
                    f"batch {e['field']['batch']})",
                    "value": e["field"]["field_share_of_model"],
                    "target": FIELD_SHARE,
                }
            )
    for g in out:
        v = g["value"]
        g["met"] = None if v is None else (v <= g["target"] if g.get("lower_is_better") else v >= g["target"])
    return out


def _f(v, fmt: str = ".1f", scale: float = 1.0) -> str:
    return "-" if v is None else format(v * scale, fmt)


def _machine_line(m: dict) -> str:
    cpu, gpu, jet = m["cpu"], m.get("gpu"), m.get("jetson")
    line = (
        f"CPU: {cpu['model']} ({cpu['arch']}), {cpu['logical_cores']} logical cores "
        f"({cpu['usable_cores']} usable), flags: {' '.join(cpu['flags']) or 'none of note'}; "
        f"memory {cpu['memory_mib']} MiB."
    )
    line += (
        f" GPU: {gpu['name']} (compute capability {gpu['compute_capability']}), driver {gpu['driver']}."
        if gpu
        else " GPU: none visible."
    )
    if jet:
        line += (
            f" Jetson {jet['release']}; power mode: {jet['power_mode']}; CPU0 {jet['cpu0_khz']} kHz; "
            f"GPU {jet['gpu_hz']} Hz."
        )
    v = m["versions"]
    return line + " Versions: " + ", ".join(f"{k} {v[k]}" for k in v if v[k]) + "."


def _timing_lines(report: dict) -> list[str]:
    gsd = report["options"]["gsd_m"]
    lines = [
        "| backend | precision | batch | tile | mode | runs | p50 ms | p90 ms | p99 ms | mean ms | tiles/s | "
        f"km²/s @ {gsd} m | J/tile | size MB | build s | peak RSS MiB | F1 | IoU | background marked | "
        "flip vs ORT fp32 |",
        "|" + "---|" * 20,
    ]
    for e in report["entries"]:
        if not e["available"]:
            continue
        a = e.get("accuracy") or {}
        for t in e["timings"]:
            lines.append(
                f"| {e['backend']} | {e['precision']} | {t['batch']} | {t['tile']} | {t['mode']} | {t['runs']} | "
                f"{t['p50_ms']:.1f} | {t['p90_ms']:.1f} | {t['p99_ms']:.1f} | {t['mean_ms']:.1f} | "
                f"{t['tiles_per_s']:.2f} | {t['km2_per_s']:.4f} | {_f(t.get('energy_j_per_tile'), '.3f')} | "
                f"{_f(e['size_bytes'], '.1f', 1e-6)} | {_f(e['build_seconds'])} | {e['peak_rss_mib']:.0f} | "
                f"{_f(a.get('f1'), '.2f', 100)} | {_f(a.get('iou'), '.2f', 100)} | "
                f"{_f(a.get('false_alarm_pixels'), '.2f', 100)} % | {_f(a.get('flip_rate'), '.3f', 100)} % |"
            )
    return lines


def markdown(report: dict) -> str:
    o, v = report["options"], report["validation"]
    art = report["artifacts"]
    lines = [
        f"# lnet-edge bench on {report['machine_tag']}",
        "",
        f"Command: `{report['command']}`  ",
        f"Created: {report['created']}",
        "",
        _machine_line(report["machine"]),
        f"Load average before / after: {', '.join(f'{x:.2f}' for x in report['machine']['load_average'])} / "
        f"{', '.join(f'{x:.2f}' for x in report['load_average_after'])} "
        "(other processes slow every backend alike).",
        "",
        f"Weights: {Path(art['checkpoint']).name} (sha256 {art['checkpoint_sha256'][:12]}), "
        f"{report['model']['preset']} {report['model']['variant']}; every artifact derived from it.",
        f"Sweep: batch {o['batches']}, tile {o['tiles']}, {o['warmup']} warm-up calls (excluded) then {o['runs']} "
        f"timed calls each; threads {o['threads'] or 'runtime default'}; each entry in its own process.",
        f"Accuracy: {v['tiles']} validation tiles of {v['size']} px (cap {v['cap']}, lowest key hash first) from "
        f"{', '.join(v['folders'])}; flip rate against ONNX Runtime fp32.",
        "",
        *_timing_lines(report),
        "",
    ]
    lines += [
        "tiles/s = batch / mean latency; km²/s = tiles/s x (tile x gsd)² (no overlap). Peak RSS: the worker "
        "process's high-water mark (VmHWM) over load and sweep (Python, NumPy and the runtime library "
        "included). Build s: "
        "export / fp16 conversion / calibration (both int8 models and the gate, together) or the TensorRT plan "
        "build; 0 for the checkpoint. GPU rows: `with_copies` (host in, host out) and `compute` (input already "
        "on the device); GPU memory is in the JSON (`gpu_used_delta_mib`, cudaMemGetInfo).",
        "",
    ]
    off = [e for e in report["entries"] if not e["available"]]
    if off:
        lines += ["## Not available here", "", "| backend | precision | reason |", "|---|---|---|"]
        lines += [f"| {e['backend']} | {e['precision']} | {e['reason']} |" for e in off]
        lines.append("")
    fields = [e for e in report["entries"] if e.get("field")]
    if fields:
        f0 = fields[0]["field"]
        lines += [
            f"## Field pipeline: {Path(f0['scene']).name} ({f0['height']} x {f0['width']} px, "
            f"{f0['scene_area_km2']:.4f} km² from {f0['area_from']}, {f0['tiles_run']} tiles, overlap "
            f"{f0['overlap']}; median of {f0['repeats']} passes after one warm-up pass)",
            "",
            "| backend | precision | batch | field s | of which model s | field tiles/s | field km²/s | "
            "model tiles/s | model km²/s (this tiling) | field / model |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in fields:
            f = e["field"]
            lines.append(
                f"| {e['backend']} | {e['precision']} | {f['batch']} | {f['median_seconds']:.2f} | "
                f"{f['median_model_seconds']:.2f} | "
                f"{f['tiles_per_s']:.2f} | {f['km2_per_s']:.4f} | {f['model_tiles_per_s']:.2f} | "
                f"{f['model_km2_per_s_this_tiling']:.4f} | {100 * f['field_share_of_model']:.0f} % |"
            )
        lines += [
            "",
            "Model-only: the sweep's figure at the same batch and tile. The pipeline batches tiles within "
            "one tile row, so a row whose tile count is not a multiple of the batch ends in a smaller batch: "
            "the model-only figure is an upper bound for it. 'Of which model s': the time inside the pipeline's "
            "runner calls (tile batching, inference, sigmoid); the rest is reading, blending, writing, "
            "vectorising and the quicklook.",
            "",
        ]
    lines += ["## Goals", "", "| goal | measured | target | met |", "|---|---|---|---|"]
    lines += [
        f"| {g['goal']} | {_f(g['value'], '.2f')} | {g['target']} | "
        f"{'-' if g['met'] is None else ('yes' if g['met'] else 'NO')} |"
        for g in report["goals"]
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    from lnet_edge.lazy import lazy_import

    lazy_import("matplotlib").use("Agg")
    import matplotlib.pyplot as plt

    tiles = report["options"]["tiles"]
    fig, axes = plt.subplots(1, len(tiles), figsize=(6 * len(tiles), 4.5), squeeze=False)
    for ax, tile in zip(axes[0], tiles):
        for e in (e for e in report["entries"] if e["available"]):
            for mode in dict.fromkeys(t["mode"] for t in e["timings"]):
                pts = sorted(
                    (t["batch"], t["tiles_per_s"]) for t in e["timings"] if t["tile"] == tile and t["mode"] == mode
                )
                label = e["key"] + ("" if mode == "cpu" else f" ({mode})")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set(title=f"{tile} x {tile} px", xlabel="batch", ylabel="tiles / s", xticks=report["options"]["batches"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"lnet-edge bench: throughput on {report['machine_tag']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(report: dict, out: Path) -> dict[str, Path]:
    """Write bench-<machine>.json/.md/.png under ``out`` (each via a temporary name and rename)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench-{report['machine_tag']}"
    paths = {"json": stem.with_suffix(".json"), "md": stem.with_suffix(".md"), "png": stem.with_suffix(".png")}
    for kind, text in (("json", json.dumps(report, indent=1, default=str) + "\n"), ("md", markdown(report))):
        write_text_atomic(paths[kind], text)
    tmp = paths["png"].with_name(paths["png"].stem + ".tmp.png")
    plot(report, tmp)
    os.replace(tmp, paths["png"])
    return paths
