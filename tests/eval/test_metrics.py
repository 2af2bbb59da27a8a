import numpy as np
import pytest

from lnet_edge.eval.metrics import Confusion, confusion, flip_rate, scores


def test_confusion_and_scores_by_hand():
    target = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    pred = np.array([[1, 0, 1, 0], [1, 0, 0, 0]])
    c = confusion(pred, target)
    assert c == Confusion(tp=2, fp=1, fn=1, tn=4)
    s = scores(c)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert s["iou"] == pytest.approx(2 / 4)  # the paper's "MIoU": TP/(TP+FP+FN)
    assert s["iou_background"] == pytest.approx(4 / 6)
    assert s["miou2"] == pytest.approx((2 / 4 + 4 / 6) / 2)


def test_summed_confusion_is_not_mean_of_images():
    a = Confusion(tp=10, fp=0, fn=0, tn=90)
    b = Confusion(tp=0, fp=10, fn=0, tn=90)
    assert scores(a + b)["iou"] == pytest.approx(10 / 20)
    assert (scores(a)["iou"] + scores(b)["iou"]) / 2 == pytest.approx(0.5)
    assert scores(a + Confusion(tp=0, fp=0, fn=30, tn=70))["f1"] == pytest.approx(20 / 50)


def test_empty_cases_and_flip_rate():
    s = scores(Confusion(tn=100))
    assert s["iou"] == 1.0 and s["f1"] == 1.0
    assert scores(Confusion(fn=5, tn=95))["precision"] == 1.0
    assert scores(Confusion(fn=5, tn=95))["recall"] == 0.0
    assert flip_rate(np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])) == 0.5
