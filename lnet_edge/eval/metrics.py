"""Binary segmentation metrics from a confusion matrix.

The paper's "MIoU" (Dong et al. 2022, eq. 7) is TP/(TP+FP+FN) of the landslide class; we call
it ``iou`` (landslide IoU). ``miou2`` is the usual two-class mean IoU, (IoU_landslide +
IoU_background) / 2. Empty denominators: a ratio whose numerator and denominator are both zero
(nothing predicted and nothing there) counts as 1.0, a perfect score on that term.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def confusion(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> Confusion:
    """Counts of pred (bool-like) against target (bool-like), landslide = positive; only the
    ``valid`` pixels count (all of them when None)."""
    p, t = np.asarray(pred).astype(bool), np.asarray(target).astype(bool)
    if valid is not None:
        v = np.asarray(valid, bool)
        p, t = p[v], t[v]
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    return Confusion(tp, fp, fn, int(p.size) - tp - fp - fn)


def _ratio(num: int, den: int) -> float:
    return 1.0 if den == 0 else num / den


def scores(c: Confusion) -> dict[str, float]:
    """precision, recall, f1, iou (landslide, the paper's MIoU), iou_background, miou2."""
    precision = _ratio(c.tp, c.tp + c.fp)
    recall = _ratio(c.tp, c.tp + c.fn)
    f1 = _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)
    iou = _ratio(c.tp, c.tp + c.fp + c.fn)
    iou_bg = _ratio(c.tn, c.tn + c.fp + c.fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "iou": iou,
        "iou_background": iou_bg,
        "miou2": (iou + iou_bg) / 2,
    }


def flip_rate(pred: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of pixels whose binary decision differs from a reference prediction."""
    return float(np.count_nonzero(np.asarray(pred, bool) != np.asarray(reference, bool)) / pred.size)
