"""The scene gate: in the network, in its checkpoint and ONNX export, and how it is fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.model.gate import GATED_LOGIT, descriptor_size
from lnet_edge.model.lnet import LNet
from lnet_edge.train.scene_gate import SCORED, Scored, choose, fit_logistic, grid


def gated(bias: float, preset: str = "edge-xs", weight: torch.Tensor | None = None, floor: float | None = None,
          threshold: float = 0.6) -> LNet:  # fmt: skip
    torch.manual_seed(0)
    model = LNet(ModelConfig(preset=preset, scene_gate=0.5, scene_gate_floor=floor, threshold=threshold)).eval()
    with torch.no_grad():
        model.gate.linear.weight.zero_()
        if weight is not None:
            model.gate.linear.weight.copy_(weight)
        model.gate.linear.bias.fill_(bias)
    return model


def test_a_passing_gate_leaves_the_logits_and_a_shut_one_empties_the_window():
    x = torch.randn(2, 3, 128, 96)
    ungated = LNet(ModelConfig(preset="edge-xs")).eval()
    with torch.no_grad():
        opened, shut = gated(+5.0), gated(-5.0)
        ungated.load_state_dict({k: v for k, v in opened.state_dict().items() if not k.startswith("gate.")})
        plain = ungated(x)
        assert torch.equal(opened(x), plain)
        assert torch.equal(shut(x), torch.full_like(plain, GATED_LOGIT))
        logits, d = opened.ungated(x, with_descriptor=True)
    assert torch.equal(logits, plain)
    assert d.shape == (2, descriptor_size(opened.config.widths))
    p = torch.sigmoid(plain).flatten(1)  # the last three numbers are the logits' own statistics
    torch.testing.assert_close(d[:, -3:], torch.stack([p.amax(1), p.mean(1), (p > 0.5).float().mean(1)], 1))


def test_the_descriptor_weighs_each_feature_map_by_the_landslide_probability_on_its_grid():
    from lnet_edge.model.gate import describe

    logits = torch.full((1, 1, 16, 16), -20.0)
    logits[..., :8] = 20.0  # the left half marked
    fine, coarse = torch.ones(1, 2, 16, 16), torch.ones(1, 2, 4, 4)  # stride 1 and stride 4
    fine[:, 0, :, :8], coarse[:, 0, :, :2] = 5.0, 5.0  # channel 0 high where marked
    zero = torch.zeros(1, 1, 2, 2)
    d = describe([coarse, zero, zero[..., :1, :1], fine], logits)
    assert d.shape == (1, 3 * (2 + 1 + 1 + 2) + 3)
    torch.testing.assert_close(d[0, :6], torch.tensor([3.0, 1.0, 5.0, 1.0, 5.0, 1.0]))  # mean, max, weighted
    torch.testing.assert_close(d[0, -5:-3], torch.tensor([5.0, 1.0]))  # the stride-1 map's weighted mean
    torch.testing.assert_close(d[0, -3:], torch.tensor([1.0, 0.5, 0.5]))


def test_a_gate_fitted_before_the_weighted_means_still_loads_and_reads_mean_and_max(tmp_path: Path):
    from lnet_edge.model.checkpoint import load_model, save_checkpoint
    from lnet_edge.model.gate import describe

    old = {k: v for k, v in ModelConfig(scene_gate=0.5).to_dict().items() if k != "scene_gate_descriptor"}
    config = ModelConfig.from_dict(old)  # as such a checkpoint's configuration reads
    assert config.scene_gate_descriptor == "mean-max"
    assert ModelConfig.from_dict({**old, "scene_gate": None}).scene_gate_descriptor == "weighted"
    model = LNet(config).eval()
    assert model.gate.linear.in_features == descriptor_size(config.widths, weighted=False) == 931
    save_checkpoint(tmp_path / "old.pt", {"config": old, "state_dict": model.state_dict()})
    loaded, _ = load_model(tmp_path / "old.pt")
    with torch.no_grad():
        assert loaded.ungated(torch.randn(1, 3, 64, 64), with_descriptor=True)[1].shape == (1, 931)
    fine = torch.ones(1, 2, 8, 8)
    plain = describe([fine, fine, fine, fine], torch.zeros(1, 1, 8, 8), weighted=False)
    assert plain.shape == (1, 4 * 2 * 2 + 3)
    with pytest.raises(LnetError, match="scene_gate_descriptor"):
        ModelConfig(scene_gate_descriptor="median")


def test_a_fitted_gate_is_written_for_the_descriptor_it_was_fitted_on(tmp_path: Path):
    from lnet_edge.model.checkpoint import load_model, save_checkpoint
    from lnet_edge.train.scene_gate import gated_checkpoint

    plain = LNet(ModelConfig(preset="edge-xs"))
    config = {k: v for k, v in plain.config.to_dict().items() if k != "scene_gate_descriptor"}  # an older checkpoint
    n = descriptor_size(plain.config.widths)
    row = {"cut": 0.6, "threshold": 0.55, "floor": None, "precision": 0.5, "recall": 0.5, "f1": 0.5, "iou": 0.3,
           "iou_background": 0.9, "miou2": 0.6, "per_set": {"a": 0.5}, "fa_pixels": 0.01, "fa_images": 0.1}  # fmt: skip
    ckpt = gated_checkpoint({"config": config, "state_dict": plain.state_dict()}, np.zeros(n), -1.0, row, {})
    save_checkpoint(tmp_path / "g.pt", ckpt)
    model, _ = load_model(tmp_path / "g.pt")
    assert model.config.scene_gate_descriptor == "weighted" and model.gate.linear.in_features == n
    assert model.config.scene_gate == 0.6 and model.config.threshold == 0.55


def test_each_window_is_judged_on_its_own():
    # score = share of pixels over 0.5, cut 0.5: a window is kept only where the model marks most of it
    w = torch.zeros(1, descriptor_size(ModelConfig(preset="edge-xs").widths))
    w[0, -1] = 100.0
    model = gated(-50.0, weight=w)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        shares = (model.ungated(x)[0] > 0).float().mean((1, 2, 3))
        out = model(x)
        for i in range(3):
            kept = not torch.all(out[i] == GATED_LOGIT)
            assert kept == bool(shares[i] >= 0.5)
            torch.testing.assert_close(model(x[i : i + 1]), out[i : i + 1], atol=1e-5, rtol=0)


def test_a_shut_window_with_a_floor_keeps_exactly_its_pixels_at_or_over_the_floor():
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        model = gated(-5.0, floor=0.5, threshold=0.3)  # an untrained head: probabilities near 0.5
        plain, out = model.ungated(x)[0], model(x)
    kept = torch.sigmoid(out) > 0.3  # the stored threshold
    assert torch.equal(kept, torch.sigmoid(plain) > 0.5)
    assert 0 < kept.float().mean() < 1  # some pixels either side, so the check could fail


@pytest.mark.parametrize("cut", [0.0, 1.0, -0.2, float("nan"), "0.5"])
def test_a_cut_outside_zero_one_is_refused_by_name(cut):
    with pytest.raises(LnetError, match="scene_gate"):
        ModelConfig(scene_gate=cut)


def test_checkpoints_without_a_gate_still_load_and_the_gate_stays_full_precision(tmp_path: Path):
    from lnet_edge.model.checkpoint import load_model, read_checkpoint, release_checkpoint, save_checkpoint

    assert (
        ModelConfig.from_dict({k: v for k, v in ModelConfig().to_dict().items() if k != "scene_gate"}).scene_gate
        is None
    )
    model = gated(0.3)
    save_checkpoint(tmp_path / "g.pt", {"config": model.config.to_dict(), "state_dict": model.state_dict()})
    release_checkpoint(tmp_path / "g.pt", tmp_path / "r.pt")
    state = read_checkpoint(tmp_path / "r.pt")["state_dict"]
    assert state["gate.linear.bias"].dtype == torch.float32 and state["head.weight"].dtype == torch.float16
    loaded, _ = load_model(tmp_path / "r.pt")
    assert loaded.config.scene_gate == 0.5 and loaded.gate.linear.bias.item() == pytest.approx(0.3)


def test_the_exported_model_carries_the_gate(tmp_path: Path, shared_data: Path):
    import onnxruntime as ort

    from lnet_edge.export.onnx_export import onnx_from_checkpoint
    from lnet_edge.model.checkpoint import save_checkpoint

    x = torch.randn(1, 3, 96, 128)
    for bias, floor in ((+5.0, None), (-5.0, None), (-5.0, 0.9)):
        model = gated(bias, floor=floor)
        save_checkpoint(tmp_path / "g.pt", {"config": model.config.to_dict(), "state_dict": model.state_dict()})
        path = onnx_from_checkpoint(
            tmp_path / "g.pt", tmp_path / f"g{bias}{floor}.onnx", [shared_data / "sichuan_aerial_atlan1024"]
        )
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        y = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            np.testing.assert_allclose(y, model(x).numpy(), atol=1e-4)
            plain = model.ungated(x)[0].numpy()
        assert (y == GATED_LOGIT).all() == (bias < 0 and floor is None)
        if floor is not None:  # lowered, not emptied
            np.testing.assert_allclose(y, plain - model.gate.shift, atol=1e-4)


def test_the_logistic_fit_separates_and_folds_its_standardisation_back():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.5
    x = np.c_[rng.normal(size=(400, 3)) * [1.0, 50.0, 0.01] + 1000.0, np.full(400, 7.0)]  # a constant column too
    x[:, 0] += np.where(y, 2.0, -2.0)  # only the first feature tells
    b, b0 = fit_logistic(x, y, np.ones(400), c=1.0)
    assert np.mean((x @ b + b0 > 0) == y) > 0.95
    assert abs(b[0]) > 10 * max(abs(b[1]) * 50, abs(b[2]) * 0.01)  # per standard deviation
    weak, _ = fit_logistic(x, y, np.ones(400), c=1e-4)
    assert abs(weak[0]) < abs(b[0])  # a stronger penalty, smaller weights


def scored(folder: str, tp: int, fn: int, marked: int = 0, negative: bool = False, sure: tuple | None = None) -> Scored:
    """An image's counts at every probability; ``sure`` = (tp, marked) from 0.9 up (default: as below)."""
    tp_hi, marked_hi = sure or (tp, marked)
    counts = np.array(
        [[tp, marked, fn, 1000 - tp - fn - marked] if p < 0.9 else [tp_hi, marked_hi, tp + fn - tp_hi, 1000 - tp - fn - marked_hi]
         for p in SCORED]
    )  # fmt: skip
    return Scored(folder, f"{folder}-{tp}-{marked}", negative, counts, 1000)


def test_the_grid_counts_a_shut_landslide_image_as_missed_and_cut_zero_as_no_gate():
    a, b = scored("bijie", tp=100, fn=0), scored("cas", tp=50, fn=50)
    quiet, loud = scored("neg", 0, 0, marked=5, negative=True), scored("neg", 0, 0, marked=50, negative=True)
    gate = {(s.folder, s.image): g for s, g in ((a, 0.9), (b, 0.1), (quiet, 0.9), (loud, 0.2))}
    table = grid([a, b, quiet, loud], gate)
    none = next(r for r in table if r["cut"] == 0.0)
    assert none["f1"] == pytest.approx(2 * 150 / (2 * 150 + 50), abs=1e-4) and none["fa_pixels"] == pytest.approx(
        55 / 2000, abs=1e-4
    )
    assert none["fa_images"] == 0.5
    half = next(r for r in table if r["cut"] == 0.5 and r["floor"] is None)  # cas and the loud scene shut
    assert half["per_set"] == {"bijie": 1.0, "cas": 0.0}
    assert half["f1"] == pytest.approx(2 * 100 / (2 * 100 + 100), abs=1e-4)
    assert half["fa_pixels"] == pytest.approx(5 / 2000) and half["fa_images"] == 0.0
    assert choose(table, budget=(0.01, 0.12))["cut"] == 0.25  # the lowest cut that shuts only the loud scene
    gate[(loud.folder, loud.image)] = 0.99  # sure of a quiet scene: no cut shuts it
    with pytest.raises(LnetError, match="marks too much"):
        choose(grid([a, b, quiet, loud], gate), budget=(0.01, 0.12))


def test_a_floor_keeps_the_sure_pixels_of_a_shut_window():
    a, b = scored("bijie", tp=100, fn=0, sure=(60, 0)), scored("cas", tp=50, fn=50, sure=(30, 0))
    loud = scored("neg", 0, 0, marked=50, negative=True, sure=(0, 4))
    gate = {(s.folder, s.image): g for s, g in ((a, 0.9), (b, 0.1), (loud, 0.2))}
    table = grid([a, b, loud], gate)
    row = next(r for r in table if r["cut"] == 0.5 and r["floor"] == 0.95 and r["threshold"] == 0.5)
    assert row["per_set"]["cas"] == pytest.approx(2 * 30 / (2 * 30 + 70), abs=1e-4)  # its sure pixels kept
    assert row["fa_pixels"] == pytest.approx(4 / 1000) and row["fa_images"] == 0.0  # the loud scene's sure ones too
    assert not any(r["floor"] is not None and r["floor"] <= r["threshold"] for r in table)
    best = choose(table, budget=(0.01, 0.12))
    assert best["floor"] is not None and best["per_set"]["cas"] > 0  # better than an empty window
    with pytest.raises(LnetError, match="scene_gate_floor"):
        ModelConfig(scene_gate=0.5, threshold=0.6, scene_gate_floor=0.6)
    with pytest.raises(LnetError, match="without scene_gate"):
        ModelConfig(scene_gate_floor=0.9)


def test_int8_models_keep_the_gate_and_its_descriptor_in_float(tmp_path: Path, shared_data: Path):
    import onnx

    from lnet_edge.calibration.quantize import FLOAT_SCOPES, cpu_int8_from_onnx, float_nodes, qdq_from_onnx
    from lnet_edge.export.onnx_export import onnx_from_checkpoint
    from lnet_edge.model.checkpoint import save_checkpoint

    model = gated(0.0)
    save_checkpoint(tmp_path / "g.pt", {"config": model.config.to_dict(), "state_dict": model.state_dict()})
    fp32 = onnx_from_checkpoint(tmp_path / "g.pt", tmp_path / "g.onnx", [shared_data / "sichuan_aerial_atlan1024"])
    names = float_nodes(fp32)
    assert "/gate/linear/Gemm" in names and "/descriptor/Concat" in names
    batch = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    for make in (qdq_from_onnx, cpu_int8_from_onnx):
        out = make(fp32, tmp_path / f"{make.__name__}.onnx", batch, tmp_path / f"{make.__name__}.ranges")
        graph = onnx.load(str(out)).graph
        made_by = {o: n for n in graph.node for o in n.output}
        float_inits = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
        gemm = next(n for n in graph.node if n.name == "/gate/linear/Gemm")
        assert gemm.input[1] in float_inits and gemm.input[1] not in made_by  # float weights, not dequantized
        concat = next(n for n in graph.node if n.name == "/descriptor/Concat")
        assert not any(n.op_type == "QuantizeLinear" and concat.output[0] in n.input for n in graph.node)
        assert all(made_by[i].op_type != "DequantizeLinear" for i in concat.input if i in made_by)
    assert float_nodes(tmp_path / "g.onnx") and FLOAT_SCOPES == ("/gate/", "/descriptor/")


def test_a_refit_gate_keeps_its_test_scores_only_when_the_network_is_the_same():
    from lnet_edge.model.checkpoint import network_digest
    from lnet_edge.train.scene_gate import gated_checkpoint

    plain = LNet(ModelConfig(preset="edge-xs"))
    n = descriptor_size(plain.config.widths)
    row = {"cut": 0.6, "threshold": 0.55, "floor": None, "precision": 0.5, "recall": 0.5, "f1": 0.5, "iou": 0.3,
           "iou_background": 0.9, "miou2": 0.6, "per_set": {"a": 0.5}, "fa_pixels": 0.01, "fa_images": 0.1}  # fmt: skip
    base = {"config": plain.config.to_dict(), "state_dict": plain.state_dict()}
    first = gated_checkpoint(base, np.zeros(n), -1.0, row, {"date": "one"})
    again = gated_checkpoint(base, np.zeros(n), -1.0, row, {"date": "another", "note": "a refit"})
    assert network_digest(first) == network_digest(again)  # notes and history do not score
    other_cut = gated_checkpoint(base, np.zeros(n), -1.0, {**row, "cut": 0.65}, {})
    other_weight = gated_checkpoint(base, np.full(n, 1e-6), -1.0, row, {})
    assert len({network_digest(c) for c in (first, other_cut, other_weight)}) == 3
