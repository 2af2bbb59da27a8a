"""lnet-edge eval: precision, recall, F1 and IoU of a model on image/mask folders."""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path

import typer

from lnet_edge.cli.common import console, progress_bar, user_errors
from lnet_edge.eval.alarms import MIN_AREA_M2


class Split(str, Enum):
    val = "val"
    train = "train"
    test = "test"  # the fixed held-out part (a quarter of Bijie native), see data/split.py
    all = "all"


@user_errors
def eval_command(
    data: list[Path] = typer.Option(..., "--data", "-d", help="Folder with images/ and masks/ (repeatable)."),
    model: Path | None = typer.Option(None, "--model", "-m", help=".pt or .onnx; default: the shipped model."),
    split: Split = typer.Option(Split.val, help="Which side of the deterministic split to score."),
    val_fraction: float = typer.Option(0.2, help="Must match the fraction used for training."),
    out: Path = typer.Option(Path("runs/eval"), "--out", "-o"),
    pixel_size: float | None = typer.Option(None, help="Metres per pixel of the images (for --gsd)."),
    gsd: str = typer.Option("auto", help="auto: resample images outside the model's training GSD; none; or metres."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation: four flips, logits averaged."),
    threshold: float | None = typer.Option(
        None, help="Mask threshold; default: the model's (chosen on its validation side)."
    ),
    min_area: float = typer.Option(
        MIN_AREA_M2, "--min-area", min=0.0, help="Minimum mapping unit of false-alarm polygons, m² (with --pixel-size)."
    ),
    memory_limit: str = typer.Option(
        "auto", help="Most memory one image may take, e.g. 4GB or 800MiB; auto: 80% of the machine's."
    ),
) -> None:
    """Score a model; writes eval.json and eval.md (dataset-level and per image)."""
    from lnet_edge.config import check_threshold
    from lnet_edge.data.readers import list_samples
    from lnet_edge.data.split import split_samples, split_test
    from lnet_edge.defaults import DEFAULT_ONNX
    from lnet_edge.errors import LnetError
    from lnet_edge.eval.evaluate import evaluate, markdown_table, write_report
    from lnet_edge.eval.predict import check_images
    from lnet_edge.field.resolution import check_options, resample_factor
    from lnet_edge.memory import budget, parse_memory_limit
    from lnet_edge.runners.open import open_model

    if out.exists() and not out.is_dir():
        raise LnetError(f"-o {out} is a file: give a folder for eval.json and eval.md")
    check_threshold(threshold)
    samples = [s for d in data for s in list_samples(d)]
    if split == Split.test:
        samples = split_test(samples)[1]
    elif split != Split.all:
        samples = split_samples(samples, val_fraction)[0 if split == Split.train else 1]
    if not samples:
        raise LnetError(f"no images on the '{split.value}' side of the split: use --split all for small folders")
    gsd_choice = check_options(gsd, pixel_size)
    limit = parse_memory_limit(memory_limit)
    runner, config = open_model(model or DEFAULT_ONNX)
    if threshold is not None:
        config = dataclasses.replace(config, threshold=threshold)
    factor, note = resample_factor(pixel_size, config, gsd_choice)
    if note:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    check_images(samples, config, factor, tta, budget(limit, memory_limit))  # before any image is read
    with runner, progress_bar() as progress:
        task = progress.add_task(f"eval {split.value}", total=len(samples))
        report = evaluate(runner, config, samples, lambda s: progress.advance(task), factor, tta, pixel_size, min_area)
    report["model"], report["split"] = str(model or DEFAULT_ONNX), split.value
    report["resample_factor"], report["tta"] = factor, tta
    json_path, md_path = write_report(report, out)
    bad = report["nonfinite_pixels"]
    if bad:
        console.print(
            f"[yellow]note:[/] NaN or infinite pixels in {len(bad)} images ({sum(bad.values())} pixels), e.g. "
            f"{next(iter(bad))}: filled for the model and left out of every figure",
            highlight=False,
        )
    stretched = report["scaling"]["stretched_images"]
    if stretched:
        dtypes = ", ".join(f"{n} {dtype}" for dtype, n in stretched.items())
        console.print(f"[yellow]note:[/] images not 8-bit ({dtypes}): {report['scaling']['rule']}", highlight=False)
    if report["negative_sets"]:
        console.print(
            f"{', '.join(report['negative_sets'])}: every mask empty, scored by false alarms only", highlight=False
        )
    console.print(markdown_table(report))
    console.print(f"wrote {json_path} and {md_path}")
