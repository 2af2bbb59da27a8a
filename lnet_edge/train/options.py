"""What a training run decides: torch-free, so the CLI can offer the choices without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from lnet_edge.errors import LnetError


class Optimizer(str, Enum):
    sgd = "sgd"  # the paper's
    adamw = "adamw"


class Loss(str, Enum):
    bce = "bce"  # the paper's
    bce_dice = "bce_dice"  # BCE + soft Dice, for rare landslide pixels


class Balance(str, Enum):
    none = "none"  # every tile once an epoch: sets weigh by their tile count
    sqrt = "sqrt"  # tiles drawn with replacement, each set's share of an epoch ~ sqrt(its tile count)


class Schedule(str, Enum):
    plateau = "plateau"  # the paper's: lr x0.1 after `patience` epochs without validation gain
    cosine = "cosine"  # cosine decay to 1 % of lr over `epochs`


FINE_TUNE_LR_FACTOR = 0.1  # --init without --lr: a tenth of the from-scratch learning rate


@dataclass(frozen=True)
class TrainOptions:
    """Defaults are Dong et al. 2022 section 3.3: SGD, lr 1e-3, batch 8, lr x0.1 after 10
    epochs without validation gain, 100 epochs. Momentum and weight decay are not stated in the
    paper; we use 0.9 and 1e-4 (plain SGD at lr 1e-3 barely moves in 100 epochs)."""

    data: tuple[str, ...]
    out: str = "runs/train"
    epochs: int = 100
    batch: int = 8
    optimizer: Optimizer = Optimizer.sgd
    loss: Loss = Loss.bce
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
    schedule: Schedule = Schedule.plateau
    amp: bool = True  # bf16 autocast (fp32 master weights) + channels-last: 3x faster on AVX-512 CPUs
    init: str | None = None  # start from this checkpoint's weights (fine-tuning)
    freeze_encoder: bool = False  # with init: train the bottleneck, decoder and head only
    freeze_bn: bool = False  # with init: keep the BatchNorm statistics of the initial weights
    balance: Balance = Balance.none  # how the data folders share an epoch
    ema: float = 0.0  # > 0: validate and save an exponential moving average of the weights (decay per step)
    negatives: tuple[str, ...] = ()  # folders of non-landslide scenes (every mask empty)
    negative_share: float = 0.0  # share of each epoch's tiles drawn from the negative folders
    webp_share: float = 0.0  # share of landslide-set tiles re-encoded as lossy WebP (quality 95)
    hard_negatives: float = 0.0  # > 0: negative tiles drawn in proportion to 1 + this x share marked
    fa_budget: tuple[float, float] | None = None  # (pixels, images) the validation negatives may mark
    scene_weight: float = 0.0  # > 0: a scene head learns from the pooled features whether a tile holds a landslide
    config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise LnetError(f"--epochs {self.epochs}: train for at least one epoch")
        if self.batch < 1:
            raise LnetError(f"--batch {self.batch}: give a batch of at least one tile")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise LnetError(f"--lr {self.lr}: give a finite learning rate above 0, e.g. 1e-3")
        if not 0 < self.val_fraction < 1:
            raise LnetError(f"--val-fraction {self.val_fraction}: give a fraction between 0 and 1, e.g. 0.2")
        if self.freeze_bn and not self.init:
            raise LnetError("--freeze-bn needs --init: a random network has no BatchNorm statistics worth keeping")
        if self.freeze_encoder and not self.init:
            raise LnetError("--freeze-encoder needs --init: a random encoder is not worth freezing")
        if not 0 <= self.ema < 1:
            raise LnetError(f"--ema {self.ema}: give a decay per step in [0, 1), e.g. 0.999, or 0 for none")
        if not (math.isfinite(self.negative_share) and 0 <= self.negative_share < 1):
            raise LnetError(
                f"--negative-share {self.negative_share}: give the share of an epoch drawn from the "
                "--negatives folders in [0, 1), e.g. 0.3"
            )
        if self.negative_share > 0 and not self.negatives:
            raise LnetError(
                f"--negative-share {self.negative_share} needs a folder of non-landslide scenes: add "
                "--negatives DIR (e.g. ../shared/data/bijie_negatives)"
            )
        if not (math.isfinite(self.webp_share) and 0 <= self.webp_share <= 1):
            raise LnetError(f"--webp-share {self.webp_share}: give a share of tiles in [0, 1], e.g. 0.5")
        if not (math.isfinite(self.hard_negatives) and self.hard_negatives >= 0):
            raise LnetError(f"--hard-negatives {self.hard_negatives}: give a factor of 0 (off) or more, e.g. 4")
        if self.hard_negatives > 0 and self.negative_share == 0:
            raise LnetError(
                f"--hard-negatives {self.hard_negatives} needs --negative-share above 0: it weighs the negative tiles' draws"
            )
        if self.fa_budget is not None:
            if not self.negatives:
                raise LnetError(
                    "--max-false-alarms needs --negatives: the budget is measured on their validation images"
                )
            if not all(math.isfinite(v) and 0 < v <= 1 for v in self.fa_budget):
                raise LnetError(
                    f"--max-false-alarms {','.join(map(str, self.fa_budget))}: give two shares in (0, 1], "
                    "of pixels and of images marked, e.g. 0.015,0.15"
                )
        if not (math.isfinite(self.scene_weight) and 0 <= self.scene_weight <= 10):
            raise LnetError(
                f"--scene-weight {self.scene_weight}: give a weight in [0, 10] beside the mask loss, e.g. 0.5"
            )
        overlap = sorted(set(self.data) & set(self.negatives))
        if overlap:
            raise LnetError(f"{overlap[0]} is given both as --data and as --negatives: give it once")
        if self.time_limit_min is not None and not (self.time_limit_min > 0):
            raise LnetError(f"--time-limit {self.time_limit_min}: give the minutes a run may take, above 0")
