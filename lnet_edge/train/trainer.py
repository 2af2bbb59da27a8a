"""The training loop: the paper's recipe by default, a best-by-validation-F1 checkpoint,
resume, per-epoch metrics to CSV and JSON, seeded."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lnet_edge.data.readers import Sample, read_pair
from lnet_edge.errors import LnetError
from lnet_edge.eval.metrics import Confusion, confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.lazy import lazy_import
from lnet_edge.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from lnet_edge.model.config import ModelConfig
from lnet_edge.runners.torch import TorchRunner

torch = lazy_import("torch")


@dataclass(frozen=True)
class TrainOptions:
    """Defaults are Dong et al. 2022 section 3.3: SGD, lr 1e-3, batch 8, lr x0.1 after 10
    epochs without validation gain, 100 epochs. Momentum and weight decay are not stated in the
    paper; we use 0.9 and 1e-4 (plain SGD at lr 1e-3 barely moves in 100 epochs)."""

    data: tuple[str, ...]
    out: str = "runs/train"
    epochs: int = 100
    batch: int = 8
    optimizer: str = "sgd"  # sgd (the paper) or adamw
    loss: str = "bce"  # bce (the paper) or bce_dice (BCE + soft Dice, for rare landslide pixels)
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    patience: int = 10
    val_fraction: float = 0.2
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    steps_per_epoch: int | None = None  # cap on batches per epoch (smoke tests)
    time_limit_min: float | None = None  # stop after the epoch that crosses this
    resume: str | None = None
    config: dict = field(default_factory=dict)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model, opts: TrainOptions):
    if opts.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=opts.lr, momentum=opts.momentum, weight_decay=opts.weight_decay)
    if opts.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    raise LnetError(f"unknown optimizer '{opts.optimizer}': choose sgd or adamw")


def bce_dice_loss(logits, target):
    """BCE plus (1 - soft Dice) over the batch: Dice counters the rarity of landslide pixels."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + 1.0 - dice


def validate(model, samples: list[Sample], config: ModelConfig, device: str) -> tuple[dict, dict]:
    """Dataset-level scores (summed confusion) over whole validation images, and per dataset."""
    runner = TorchRunner(model, device).activate()
    total, per_set = Confusion(), {}
    for s in samples:
        image, mask = read_pair(s, config.bands)
        c = confusion(predict_logits(runner, image, config) > 0, mask)
        total = total + c
        per_set[s.dataset] = per_set.get(s.dataset, Confusion()) + c
    return scores(total), {k: scores(v) for k, v in per_set.items()}


def train(config: ModelConfig, opts: TrainOptions, progress=None) -> Path:
    """Train and return the path of the best checkpoint (``OUT/best.pt``)."""
    from lnet_edge.model.lnet import LNet
    from lnet_edge.train.data import TileDataset, load_split

    _seed_everything(opts.seed)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if opts.device == "auto" else opts.device
    out = Path(opts.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LnetError(f"output folder {out} cannot be created ({exc.strerror}): choose another --out") from exc
    train_s, val_s = load_split([Path(d) for d in opts.data], config, opts.val_fraction)
    dataset = TileDataset(train_s, config, opts.seed)
    if len(dataset) < opts.batch:
        raise LnetError(f"{len(dataset)} training tiles is fewer than --batch {opts.batch}: lower --batch or add data")
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=opts.batch,
        shuffle=True,
        drop_last=True,
        num_workers=opts.workers,
        generator=torch.Generator().manual_seed(opts.seed),
        persistent_workers=False,
    )
    model = LNet(config).to(device)
    optim = make_optimizer(model, opts)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optim, mode="max", factor=0.1, patience=opts.patience)
    loss_fn = bce_dice_loss if opts.loss == "bce_dice" else torch.nn.BCEWithLogitsLoss()
    start_epoch, best_f1, history = 0, -1.0, []
    if opts.resume:
        ckpt = read_checkpoint(Path(opts.resume))
        if ckpt["config"] != config.to_dict():
            raise LnetError(
                f"--resume {opts.resume} was trained with another configuration: resume with the same options"
            )
        model.load_state_dict(ckpt["state_dict"])
        optim.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start_epoch, best_f1, history = ckpt["epoch"] + 1, ckpt["best_f1"], ckpt["history"]
    split = {"train": [s.key for s in train_s], "val": [s.key for s in val_s]}
    (out / "split.json").write_text(json.dumps(split, indent=1))
    t0 = time.monotonic()
    for epoch in range(start_epoch, opts.epochs):
        dataset.epoch = epoch
        model.train()
        n_steps = len(loader) if opts.steps_per_epoch is None else min(len(loader), opts.steps_per_epoch)
        task = progress.add_task(f"epoch {epoch + 1}/{opts.epochs}", total=n_steps) if progress else None
        losses = []
        for step, (x, y) in enumerate(loader):
            if step >= n_steps:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(loss.item())
            if progress:
                progress.update(
                    task, advance=1, description=f"epoch {epoch + 1}/{opts.epochs} loss {np.mean(losses):.4f}"
                )
        if progress:
            progress.remove_task(task)
        model.eval()
        val, per_set = validate(model, val_s, config, device)
        sched.step(val["f1"])
        row = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "lr": optim.param_groups[0]["lr"],
            "seconds": round(time.monotonic() - t0, 1),
            **{f"val_{k}": v for k, v in val.items()},
        }
        history.append({**row, "per_dataset": per_set})
        _write_history(out, history)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        payload = {
            "config": config.to_dict(),
            "state_dict": state,
            "epoch": epoch,
            "metrics": val,
            "metrics_per_dataset": per_set,
            "options": asdict(opts),
            "split": split,
        }
        if val["f1"] > best_f1:
            best_f1 = val["f1"]
            save_checkpoint(out / "best.pt", payload)
        save_checkpoint(
            out / "last.pt",
            {
                **payload,
                "optimizer": optim.state_dict(),
                "scheduler": sched.state_dict(),
                "best_f1": best_f1,
                "history": history,
            },
        )
        if progress:
            progress.console.print(
                f"epoch {epoch + 1}: loss {row['loss']:.4f} val F1 {val['f1']:.3f} IoU {val['iou']:.3f} "
                f"lr {row['lr']:.0e} ({row['seconds']:.0f} s)"
            )
        if opts.time_limit_min is not None and time.monotonic() - t0 > 60 * opts.time_limit_min:
            break
    return out / "best.pt"


def _write_history(out: Path, history: list[dict]) -> None:
    write_text_atomic(out / "metrics.json", json.dumps(history, indent=1))
    flat = [{k: v for k, v in h.items() if k != "per_dataset"} for h in history]
    table = io.StringIO(newline="")
    w = csv.DictWriter(table, fieldnames=list(flat[0]))
    w.writeheader()
    w.writerows(flat)
    write_text_atomic(out / "metrics.csv", table.getvalue())


__all__ = ["TrainOptions", "train", "validate", "load_model"]
