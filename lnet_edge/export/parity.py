"""Compare an artifact's logits with its parent's on the same real tiles, with stated tolerances.

Logits are compared, not probabilities: a sigmoid hides differences far from the threshold.
A check passes when max|diff| <= atol + rtol * max|reference| and the sign agreement (the
fraction of pixels on the same side of logit 0, i.e. probability 0.5) is at least ``min_sign``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from lnet_edge.contract import INPUT_NAME, OUTPUT_NAME
from lnet_edge.errors import LnetError
from lnet_edge.export.tiles import Tile, tiles_sha256

Logits = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    min_sign: float


FP32_TOLERANCE = Tolerance(atol=1e-3, rtol=1e-4, min_sign=0.9999)  # reordered float sums only
FP16_TOLERANCE = Tolerance(atol=5e-2, rtol=1e-2, min_sign=0.995)  # 11-bit mantissa through ~90 layers


@dataclass(frozen=True)
class ParityResult:
    shape: tuple[int, ...]
    max_abs_diff: float
    max_abs_reference: float
    sign_agreement: float
    allowed: float
    passed: bool

    def line(self) -> str:
        return (
            f"parity {'x'.join(map(str, self.shape))}: max |logit diff| {self.max_abs_diff:.3g} "
            f"(allowed {self.allowed:.3g}), sign agreement {100 * self.sign_agreement:.3f} %"
        )


def compare_logits(reference: np.ndarray, candidate: np.ndarray, tol: Tolerance) -> ParityResult:
    ref, cand = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    diff = float(np.max(np.abs(ref - cand))) if ref.size else 0.0
    peak = float(np.max(np.abs(ref))) if ref.size else 0.0
    sign = float(np.mean((ref > 0) == (cand > 0))) if ref.size else 1.0
    allowed = tol.atol + tol.rtol * peak
    ok = bool(np.isfinite(diff) and diff <= allowed and sign >= tol.min_sign)
    return ParityResult(tuple(ref.shape), diff, peak, sign, allowed, ok)


def check_parity(
    reference: Logits, candidate: Logits, batches: list[np.ndarray], tol: Tolerance, what: str
) -> list[dict]:
    """Run both on every batch; raise LnetError naming the batch and numbers on any failure."""
    results = []
    for batch in batches:
        ref = reference(batch)
        if not np.isfinite(ref).all():
            raise LnetError(f"{what}: the reference model outputs inf/NaN logits on real tiles; nothing was written")
        r = compare_logits(ref, candidate(batch), tol)
        results.append({**asdict(r), "shape": list(r.shape)})
        if not r.passed:
            raise LnetError(
                f"{what}: {r.line()} is outside the tolerance (max diff <= {tol.atol} + {tol.rtol} x "
                f"max|logit|, sign agreement >= {100 * tol.min_sign} %); nothing was written"
            )
    return results


def parity_record(reference: str, tol: Tolerance, checks: list[dict], tiles: list[Tile]) -> dict:
    """The ``parity`` entry of an artifact's metadata: what it was compared with, how, on which tiles."""
    return {"reference": reference, "tolerance": asdict(tol), "checks": checks, "tiles_sha256": tiles_sha256(tiles)}


def ort_logits(model_bytes_or_path, threads: int | None = None, simulate_qdq: bool = False) -> Logits:
    """A function batch -> logits through ONNX Runtime on the CPU (for parity and the gate)."""
    from lnet_edge.runners.onnxrt import ort_session

    session = ort_session(model_bytes_or_path, threads, simulate_qdq=simulate_qdq)
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch, np.float32)})[0]
