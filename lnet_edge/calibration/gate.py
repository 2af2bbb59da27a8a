"""The accuracy gate: every artifact scored through ONNX Runtime on the CPU on real validation
tiles, against the ground truth (F1, landslide IoU) and against the fp32 model (pixel flip rate).

An int8 artifact fails when its landslide IoU is more than ``max_iou_drop`` points below the
fp32 model's. A failing artifact gets a sensitivity pass in two steps: a screen (one run of the
fp32 and int8 models with every tensor exposed; each Conv is ranked by how much relative error
it adds, error(output) - error(data input)), then leave-one-out on the ``sensitivity_layers``
worst: re-quantize with that Conv left in float (ranges are cached, no re-calibration) and
measure the flip rate against fp32. ``auto_fallback`` leaves the worst 1, 2, 4, ... layers in
float until the gate passes.

The TensorRT int8 QDQ model is scored with its quantize/dequantize pairs simulated around float
operators (``SIMULATED``), which is the arithmetic TensorRT's int8 kernels carry out (int32
sums). ONNX Runtime's own x86 int8 kernels would give it another verdict on each CPU: without
VNNI they multiply in saturating 16-bit pairs (on a 2-core AVX2 CPU a small model's landslide
IoU fell from 32 to 1 that way). The CPU int8 model runs on the real kernels: it is the one that
will run on them (and is quantized with 7-bit weights, which do not saturate: quantize.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.config import logit
from lnet_edge.eval.metrics import confusion, flip_rate, scores
from lnet_edge.export.parity import ort_logits


@dataclass(frozen=True)
class GateOptions:
    """Accuracy gate settings (saved in the calibration report)."""

    tiles: int = 48  # validation tiles of the config's size, lowest key hash first (~20 s on 2 cores)
    max_iou_drop: float = 1.0  # landslide IoU points below fp32
    batch: int = 8
    sensitivity_tiles: int = 8
    sensitivity_layers: int = 12  # leave-one-out candidates after the screen
    auto_fallback: bool = False
    fallback_max_layers: int = 16  # beyond this the calibration is wrong, not a few layers


SIMULATED = {"int8-qdq"}  # artifacts scored with quantize/dequantize simulated in float


def run_logits(model, batch: np.ndarray, size: int, simulate_qdq: bool = False) -> np.ndarray:
    """Logits of a model (path or bytes) on ``batch``, ``size`` tiles per call."""
    fn = ort_logits(model, simulate_qdq=simulate_qdq)
    return np.concatenate([fn(batch[i : i + size]) for i in range(0, len(batch), size)])


def score(logits: np.ndarray, masks: np.ndarray, reference: np.ndarray | None, threshold: float) -> dict:
    """F1 and landslide IoU against ``masks``; flip rate against ``reference`` predictions;
    ``false_alarm_pixels``: the share of background pixels (mask 0) marked."""
    pred = logits[:, 0] > logit(threshold)
    c = confusion(pred, masks)
    s = scores(c)
    return {
        "false_alarm_pixels": c.fp / (c.fp + c.tn) if c.fp + c.tn else 0.0,
        "f1": s["f1"],
        "iou": s["iou"],
        "precision": s["precision"],
        "recall": s["recall"],
        "flip_rate": flip_rate(pred, reference) if reference is not None else 0.0,
    }


def gate_scores(
    models: dict[str, object],
    batch: np.ndarray,
    masks: np.ndarray,
    threshold: float,
    options: GateOptions,
    ref_logits: np.ndarray | None = None,
) -> dict[str, dict]:
    """Scores of each model ("fp32" first), with the gate verdict of every int8 model.
    ``ref_logits``: the fp32 logits on ``batch`` when already known."""
    if ref_logits is None:
        ref_logits = run_logits(models["fp32"], batch, options.batch)
    ref = ref_logits[:, 0] > logit(threshold)
    base = score(ref_logits, masks, None, threshold)
    out = {"fp32": {**base, "iou_drop_points": 0.0, "passed": True}}
    for name, model in models.items():
        if name == "fp32":
            continue
        s = score(run_logits(model, batch, options.batch, name in SIMULATED), masks, ref, threshold)
        drop = 100 * (base["iou"] - s["iou"])
        gated = name.startswith("int8")
        out[name] = {
            **s,
            "iou_drop_points": drop,
            "passed": (drop <= options.max_iou_drop) if gated else True,
            "gated": gated,
        }
    return out


def _all_outputs(model_path: Path, names: list[str]) -> bytes:
    import onnx

    model = onnx.load(str(model_path))
    have = {o.name for o in model.graph.output}
    for n in names:
        if n not in have:
            model.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


def _node_outputs(path: Path) -> set[str]:
    import onnx

    return {o for n in onnx.load(str(path), load_external_data=False).graph.node for o in n.output}


def screen(fp32: Path, int8: Path, batch: np.ndarray, simulate_qdq: bool = False) -> list[tuple[str, float]]:
    """Conv nodes ranked by the relative error they add in the int8 model (worst first).

    The u8 quantizer drops a ReLU that follows a Conv (the uint8 range clips at 0), so a ReLU
    output missing from the int8 graph is compared as ReLU(its input) there.
    """
    import onnx

    graph = onnx.load(str(fp32)).graph
    present = _node_outputs(int8) | {"image"}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def where(t: str) -> tuple[str, str, bool] | None:
        """(fp32 tensor, int8 tensor, apply ReLU to the int8 value) to compare for ``t``."""
        if t in present:
            return t, t, False
        prev, nxt = producer.get(t), consumers.get(t, [])
        if prev is not None and prev.op_type == "Relu" and prev.input[0] in present:
            return t, prev.input[0], True
        if len(nxt) == 1 and nxt[0].op_type == "Relu" and nxt[0].output[0] in present:
            return nxt[0].output[0], nxt[0].output[0], False
        return None

    convs = [(n.name, where(n.input[0]), where(n.output[0])) for n in graph.node if n.op_type == "Conv"]
    convs = [c for c in convs if c[1] and c[2]]
    f = _run_all(fp32, sorted({w[0] for c in convs for w in c[1:]}), batch)
    q = _run_all(int8, sorted({w[1] for c in convs for w in c[1:]}), batch, simulate_qdq)

    def err(w: tuple[str, str, bool]) -> float:
        if w[0] == "image":
            return 0.0
        qv = np.maximum(q[w[1]], 0) if w[2] else q[w[1]]
        return float(np.linalg.norm(qv - f[w[0]]) / (np.linalg.norm(f[w[0]]) + 1e-12))

    return sorted(((name, err(out) - err(inp)) for name, inp, out in convs), key=lambda r: -r[1])


def _run_all(path: Path, names: list[str], batch: np.ndarray, simulate_qdq: bool = False) -> dict[str, np.ndarray]:
    from lnet_edge.runners.onnxrt import ort_session

    names = [n for n in names if n != "image"]
    sess = ort_session(_all_outputs(path, names), simulate_qdq=simulate_qdq)
    return dict(zip(names, sess.run(names, {"image": batch})))


def sensitivity(
    fp32: Path,
    int8: Path,
    requantize: Callable[[tuple[str, ...], Path], Path],
    batch: np.ndarray,
    threshold: float,
    options: GateOptions,
    tmp: Path,
    simulate_qdq: bool = False,
) -> tuple[list[dict], list[str]]:
    """Leave-one-out on the screened worst Conv nodes: the flip rate vs fp32 with each left in
    float, most responsible (largest flip reduction) first; then the other Conv nodes in screen
    order (the fallback order beyond the measured ones)."""
    cut = logit(threshold)
    ref = run_logits(fp32, batch, options.batch)[:, 0] > cut
    base = flip_rate(run_logits(int8, batch, options.batch, simulate_qdq)[:, 0] > cut, ref)
    screened = screen(fp32, int8, batch, simulate_qdq)
    rows = []
    for name, added in screened[: options.sensitivity_layers]:
        model = requantize((name,), tmp / "leave-one-out.onnx")
        flips = flip_rate(run_logits(model, batch, options.batch, simulate_qdq)[:, 0] > cut, ref)
        rows.append(
            {
                "node": name,
                "added_relative_error": added,
                "flip_rate_all_quantized": base,
                "flip_rate_left_in_float": flips,
                "flip_reduction": base - flips,
            }
        )
    rows.sort(key=lambda r: (-r["flip_reduction"], -r["added_relative_error"]))
    return rows, [name for name, _ in screened[options.sensitivity_layers :]]
