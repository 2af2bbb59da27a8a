"""train and eval through typer's CliRunner, on a few real images, and their bad inputs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from tests.conftest import BIJIE, link_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, shared_data):
    """Four real Bijie pairs (symlinked): three train, one validation."""
    return link_pairs(BIJIE, tmp_path_factory.mktemp("data") / "bijie_small", 4)


@pytest.fixture(scope="module")
def trained(small_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    args = [
        "train",
        "-d",
        str(small_set),
        "-o",
        str(out),
        "--preset",
        "edge-xs",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch",
        "2",
        "--workers",
        "0",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_two_step_training_writes_checkpoints_and_metrics(trained):
    assert (trained / "best.pt").is_file() and (trained / "last.pt").is_file()
    history = json.loads((trained / "metrics.json").read_text())
    assert len(history) == 1 and 0.0 <= history[0]["val_f1"] <= 1.0
    assert "bijie_small" in history[0]["per_dataset"]
    assert (trained / "metrics.csv").read_text().startswith("epoch,loss,lr")
    split = json.loads((trained / "split.json").read_text())
    assert len(split["val"]) == 1 and not set(split["train"]) & set(split["val"])
    ckpt = torch.load(trained / "best.pt", weights_only=False)
    assert ckpt["config"]["preset"] == "edge-xs"


def test_resume_continues_and_refuses_other_preset(small_set, trained):
    args = [
        "train",
        "-d",
        str(small_set),
        "-o",
        str(trained),
        "--preset",
        "edge-xs",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "1",
        "--batch",
        "2",
        "--workers",
        "0",
        "--resume",
        str(trained / "last.pt"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads((trained / "metrics.json").read_text())) == 2
    other = [a if a != "edge-xs" else "edge-s" for a in args]
    result = runner.invoke(app, other)
    assert result.exit_code == 2
    assert "another configuration" in result.output and "Traceback" not in result.output


def test_eval_writes_json_and_markdown(small_set, trained, tmp_path):
    result = runner.invoke(
        app, ["eval", "-d", str(small_set), "-m", str(trained / "best.pt"), "--split", "all", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["overall"]["images"] == 4 and len(report["per_image"]) == 4
    o = report["overall"]
    assert o["tp"] + o["fp"] + o["fn"] + o["tn"] == sum(
        np.prod(Image.open(p).size) for p in sorted((small_set / "images").iterdir())
    )
    assert "| all (summed confusion) |" in (tmp_path / "eval.md").read_text()


def test_eval_threshold_overrides_the_models_and_bad_values_are_refused(small_set, trained, tmp_path):
    base = ["eval", "-d", str(small_set), "-m", str(trained / "best.pt"), "--split", "all"]
    reports = {}
    for t in ("0.05", "0.95"):
        result = runner.invoke(app, [*base, "--threshold", t, "-o", str(tmp_path / t)])
        assert result.exit_code == 0, result.output
        reports[t] = json.loads((tmp_path / t / "eval.json").read_text())
    assert reports["0.05"]["threshold"] == 0.05 and reports["0.95"]["threshold"] == 0.95
    low, high = reports["0.05"]["overall"], reports["0.95"]["overall"]
    assert low["tp"] + low["fp"] > high["tp"] + high["fp"]  # a lower threshold marks more pixels
    for bad in ("0", "1", "nan", "-0.2"):
        result = runner.invoke(app, [*base, "--threshold", bad, "-o", str(tmp_path / "bad")])
        assert result.exit_code != 0 and "--threshold" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "bad" / "eval.json").exists()


def _bad(tmp_path, name, image, mask):
    root = tmp_path / name
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray(image).save(root / "images" / "a.png")
    if mask is not None:
        Image.fromarray(mask).save(root / "masks" / "a.png")
    Image.fromarray(image).save(root / "images" / "b.png")
    if mask is not None:
        Image.fromarray(mask).save(root / "masks" / "b.png")
    return root


@pytest.mark.parametrize(
    "case,expect",
    [
        ("missing", "does not exist"),
        ("empty", "holds no images"),
        ("nomask", "has no mask"),
        ("size", "masks must have their image's size"),
        ("values", "outside its coding"),
        ("unreadable", "cannot be read"),
    ],
)
def test_bad_data_is_one_clear_message(tmp_path, case, expect, trained):
    img = np.zeros((64, 64, 3), np.uint8)
    if case == "missing":
        root = tmp_path / "nowhere"
    elif case == "empty":
        root = tmp_path / "empty"
        (root / "images").mkdir(parents=True)
        (root / "masks").mkdir()
    elif case == "nomask":
        root = _bad(tmp_path, case, img, None)
    elif case == "size":
        root = _bad(tmp_path, case, img, np.zeros((32, 64), np.uint8))
    elif case == "values":
        root = _bad(tmp_path, case, img, np.full((64, 64), 3, np.uint8))
    else:
        root = _bad(tmp_path, case, img, np.zeros((64, 64), np.uint8))
        (root / "images" / "a.png").write_bytes(b"not a png")
    for cmd in (
        ["train", "-d", str(root), "-o", str(tmp_path / "out"), "--workers", "0"],
        ["eval", "-d", str(root), "-m", str(trained / "best.pt"), "--split", "all", "-o", str(tmp_path / "ev")],
    ):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 2, (cmd, result.output)
        assert expect in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "best.pt").exists()


def test_foreign_checkpoint_is_refused(tmp_path, small_set):
    fake = tmp_path / "model.pt"
    torch.save({"weights": 1}, fake)
    result = runner.invoke(app, ["eval", "-d", str(small_set), "-m", str(fake), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "not an lnet-edge checkpoint" in result.output


def _train_args(data, out, *extra):
    return ["train", "-d", str(data), "-o", str(out), "--epochs", "1", "--steps-per-epoch", "1", "--batch", "2",
            "--workers", "0", *extra]  # fmt: skip


def test_best_checkpoint_carries_the_threshold_chosen_on_validation(trained):
    ckpt = torch.load(trained / "best.pt", weights_only=False)
    history = json.loads((trained / "metrics.json").read_text())
    best = max(history, key=lambda h: h["val_f1"])
    assert ckpt["config"]["threshold"] == best["val_threshold"]
    assert 0 < best["val_threshold"] < 1 and best["val_f1"] >= best["val_f1_at_0.5"]


def test_init_from_another_preset_names_both_sides(small_set, tmp_path):
    result = runner.invoke(app, _train_args(small_set, tmp_path / "o", "--preset", "edge-xs", "--init", "default"))
    assert result.exit_code == 2 and "preset=edge-s" in result.output and "edge-xs" in result.output


def test_fine_tuning_starts_from_the_weights_and_can_freeze_the_encoder(small_set, tmp_path):
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.model.checkpoint import load_model

    out = tmp_path / "ft"
    result = runner.invoke(app, _train_args(small_set, out, "--init", "default", "--freeze-encoder"))
    assert result.exit_code == 0, result.output
    tuned, ckpt = load_model(out / "last.pt")
    base, _ = load_model(DEFAULT_CHECKPOINT)
    enc_tuned, enc_base = tuned.encoder.state_dict(), base.encoder.state_dict()
    assert all(torch.equal(enc_tuned[k], enc_base[k]) for k in enc_base)  # frozen, BatchNorm statistics too
    assert not torch.equal(tuned.head.weight, base.head.weight)  # the head trained
    assert ckpt["options"]["lr"] == pytest.approx(1e-4)  # the fine-tuning default


def test_fine_tuning_a_gated_model_leaves_its_gate_behind(small_set, tmp_path):
    from lnet_edge.config import PRESETS
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.model.checkpoint import load_model, read_checkpoint, save_checkpoint
    from lnet_edge.model.gate import descriptor_size

    ckpt = read_checkpoint(DEFAULT_CHECKPOINT)
    if ckpt["config"].get("scene_gate") is None:  # give the shipped weights a gate
        state = dict(ckpt["state_dict"])
        n = descriptor_size(PRESETS[ckpt["config"]["preset"]])
        state["gate.linear.weight"], state["gate.linear.bias"] = torch.zeros(1, n), torch.ones(1)
        ckpt = {
            **ckpt,
            "config": {**ckpt["config"], "scene_gate": 0.5, "scene_gate_descriptor": "weighted"},
            "state_dict": state,
        }
    save_checkpoint(tmp_path / "gated.pt", ckpt)
    out = tmp_path / "ft"
    result = runner.invoke(app, _train_args(small_set, out, "--init", str(tmp_path / "gated.pt")))
    assert result.exit_code == 0, result.output
    tuned, _ = load_model(out / "last.pt")
    assert tuned.gate is None and tuned.config.scene_gate is None


def test_a_non_finite_loss_stops_with_an_error_and_no_best_checkpoint(small_set, tmp_path):
    out = tmp_path / "nan"
    result = runner.invoke(app, _train_args(small_set, out, "--preset", "edge-xs", "--lr", "1e30", "--optimizer",
                                            "sgd", "--steps-per-epoch", "4"))  # fmt: skip
    assert result.exit_code == 2 and "training loss became" in result.output, result.output
    assert not (out / "best.pt").exists()


def test_ema_saves_the_average_and_resume_continues_from_the_raw_weights(small_set, tmp_path):
    from lnet_edge.model.checkpoint import read_checkpoint

    out = tmp_path / "ema"
    args = _train_args(small_set, out, "--preset", "edge-xs", "--ema", "0.5", "--steps-per-epoch", "2")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    last, best = read_checkpoint(out / "last.pt"), read_checkpoint(out / "best.pt")
    average, raw = last["state_dict"], last["train_state_dict"]
    assert all(torch.equal(best["state_dict"][k], average[k]) for k in average)  # what was validated is saved
    assert not torch.equal(average["head.weight"], raw["head.weight"])  # an average, not the last step
    args[args.index("--epochs") + 1] = "2"
    result = runner.invoke(app, [*args, "--resume", str(out / "last.pt")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "metrics.json").read_text())) == 2


def test_sqrt_balance_gives_each_folder_a_share_proportional_to_the_root_of_its_tiles():
    from lnet_edge.train.data import TileDataset

    ds = TileDataset.__new__(TileDataset)
    ds.datasets = ["big"] * 100 + ["small"] * 4
    w = np.array(ds.sqrt_balanced_weights())
    assert w.sum() == pytest.approx(1.0)
    assert w[:100].sum() == pytest.approx(10 / 12) and w[100:].sum() == pytest.approx(2 / 12)
    assert w[100] / w[0] == pytest.approx(5.0)  # a small set's tile is drawn 5x as often


def test_without_fast_bf16_training_runs_in_fp32_and_says_so(small_set, tmp_path, monkeypatch):
    from lnet_edge.model.checkpoint import read_checkpoint
    from lnet_edge.train import trainer

    monkeypatch.setattr(trainer, "bf16_is_fast", lambda device: False)
    out = tmp_path / "fp32"
    result = runner.invoke(app, _train_args(small_set, out, "--preset", "edge-xs"))
    assert result.exit_code == 0, result.output
    assert "no bf16 instructions" in result.output and "training in fp32" in result.output
    assert read_checkpoint(out / "last.pt")["options"]["amp"] is False
