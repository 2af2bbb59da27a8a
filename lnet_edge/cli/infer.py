"""lnet-edge infer: map landslides on whole scenes (GeoTIFF, JPEG2000, PNG/JPEG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from lnet_edge.cli.common import (
    check_threshold,
    console,
    err_console,
    interrupts_as_keyboard,
    progress_bar,
    user_errors,
)
from lnet_edge.engines.options import Precision
from lnet_edge.errors import LnetError
from lnet_edge.field.backend import Backend


@user_errors
def infer_command(
    scenes: Annotated[
        list[Path] | None, typer.Argument(help="Scene files or folders of scenes. Default: the shipped sample scene.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one sub-folder per scene).")] = Path(
        "runs/infer"
    ),
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="A bundle folder, .plan, .onnx or .pt; default: the shipped bundle."),
    ] = None,
    backend: Annotated[
        Backend, typer.Option(help="auto: the fastest safe choice for a bundle; TensorRT for a usable plan.")
    ] = Backend.auto,
    overlap: Annotated[int, typer.Option(help="Pixels shared by neighbouring tiles (raised-cosine blended).")] = 64,
    tile: Annotated[
        int | None, typer.Option(help="Tile side fed to the network, px; default: twice the model's training tile.")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Tiles per runner call.")] = 4,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Mask threshold; default: the model's.")
    ] = None,
    min_area: Annotated[
        float, typer.Option("--min-area", min=0.0, help="Minimum mapping unit, m² (px without georeference).")
    ] = 100.0,
    scale: Annotated[
        str, typer.Option(help="auto | percentile | none | FACTOR: how non-uint8 scenes reach 0..255.")
    ] = "auto",
    gsd: Annotated[
        str, typer.Option(help="auto: resample scenes outside the model's training GSD; none; or metres per pixel.")
    ] = "auto",
    pixel_size: Annotated[float | None, typer.Option(help="Metres per pixel of scenes without a georeference.")] = None,
    tta: Annotated[
        bool, typer.Option("--tta", help="Test-time augmentation: four flips, logits averaged (4x time).")
    ] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for ONNX Runtime.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="1: read, model and write take turns; 2+: they overlap. Default: 2 when 2+ cores."),
    ] = None,
    cuda_graph: Annotated[
        bool, typer.Option("--cuda-graph", help="TensorRT, ONNX Runtime CUDA: replay each call as a CUDA graph.")
    ] = False,
    precision: Annotated[
        Precision | None, typer.Option(help="With a bundle: run this precision instead of the automatic choice.")
    ] = None,
    force_precision: Annotated[
        bool, typer.Option("--force-precision", help="Run an int8 model even though it failed its accuracy gate.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Redo scenes whose outputs are complete; replace files lnet-edge did not write."
        ),
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="local:N (N worker processes here) or tcp://HOST:PORT (a Dask scheduler): one task per scene."
        ),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            help="Most memory one scene may take, e.g. 4GB, 1.5GiB, 800MiB; auto: 80% of the machine's "
            "(of a Dask worker's limit). A scene whose plan needs more is refused before it starts."
        ),
    ] = "auto",
) -> None:
    """Probability and mask GeoTIFFs, landslide polygons, a quicklook and a summary per scene."""
    from lnet_edge.config import TILE_MULTIPLE
    from lnet_edge.defaults import SAMPLE_SCENE
    from lnet_edge.field.backend import open_field_model
    from lnet_edge.field.io import list_scenes, parse_scale_factor
    from lnet_edge.field.pipeline import InferOptions, check_workers, run_scenes
    from lnet_edge.field.resolution import check_options
    from lnet_edge.memory import parse_memory_limit

    if not scenes:
        console.print(f"no scene given: mapping the shipped sample scene {SAMPLE_SCENE}")
    paths = list_scenes(list(scenes) if scenes else [SAMPLE_SCENE])
    if not math.isfinite(min_area):
        raise LnetError(f"--min-area {min_area}: give a finite area in m² (0 keeps every polygon)")
    check_threshold(threshold)
    if scale not in ("auto", "percentile", "none"):
        parse_scale_factor(scale)
    check_options(gsd, pixel_size)
    if tile is not None and (tile < TILE_MULTIPLE or tile % TILE_MULTIPLE):
        raise LnetError(f"--tile {tile}: give a multiple of {TILE_MULTIPLE} px (e.g. 256 or 512)")
    if tile is not None and overlap >= tile:
        raise LnetError(f"--overlap {overlap} must be smaller than --tile {tile}")
    options = InferOptions(
        overlap,
        batch,
        threshold,
        min_area,
        scale,
        gsd=gsd,
        pixel_size=pixel_size,
        tta=tta,
        overwrite=overwrite,
        workers=check_workers(workers),
        tile=tile,
        memory_limit=parse_memory_limit(memory_limit),
    )
    if cluster:
        model_args = (
            str(model.resolve()) if model else None,
            backend.value,
            threads,
            precision.value if precision else None,
            force_precision,
            cuda_graph,
        )
        _infer_on_cluster(paths, out, cluster, model, model_args, options)
        return
    opened = open_field_model(
        model,
        backend,
        threads,
        cuda_graph,
        precision.value if precision else None,
        force_precision,
        say=lambda m: console.print(m, highlight=False),
    )
    runner, config = opened.runner, opened.config
    if opened.warning:
        err_console.print(f"[yellow]warning:[/] {opened.warning}", highlight=False, soft_wrap=True)
    if opened.choice:
        console.print(f"running {opened.choice}", highlight=False, soft_wrap=True)
    model_info = {
        "model": str(model or "shipped default"),
        "backend": runner.name,
        "precision": runner.precision,
        "choice": opened.choice or None,
        "model_sha256": opened.sha256,
    }
    with runner, progress_bar() as progress, interrupts_as_keyboard():
        tasks: dict = {}

        def on_start(scene: Path, n: int) -> None:
            tasks["now"] = progress.add_task(scene.name, total=n)

        results = run_scenes(
            paths,
            out,
            runner,
            config,
            options,
            model_info,
            on_start,
            on_tiles=lambda n: progress.advance(tasks["now"], n),
            warn=lambda m: progress.console.print(f"[yellow]warning:[/] {m}", highlight=False),
        )
    _report(results)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(code=1)


def _infer_on_cluster(paths, out, cluster, model, model_args: tuple, options) -> None:
    """``--cluster``: every scene a task on Dask workers, which open the model themselves
    (``model_args``: model, backend, threads, precision, force_precision, cuda_graph)."""
    from lnet_edge.field.cluster import parse_cluster, run_on_cluster

    spec = parse_cluster(cluster)
    with progress_bar() as progress, interrupts_as_keyboard():
        task = progress.add_task("scenes", total=len(paths))
        tiles = progress.add_task("tiles", total=0)

        def on_tiles(counts: dict) -> None:  # the run's tiles, each retried task counted once
            progress.update(tiles, total=counts["total"], completed=counts["done"])

        results = run_on_cluster(
            paths,
            out,
            spec,
            model_args,
            options,
            {"model": str(model or "shipped default")},
            say=lambda m: progress.console.print(m, highlight=False, soft_wrap=True),
            on_scene=lambda r: progress.advance(task),
            on_tiles=on_tiles,
            warn=lambda m: progress.console.print(f"[yellow]warning:[/] {m}", highlight=False, soft_wrap=True),
        )
    _report(results)
    console.print(f"catalogue and run summary in {out}", highlight=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(code=1)


def _report(results) -> None:
    from rich.table import Table

    table = Table(title="lnet-edge infer")
    for col in ("scene", "status", "landslides", "area", "km²/s", "outputs"):
        table.add_column(col)
    for r in results:
        s = r.summary or {}
        metric = "landslide_area_m2" in s  # a scene without a georeference is measured in pixels
        area = s.get("landslide_area_m2" if metric else "landslide_area_px2")
        rate = s.get("km2_per_second")
        table.add_row(
            r.scene.name,
            {"done": "[green]done", "skipped": "skipped", "failed": "[red]failed"}[r.status],
            str(s.get("landslide_count", "")),
            f"{area:,.0f} {'m²' if metric else 'px²'}" if area is not None else "",
            f"{rate:.4f}" if rate else "",
            str(r.out_dir),
        )
    console.print(table)
    methods = sorted({r.summary["area_method"] for r in results if r.summary and r.summary.get("area_method")})
    if methods:
        console.print(f"areas: {'; '.join(methods)}", highlight=False, soft_wrap=True)
    for r in results:
        if r.status == "failed":
            err_console.print(f"[bold red]error:[/] {r.scene}: {r.message}", highlight=False, soft_wrap=True)
        elif r.status == "done":
            note = f" ({r.message})" if r.message else ""
            console.print(f"{r.scene.name}: outputs in {r.out_dir}{note}", highlight=False, soft_wrap=True)
