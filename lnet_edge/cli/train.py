"""lnet-edge train: train L-Net (or an ablation) on image/mask folders."""

from __future__ import annotations

from pathlib import Path

import typer

from lnet_edge.cli.common import console, progress_bar, user_errors
from lnet_edge.config import Preset, Variant, config_from_bands
from lnet_edge.train.options import Balance, Loss, Optimizer, Schedule


@user_errors
def train(
    data: list[Path] = typer.Option(..., "--data", "-d", help="Folder with images/ and masks/ (repeatable)."),
    out: Path = typer.Option(Path("runs/train"), "--out", "-o", help="Where checkpoints and metrics go."),
    variant: Variant = typer.Option(Variant.lnet, help="Architecture: the paper's Table 1 ablations."),
    preset: Preset = typer.Option("edge-s", help="Width preset."),
    bands: str = typer.Option("0,1,2", help="Source bands in model order, comma-separated."),
    tile: int = typer.Option(256, help="Training tile size (divisible by 16)."),
    epochs: int = typer.Option(100),
    batch: int = typer.Option(8),
    optimizer: Optimizer = typer.Option(Optimizer.sgd, help="sgd (the paper's) or adamw."),
    loss: Loss = typer.Option(Loss.bce, help="bce (the paper's) or bce_dice."),
    schedule: Schedule = typer.Option(Schedule.plateau, help="plateau (the paper's: x0.1 after --patience) or cosine."),
    lr: float | None = typer.Option(None, help="Learning rate: 1e-3, or 1e-4 with --init."),
    momentum: float = typer.Option(0.9),
    weight_decay: float = typer.Option(1e-4),
    patience: int = typer.Option(10, help="Epochs without validation F1 gain before lr x0.1."),
    val_fraction: float = typer.Option(0.2),
    seed: int = typer.Option(0),
    workers: int = typer.Option(2, help="Data-loading processes."),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ..."),
    steps_per_epoch: int | None = typer.Option(None, help="Cap on batches per epoch."),
    time_limit: float | None = typer.Option(None, help="Stop after the epoch that passes this many minutes."),
    resume: Path | None = typer.Option(None, help="Continue from a last.pt of the same options."),
    init: str | None = typer.Option(
        None, help="Start from this checkpoint's weights ('default': the shipped model): fine-tuning."
    ),
    freeze_encoder: bool = typer.Option(False, help="With --init: train only the bottleneck, decoder and head."),
    freeze_bn: bool = typer.Option(False, help="With --init: keep the initial BatchNorm statistics (fine-tuning)."),
    balance: Balance = typer.Option(
        Balance.none, help="none: every tile once an epoch; sqrt: each data folder's share ~ sqrt(its tiles)."
    ),
    ema: float = typer.Option(
        0.0, help="Validate and save a moving average of the weights (decay per step, e.g. 0.999)."
    ),
    negatives: list[Path] = typer.Option(
        [], "--negatives", "-n", help="Folder of non-landslide scenes, every mask empty (repeatable)."
    ),
    negative_share: float = typer.Option(
        0.0, help="Share of each epoch's tiles drawn from --negatives, in [0, 1); 0: validation only."
    ),
    webp_share: float = typer.Option(
        0.0, help="Share of landslide tiles re-encoded as lossy WebP q95, as the negatives are (0-1)."
    ),
    hard_negatives: float = typer.Option(
        0.0,
        help="Draw each negative tile in proportion to 1 + this x the share of its pixels the current weights "
        "mark (re-scored every epoch); 0: uniformly.",
    ),
    max_false_alarms: str | None = typer.Option(
        None,
        help="PIXELS,IMAGES: the validation negatives' budget, e.g. 0.015,0.15 (1.5 % of pixels, 15 % of images "
        "over 1 %); threshold and best checkpoint are chosen within it.",
    ),
    scene_weight: float = typer.Option(
        0.0,
        help="Weight of a scene loss beside the mask loss: a head on the network's pooled features learns whether "
        "each tile holds a landslide, so the features a scene gate reads (scripts/fit_scene_gate.py) learn it too; "
        "0: none.",
    ),
    amp: bool = typer.Option(
        True,
        help="bf16 autocast + channels-last (fp32 master weights) where the CPU or GPU has bf16; --no-amp for fp32.",
    ),
) -> None:
    """Train with the paper's recipe (SGD, lr 1e-3, batch 8, plateau x0.1, 100 epochs)."""
    from lnet_edge.train.options import FINE_TUNE_LR_FACTOR, TrainOptions
    from lnet_edge.train.trainer import train as run_train

    config = config_from_bands(_parse_bands(bands), variant, preset.value, tile)
    opts = TrainOptions(
        data=tuple(str(d) for d in data),
        out=str(out),
        epochs=epochs,
        batch=batch,
        optimizer=optimizer,
        loss=loss,
        schedule=schedule,
        lr=lr if lr is not None else 1e-3 * (FINE_TUNE_LR_FACTOR if init else 1.0),
        momentum=momentum,
        weight_decay=weight_decay,
        patience=patience,
        val_fraction=val_fraction,
        seed=seed,
        workers=workers,
        device=device,
        steps_per_epoch=steps_per_epoch,
        time_limit_min=time_limit,
        resume=str(resume) if resume else None,
        init=init,
        freeze_encoder=freeze_encoder,
        freeze_bn=freeze_bn,
        balance=balance,
        ema=ema,
        negatives=tuple(str(d) for d in negatives),
        negative_share=negative_share,
        webp_share=webp_share,
        hard_negatives=hard_negatives,
        fa_budget=_parse_budget(max_false_alarms),
        scene_weight=scene_weight,
        amp=amp,
    )
    with progress_bar() as progress:
        best = run_train(config, opts, progress)
    console.print(f"best checkpoint: {best}\nmetrics: {out / 'metrics.csv'}")


def _parse_budget(text: str | None) -> tuple[float, float] | None:
    from lnet_edge.errors import LnetError

    if text is None:
        return None
    try:
        pixels, images = (float(v) for v in text.split(","))
    except ValueError:
        raise LnetError(
            f"--max-false-alarms '{text}': give two shares, of pixels and of images marked, e.g. 0.015,0.15"
        ) from None
    return pixels, images


def _parse_bands(text: str) -> tuple[int, ...]:
    from lnet_edge.errors import LnetError

    try:
        bands = tuple(int(b) for b in text.split(","))
    except ValueError:
        raise LnetError(f"--bands '{text}' is not a comma-separated list of band indices, e.g. 0,1,2") from None
    if not bands or min(bands) < 0:
        raise LnetError(f"--bands '{text}' must list one or more non-negative band indices")
    return bands
