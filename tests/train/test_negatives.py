"""Training with non-landslide scenes: epoch shares, the declared-negative check, resume refusal,
WebP re-encoding, and validation that weighs the negatives' false alarms."""

import json
import os

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.train.data import EpochSampler, TileDataset, recode_webp
from tests.conftest import BIJIE, NEGATIVES, link_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def sets(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("data")
    return link_pairs(BIJIE, root / "bijie_small", 4), link_pairs(NEGATIVES, root / "negatives_small", 6)


def _args(pos, neg, out, *extra):
    return ["train", "-d", str(pos), "--negatives", str(neg), "-o", str(out), "--preset", "edge-xs", "--epochs",
            "1", "--steps-per-epoch", "1", "--batch", "2", "--workers", "0", *extra]  # fmt: skip


def test_negative_share_sets_the_epoch_and_is_drawn_the_same_on_every_run():
    ds = TileDataset.__new__(TileDataset)
    ds.datasets = ["pos"] * 60 + ["neg"] * 20
    ds.negatives = frozenset({"neg"})
    weights, size = ds.epoch_weights(0.4, balance_sqrt=False)
    assert size == 100  # every landslide tile's worth of draws, plus 40 % from the negatives
    assert weights[60:].sum() / weights.sum() == pytest.approx(0.4)
    draws = list(EpochSampler(weights, size, seed=3))
    assert draws == list(EpochSampler(weights, size, seed=3))  # a resumed run draws the same epoch
    big = EpochSampler(weights, 20000, seed=0)
    assert np.mean(np.array(list(big)) >= 60) == pytest.approx(0.4, abs=0.02)


def test_training_with_negatives_reports_their_false_alarms_and_records_the_share(sets, tmp_path):
    from lnet_edge.model.checkpoint import read_checkpoint

    pos, neg = sets
    out = tmp_path / "run"
    result = runner.invoke(app, _args(pos, neg, out, "--negative-share", "0.3", "--webp-share", "0.5"))
    assert result.exit_code == 0, result.output
    row = json.loads((out / "metrics.json").read_text())[0]
    assert 0 <= row["val_fa_pixels"] <= 1 and 0 <= row["val_fa_images"] <= 1
    assert "fa_pixels" in row["per_dataset"]["negatives_small"]
    options = read_checkpoint(out / "last.pt")["options"]
    assert options["negative_share"] == 0.3 and options["negatives"] == (str(neg),)
    assert options["webp_share"] == 0.5

    other = runner.invoke(app, _args(pos, neg, out, "--negative-share", "0.5", "--resume", str(out / "last.pt")))
    assert other.exit_code != 0 and "negative_share = 0.3" in other.output and "0.5" in other.output


def test_resume_takes_the_same_folders_named_another_way(sets, tmp_path):
    pos, neg = sets
    out = tmp_path / "run"
    assert runner.invoke(app, _args(pos, neg, out)).exit_code == 0
    relative = [os.path.relpath(p) for p in (pos, neg)]  # the checkpoint holds them as given: absolute
    again = _args(*relative, out, "--resume", str(out / "last.pt"))
    again[again.index("--epochs") + 1] = "2"
    result = runner.invoke(app, again)
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "metrics.json").read_text())) == 2
    renamed = tmp_path / "other_negatives"
    renamed.symlink_to(neg)  # the same files under another set name: another split, refused
    refused = runner.invoke(app, _args(pos, renamed, out, "--resume", str(out / "last.pt")))
    assert refused.exit_code != 0 and "negatives = " in refused.output and "other_negatives" in refused.output


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--negative-share", "1"], "--negative-share 1.0"),
        (["--negative-share", "-0.1"], "in [0, 1)"),
        (["--webp-share", "2"], "--webp-share"),
    ],
)
def test_bad_shares_are_one_clear_message(sets, tmp_path, extra, expect):
    pos, neg = sets
    result = runner.invoke(app, _args(pos, neg, tmp_path / "o", *extra))
    assert result.exit_code != 0 and expect in result.output and "Traceback" not in result.output


def test_a_share_without_negative_folders_is_refused(sets, tmp_path):
    pos, _ = sets
    args = ["train", "-d", str(pos), "-o", str(tmp_path / "o"), "--negative-share", "0.2"]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "--negatives DIR" in result.output


def test_a_folder_declared_negative_with_a_landslide_mask_is_refused_naming_the_file(sets, tmp_path):
    pos, _ = sets
    result = runner.invoke(app, ["train", "-d", str(pos), "--negatives", str(BIJIE), "-o", str(tmp_path / "o")])
    assert result.exit_code != 0 and "marks landslide pixels" in result.output
    assert str(BIJIE / "masks") in result.output.replace("\n", "")


def test_webp_recoding_changes_pixels_as_the_negatives_codec_does(shared_data):
    image = cv2.imread(str(sorted((BIJIE / "images").iterdir())[0]))[:256, :256, ::-1]
    out = recode_webp(np.ascontiguousarray(image))
    assert out.shape == image.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - image.astype(int))
    assert 0 < diff.mean() < 4  # lossy, but close: quality 95
    # colour order kept: the channel means move by far less than the gap between channels
    assert np.abs(out.mean((0, 1)) - image.mean((0, 1))).max() < 1.0


def test_freeze_bn_keeps_the_initial_statistics_and_needs_init(sets, tmp_path):
    import torch

    from lnet_edge.model.checkpoint import read_checkpoint

    pos, neg = sets
    base = tmp_path / "base"
    assert runner.invoke(app, _args(pos, neg, base)).exit_code == 0
    out = tmp_path / "tuned"
    result = runner.invoke(app, _args(pos, neg, out, "--init", str(base / "last.pt"), "--freeze-bn"))
    assert result.exit_code == 0, result.output
    before, after = read_checkpoint(base / "last.pt")["state_dict"], read_checkpoint(out / "last.pt")["state_dict"]
    stats = [k for k in before if k.endswith("running_mean") or k.endswith("running_var")]
    weights = [k for k in before if k.endswith(".weight") and before[k].ndim == 4]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert any(not torch.equal(before[k], after[k]) for k in weights)  # the weights did learn
    assert read_checkpoint(out / "last.pt")["options"]["freeze_bn"] is True

    bad = runner.invoke(app, _args(pos, neg, tmp_path / "x", "--freeze-bn"))
    assert bad.exit_code != 0 and "--freeze-bn needs --init" in bad.output


def test_the_false_alarm_budget_picks_the_best_threshold_within_it_or_the_nearest_with_a_penalty():
    from lnet_edge.train.trainer import FalseAlarmBudget

    budget = FalseAlarmBudget(pixels=0.015, images=0.15)
    f1 = np.array([0.60, 0.58, 0.50, 0.40])
    pixels = np.array([0.05, 0.02, 0.012, 0.005])
    images = np.array([0.50, 0.20, 0.14, 0.05])
    assert budget.choose(f1, pixels, images) == (2, 0.0)  # the best F1 among those within it
    over = budget.choose(f1, pixels * 10, images)
    assert over == (3, 1.0)  # none within: the nearest, ranked below any checkpoint within


def test_hard_negatives_draw_the_marked_tiles_more_and_keep_the_negatives_share():
    weights = np.array([0.15] * 4 + [0.1] * 4)  # 60 % landslide tiles, 40 % negatives
    sampler = EpochSampler(weights, 100, seed=0)
    sampler.emphasise(np.arange(4, 8), np.array([0.0, 0.0, 0.5, 1.0]), factor=4)
    assert sampler.p[4:].sum() == pytest.approx(0.4) and sampler.p[:4].sum() == pytest.approx(0.6)
    assert sampler.p[7] == pytest.approx(5 * sampler.p[4]) and sampler.p[6] == pytest.approx(3 * sampler.p[4])


def test_training_with_a_budget_and_hard_negatives_records_both_and_refuses_bad_values(sets, tmp_path):
    from lnet_edge.model.checkpoint import read_checkpoint

    pos, neg = sets
    out = tmp_path / "run"
    extra = ["--negative-share", "0.4", "--hard-negatives", "4", "--max-false-alarms", "0.015,0.15"]
    result = runner.invoke(app, _args(pos, neg, out, *extra))
    assert result.exit_code == 0, result.output
    options = read_checkpoint(out / "last.pt")["options"]
    assert options["hard_negatives"] == 4 and tuple(options["fa_budget"]) == (0.015, 0.15)
    row = json.loads((out / "metrics.json").read_text())[0]
    within = row["val_fa_pixels"] <= 0.015 and row["val_fa_images"] <= 0.15
    assert within == (row["val_score"] > -0.5)  # outside the budget the score carries its penalty

    for bad, expect in [(["--max-false-alarms", "2,0.1"], "two shares in (0, 1]"),
                        (["--max-false-alarms", "0.01"], "--max-false-alarms '0.01'"),
                        (["--hard-negatives", "4"], "needs --negative-share")]:  # fmt: skip
        r = runner.invoke(app, _args(pos, neg, tmp_path / "x", *bad))
        assert r.exit_code != 0 and expect in r.output and "Traceback" not in r.output


def test_a_scene_loss_trains_a_head_that_resume_carries_and_a_changed_weight_is_refused(sets, tmp_path):
    import torch

    from lnet_edge.config import PRESETS
    from lnet_edge.model.checkpoint import load_model, read_checkpoint
    from lnet_edge.model.gate import descriptor_size

    pos, neg = sets
    out = tmp_path / "scene"
    result = runner.invoke(app, _args(pos, neg, out, "--scene-weight", "0.5", "--negative-share", "0.5"))
    assert result.exit_code == 0, result.output
    first = read_checkpoint(out / "last.pt")
    head = first["scene_head"]
    assert head["weight"].shape == (1, descriptor_size(PRESETS["edge-xs"])) and first["options"]["scene_weight"] == 0.5
    again = _args(pos, neg, out, "--scene-weight", "0.5", "--negative-share", "0.5", "--resume", str(out / "last.pt"))
    again[again.index("--epochs") + 1] = "2"
    result = runner.invoke(app, again)
    assert result.exit_code == 0, result.output
    assert not torch.equal(read_checkpoint(out / "last.pt")["scene_head"]["weight"], head["weight"])  # it learns
    model, _ = load_model(out / "best.pt")
    assert model.gate is None  # the head shapes the features; the network ships without it
    refused = runner.invoke(app, _args(pos, neg, out, "--negative-share", "0.5", "--resume", str(out / "last.pt")))
    assert refused.exit_code != 0 and "scene_weight = 0.5" in refused.output
    last = read_checkpoint(out / "last.pt")  # a head made for an older, shorter descriptor
    last["scene_head"] = {"weight": head["weight"][:, :-5], "bias": head["bias"]}
    torch.save(last, out / "older.pt")
    again[again.index("--resume") + 1], again[again.index("--epochs") + 1] = str(out / "older.pt"), "3"
    refused = runner.invoke(app, again)
    assert refused.exit_code == 2 and "start the run anew" in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize("weight", ["-1", "nan", "11"])
def test_a_bad_scene_weight_is_one_clear_message(sets, tmp_path, weight):
    result = runner.invoke(app, _args(*sets, tmp_path / "o", "--scene-weight", weight))
    assert result.exit_code == 2 and "--scene-weight" in result.output and "Traceback" not in result.output
