"""The training loop: the paper's recipe by default, a best-by-validation-F1 checkpoint,
resume, per-epoch metrics to CSV and JSON, seeded."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig, logit
from lnet_edge.data.readers import Sample, read_pair
from lnet_edge.errors import LnetError
from lnet_edge.eval.metrics import Confusion, confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.lazy import lazy_import
from lnet_edge.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from lnet_edge.runners.torch import TorchRunner
from lnet_edge.train.options import FINE_TUNE_LR_FACTOR, Balance, Loss, Optimizer, Schedule, TrainOptions  # noqa: F401

torch = lazy_import("torch")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def bf16_is_fast(device: str) -> bool:
    """Whether bf16 autocast speeds training up on ``device``: on CUDA where the GPU has bf16; on
    the CPU where oneDNN has bf16 kernels (AVX-512 or AMX). Without them torch falls back to
    reference kernels: an edge-s step (batch 8, 256 px) took 4.3x as long as in fp32 on a 2-core
    AVX2 CPU (138 s against 32 s, one process, while other jobs shared the CPU)."""
    if str(device).startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def make_optimizer(model, opts: TrainOptions):
    params = [p for p in model.parameters() if p.requires_grad]
    if opts.optimizer == Optimizer.sgd:
        return torch.optim.SGD(params, lr=opts.lr, momentum=opts.momentum, weight_decay=opts.weight_decay)
    return torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)


def make_scheduler(optim, opts: TrainOptions):
    if opts.schedule == Schedule.cosine:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=opts.epochs, eta_min=opts.lr / 100)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optim, mode="max", factor=0.1, patience=opts.patience)


def bce_dice_loss(logits, target):
    """BCE plus (1 - soft Dice) over the batch: Dice counters the rarity of landslide pixels."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + 1.0 - dice


THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.025), 3)  # candidates for the shipped threshold


def validate(
    model,
    samples: list[Sample],
    config: ModelConfig,
    device: str,
    negatives: frozenset[str] = frozenset(),
    budget: FalseAlarmBudget | None = None,
) -> tuple[dict, dict]:
    """Dataset-level scores (summed confusion) over whole validation images, and per dataset.

    The threshold is the one of maximum F1 over every validation pixel, the non-landslide
    folders' (``negatives``) included, so their false alarms weigh on it as they do on the
    checkpoint choice (``score``). With a false-alarm ``budget`` it is the one of maximum F1
    among the thresholds whose negatives stay within it; when none does, the one that comes
    nearest, and ``score`` drops by 1 so that any checkpoint within the budget ranks above it.
    ``precision`` ... ``iou`` are of the landslide folders alone (comparable with runs without
    negatives); ``fa_pixels`` and ``fa_images`` are the share of negative pixels marked and of
    negative images with more than 1 % marked. Also reported: ``f1_at_0.5``. Every pixel of
    each image is scored, none of the padding."""
    runner = TorchRunner(model, device).activate()
    counts = {}  # dataset -> [tp, fp, fn, tn] per candidate threshold
    marked = []  # per negative image: share of pixels marked at each threshold
    for s in samples:
        image, mask = read_pair(s, config.bands)
        logits = predict_logits(runner, image, config)
        if not np.isfinite(logits).all():
            raise LnetError("the network produced non-finite logits on validation: training diverged")
        c = np.array([_counts(logits > logit(t), mask) for t in THRESHOLDS])
        counts[s.dataset] = counts.get(s.dataset, 0) + c
        if s.dataset in negatives:
            marked.append(c[:, 1] / mask.size)
    total = sum(counts.values())
    f1 = np.array([scores(Confusion(*row))["f1"] for row in total])
    best, penalty = int(np.argmax(f1)), 0.0
    if marked:
        neg = sum(v for k, v in counts.items() if k in negatives)
        fa_pixels = neg[:, 1] / neg.sum(axis=1)
        fa_images = np.mean(np.array(marked) > 0.01, axis=0)
        if budget is not None:
            best, penalty = budget.choose(f1, fa_pixels, fa_images)
    positive = sum((v for k, v in counts.items() if k not in negatives), np.zeros_like(total))
    pos_f1 = [scores(Confusion(*row))["f1"] for row in positive]
    half = int(np.argmin(np.abs(THRESHOLDS - 0.5)))
    overall = {
        **scores(Confusion(*positive[best])),
        "threshold": float(THRESHOLDS[best]),
        "f1_at_0.5": pos_f1[half],
        "score": float(f1[best]) - penalty,
    }
    if marked:
        overall |= {"fa_pixels": float(fa_pixels[best]), "fa_images": float(fa_images[best])}
    per_set = {}
    for k, v in counts.items():
        c = Confusion(*v[best])
        per_set[k] = {"fa_pixels": c.fp / (c.fp + c.tn)} if k in negatives else scores(c)
    return overall, per_set


@dataclass(frozen=True)
class FalseAlarmBudget:
    """What the validation negatives may mark: a share of their pixels and a share of images
    with more than 1 % of their pixels marked (the shipped model's release targets)."""

    pixels: float = 0.015
    images: float = 0.15

    def choose(self, f1: np.ndarray, fa_pixels: np.ndarray, fa_images: np.ndarray) -> tuple[int, float]:
        """(index of the threshold, score penalty): the best F1 within the budget, else the
        threshold nearest to it (smallest excess, then best F1) with a penalty of 1."""
        within = (fa_pixels <= self.pixels) & (fa_images <= self.images)
        if within.any():
            return int(np.argmax(np.where(within, f1, -1.0))), 0.0
        excess = np.maximum(fa_pixels / self.pixels, fa_images / self.images)
        nearest = np.flatnonzero(excess == excess.min())
        return int(nearest[np.argmax(f1[nearest])]), 1.0


def _counts(pred: np.ndarray, target: np.ndarray) -> tuple[int, int, int, int]:
    c = confusion(pred, target)
    return c.tp, c.fp, c.fn, c.tn


def marked_shares(model, dataset, indices: np.ndarray, device: str, amp: bool, batch: int = 16) -> np.ndarray:
    """Share of each tile's pixels (``indices`` of ``dataset``, not augmented) that ``model``
    marks at probability 0.5: how hard each non-landslide tile is for the current weights."""
    was_training = model.training
    model.eval()
    amp_device = "cuda" if str(device).startswith("cuda") else "cpu"
    shares = []
    with torch.inference_mode():
        for start in range(0, len(indices), batch):
            x = np.stack([dataset.plain_tile(int(i)) for i in indices[start : start + batch]])
            x = torch.from_numpy(x).to(device).contiguous(memory_format=torch.channels_last)
            with torch.autocast(amp_device, dtype=torch.bfloat16, enabled=amp):
                logits = model(x)
            shares.append((logits.float() > 0).float().mean(dim=(1, 2, 3)).cpu().numpy())
    model.train(was_training)
    return np.concatenate(shares) if shares else np.zeros(0)


def _init_weights(model, opts: TrainOptions, config: ModelConfig) -> None:
    """Copy the weights of ``opts.init`` (a checkpoint, or "default" for the shipped model). A
    scene gate is left behind: it judges the features of the weights it was fitted to, so a
    trained network gets its own (scripts/fit_scene_gate.py)."""
    from lnet_edge.defaults import DEFAULT_CHECKPOINT

    path = DEFAULT_CHECKPOINT if opts.init == "default" else Path(opts.init)
    source, _ = load_model(path, expect=config)
    model.load_state_dict({k: v for k, v in source.state_dict().items() if not k.startswith("gate.")})
    if opts.freeze_encoder:
        for p in model.encoder.parameters():
            p.requires_grad_(False)


def _train_mode(model, opts: TrainOptions) -> None:
    """Training mode, but for what is frozen. ``freeze_bn`` keeps every BatchNorm layer in eval
    mode (the initial weights' running statistics normalise, the affine weights still learn):
    fine-tuning the shipped model on non-landslide tiles alone in training mode raised its false
    alarms on those very tiles from 2.1 % to 11.9 % of pixels in 10 steps, as batch statistics
    replaced the running ones; with frozen statistics they fell to 0."""
    model.train()
    if opts.freeze_encoder:  # frozen BatchNorm statistics too
        model.encoder.eval()
    if opts.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def train(config: ModelConfig, opts: TrainOptions, progress=None) -> Path:
    """Train and return the path of the best checkpoint (``OUT/best.pt``)."""
    from lnet_edge.model.lnet import LNet
    from lnet_edge.train.data import EpochSampler, TileDataset, load_split

    _seed_everything(opts.seed)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if opts.device == "auto" else opts.device
    if opts.amp and not bf16_is_fast(device):
        opts = replace(opts, amp=False)  # recorded in the checkpoints as it ran
        if progress:
            progress.console.print(
                f"{device}: no bf16 instructions (AVX-512 or AMX) for autocast, which would run in slow "
                "emulation here: training in fp32"
            )
    out = Path(opts.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LnetError(f"output folder {out} cannot be created ({exc.strerror}): choose another --out") from exc
    if opts.resume:
        _check_resume_data(Path(opts.resume), opts)
    neg_roots = tuple(Path(d) for d in opts.negatives)
    neg_names = frozenset(p.name for p in neg_roots)
    train_s, val_s = load_split([Path(d) for d in opts.data], config, opts.val_fraction, neg_roots)
    dataset = TileDataset(train_s, config, opts.seed, negatives=neg_names, webp_share=opts.webp_share)
    if len(dataset) < opts.batch:
        raise LnetError(f"{len(dataset)} training tiles is fewer than --batch {opts.batch}: lower --batch or add data")
    generator = torch.Generator().manual_seed(opts.seed)
    sampler = None
    if neg_roots:  # negatives drawn at their set share of each epoch, seeded by epoch
        weights, size = dataset.epoch_weights(opts.negative_share, opts.balance == Balance.sqrt)
        sampler = EpochSampler(weights, size, opts.seed)
        base_p = sampler.p.copy()
    elif opts.balance == Balance.sqrt:
        weights = dataset.sqrt_balanced_weights()
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(dataset), replacement=True, generator=generator)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=opts.batch,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=True,
        num_workers=opts.workers,
        generator=generator if sampler is None else None,
        persistent_workers=False,
    )
    model = LNet(config)
    if opts.init:
        _init_weights(model, opts, config)
    model = model.to(device)
    model = model.to(memory_format=torch.channels_last)  # 1.09x in fp32 on an AVX2 CPU, more with bf16
    ema = _make_ema(model, opts.ema)
    optim = make_optimizer(model, opts)
    scene_head = None
    if opts.scene_weight > 0:
        from lnet_edge.model.gate import descriptor_size

        # not part of the network: it shapes the features a scene gate reads
        scene_head = torch.nn.Linear(descriptor_size(config.widths, model.descriptor.weighted), 1).to(device)
        optim.add_param_group({"params": list(scene_head.parameters())})
    sched = make_scheduler(optim, opts)
    loss_fn = bce_dice_loss if opts.loss == Loss.bce_dice else torch.nn.BCEWithLogitsLoss()
    amp_device = "cuda" if str(device).startswith("cuda") else "cpu"
    start_epoch, best_f1, history = 0, -1.0, []
    if opts.resume:
        ckpt = read_checkpoint(Path(opts.resume))
        if ModelConfig.from_dict(ckpt["config"]) != config:
            raise LnetError(
                f"--resume {opts.resume} was trained with another configuration: resume with the same options"
            )
        model.load_state_dict(ckpt.get("train_state_dict", ckpt["state_dict"]))
        if ema is not None:
            ema.module.load_state_dict(ckpt["state_dict"])
            ema.n_averaged.fill_(1)  # an average already: the next update blends, not copies
        if scene_head is not None:
            made_for = ckpt["scene_head"]["weight"].shape[1]
            if made_for != scene_head.in_features:
                raise LnetError(
                    f"--resume {opts.resume}: its scene head reads a window descriptor of {made_for} numbers, "
                    f"this version's has {scene_head.in_features}: start the run anew (--init {opts.resume})"
                )
            scene_head.load_state_dict(ckpt["scene_head"])
        optim.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start_epoch, best_f1, history = ckpt["epoch"] + 1, ckpt["best_f1"], ckpt["history"]
    split = {"train": [s.key for s in train_s], "val": [s.key for s in val_s]}
    (out / "split.json").write_text(json.dumps(split, indent=1))
    budget = FalseAlarmBudget(*opts.fa_budget) if opts.fa_budget else None
    t0 = time.monotonic()
    before = history[-1]["seconds"] if history else 0.0  # wall time of earlier sittings
    for epoch in range(start_epoch, opts.epochs):
        dataset.epoch = epoch
        if isinstance(sampler, EpochSampler):
            sampler.epoch = epoch
            if opts.hard_negatives > 0:
                neg_idx = dataset.negative_indices()
                sampler.p = base_p.copy()
                sampler.emphasise(
                    neg_idx, marked_shares(model, dataset, neg_idx, device, opts.amp), opts.hard_negatives
                )
        _train_mode(model, opts)
        n_steps = len(loader) if opts.steps_per_epoch is None else min(len(loader), opts.steps_per_epoch)
        task = progress.add_task(f"epoch {epoch + 1}/{opts.epochs}", total=n_steps) if progress else None
        losses, t_epoch = [], time.monotonic()
        for step, (x, y) in enumerate(loader):
            if step >= n_steps:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(amp_device, dtype=torch.bfloat16, enabled=opts.amp):
                logits, descriptor = model.ungated(x, with_descriptor=scene_head is not None)
                scene = scene_head(descriptor) if scene_head is not None else None
            loss = loss_fn(logits.float(), y)
            if scene is not None:  # does the tile hold any landslide pixel?
                held = (y.flatten(1).amax(dim=1, keepdim=True) > 0.5).float()
                loss = loss + opts.scene_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                    scene.float(), held
                )
            if not torch.isfinite(loss):
                raise LnetError(
                    f"training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}: lower --lr "
                    f"(now {opts.lr:g}) or check the data; the best checkpoint so far is kept, no new one saved"
                )
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            if ema is not None:
                ema.update_parameters(model)
            losses.append(loss.item())
            if progress:
                progress.update(
                    task, advance=1, description=f"epoch {epoch + 1}/{opts.epochs} loss {np.mean(losses):.4f}"
                )
        if progress:
            progress.remove_task(task)
        scored = model if ema is None else ema.module  # the weights that are validated and saved
        scored.eval()
        val, per_set = validate(scored, val_s, config, device, neg_names, budget)
        if opts.schedule == Schedule.cosine:
            sched.step()
        else:
            sched.step(val["score"])
        row = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "lr": optim.param_groups[0]["lr"],
            "epoch_seconds": round(time.monotonic() - t_epoch, 1),
            "seconds": round(before + time.monotonic() - t0, 1),
            **{f"val_{k}": v for k, v in val.items()},
        }
        history.append({**row, "per_dataset": per_set})
        _write_history(out, history)
        state = _plain_state(scored)
        payload = {
            "config": config.to_dict(),
            "state_dict": state,
            "epoch": epoch,
            "metrics": val,
            "metrics_per_dataset": per_set,
            "options": plain(asdict(opts)),
            "split": split,
        }
        if val["score"] > best_f1:  # the shipped checkpoint carries the threshold chosen on validation
            best_f1 = val["score"]
            tuned = ModelConfig.from_dict({**config.to_dict(), "threshold": val["threshold"]})
            save_checkpoint(out / "best.pt", {**payload, "config": tuned.to_dict()})
        save_checkpoint(
            out / "last.pt",
            {
                **payload,
                "train_state_dict": _plain_state(model),  # what resume continues from
                "optimizer": optim.state_dict(),
                "scheduler": sched.state_dict(),
                "best_f1": best_f1,
                **({"scene_head": scene_head.state_dict()} if scene_head is not None else {}),
                "history": history,
            },
        )
        if progress:
            alarms = f" negatives marked {100 * val['fa_pixels']:.2f} %" if "fa_pixels" in val else ""
            progress.console.print(
                f"epoch {epoch + 1}: loss {row['loss']:.4f} val F1 {val['f1']:.3f} IoU {val['iou']:.3f}{alarms} "
                f"at threshold {val['threshold']:.3f} lr {row['lr']:.1e} ({row['seconds']:.0f} s)"
            )
        if opts.time_limit_min is not None and time.monotonic() - t0 > 60 * opts.time_limit_min:
            break
    return out / "best.pt"


RESUME_KEYS = (
    "data",
    "negatives",
    "negative_share",
    "balance",
    "webp_share",
    "val_fraction",
    "seed",
    "freeze_bn",
    "fa_budget",
    "hard_negatives",
    "scene_weight",
)


def _check_resume_data(path: Path, opts: TrainOptions) -> None:
    """Refuse to resume a run on other data folders or epoch shares than it started with."""
    before = read_checkpoint(path).get("options", {})
    now = plain(asdict(opts))
    defaults = plain(asdict(TrainOptions(data=())))
    for key in RESUME_KEYS:
        was = before.get(key, defaults[key])  # a key older runs did not record held its default
        was, is_ = _seq(was), _seq(now[key])  # a tuple may come back as a list
        if key in PATH_KEYS and _same_folders(was, is_):
            continue
        if was != is_:
            raise LnetError(
                f"--resume {path} was trained with {key} = {was}, this run asks for {is_}: resume with the "
                "same data folders and shares, or start a new --out"
            )


PATH_KEYS = ("data", "negatives")


def _same_folders(a, b) -> bool:
    """One folder reached two ways (../shared/data/x here, /work/shared/data/x in the checkpoint)
    is one, as long as its name is the same: a folder's name names its set, which seeds the split
    and picks a fixed test quarter, so a link under another name is another set."""
    if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)):
        return False
    return all(Path(x).name == Path(y).name and os.path.realpath(x) == os.path.realpath(y) for x, y in zip(a, b))


def _seq(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _make_ema(model, decay: float):
    """An exponential moving average of the weights and BatchNorm statistics, or None."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _plain_state(model) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def plain(d: dict) -> dict:
    """Options with enum members as their values: a checkpoint must not pickle classes by name."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in d.items()}


def _write_history(out: Path, history: list[dict]) -> None:
    write_text_atomic(out / "metrics.json", json.dumps(history, indent=1))
    flat = [{k: v for k, v in h.items() if k != "per_dataset"} for h in history]
    table = io.StringIO(newline="")
    w = csv.DictWriter(table, fieldnames=list(flat[0]))
    w.writeheader()
    w.writerows(flat)
    write_text_atomic(out / "metrics.csv", table.getvalue())


__all__ = ["Loss", "Optimizer", "Schedule", "TrainOptions", "train", "validate", "load_model"]
