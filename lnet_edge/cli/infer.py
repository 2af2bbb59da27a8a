"""lnet-edge infer: map landslides on whole scenes (GeoTIFF, JPEG2000, PNG/JPEG)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from lnet_edge.cli.common import console, err_console, interrupts_as_keyboard, progress_bar, user_errors
from lnet_edge.engines.options import Precision
from lnet_edge.field.backend import Backend
from lnet_edge.field.view import RunView


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
    batch: Annotated[int, typer.Option(help="Tiles per runner call.")] = 4,
    threshold: Annotated[
        float | None, typer.Option(help="Mask threshold, strictly between 0 and 1; default: the model's.")
    ] = None,
    min_area: Annotated[
        float, typer.Option("--min-area", help="Minimum mapping unit, m² (px without a georeference or --pixel-size).")
    ] = 100.0,
    scale: Annotated[
        str, typer.Option(help="auto | percentile | none | FACTOR: how non-uint8 scenes reach 0..255.")
    ] = "auto",
    gsd: Annotated[
        str, typer.Option(help="auto: resample scenes outside the model's training GSD; none; or metres per pixel.")
    ] = "auto",
    pixel_size: Annotated[
        float | None,
        typer.Option(help="Metres per pixel of scenes without a georeference: for resampling, areas and the MMU."),
    ] = None,
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
    before: Annotated[
        list[Path] | None,
        typer.Option(
            "--before", help="The same ground before the event, one per after scene in order: maps new landslides."
        ),
    ] = None,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="CSV with columns after,before: many before/after pairs.")
    ] = None,
    shift_tolerance: Annotated[
        float | None,
        typer.Option("--shift-tolerance", help="Pairs: metres a scar may move between the maps (default 2 px)."),
    ] = None,
    coregister: Annotated[
        bool, typer.Option("--coregister", help="Pairs: undo the measured shift (up to 64 px) before comparing.")
    ] = False,
    change_margin: Annotated[
        float,
        typer.Option(
            "--change-margin", help="Pairs: how far below the after map the before map must be for new (0..1)."
        ),
    ] = 0.30,
    pixel_pairs: Annotated[
        bool, typer.Option("--pixel-pairs", help="Pairs without a georeference: compare pixel for pixel.")
    ] = False,
) -> None:
    """Probability and mask GeoTIFFs, landslide polygons, a quicklook and a summary per scene;
    with --before or --pairs, the change between two dates (new, persisting, gone landslides)."""
    from lnet_edge.defaults import SAMPLE_SCENE
    from lnet_edge.field.change_map import ChangeOptions
    from lnet_edge.field.options import InferOptions, check_workers
    from lnet_edge.field.request import ModelRequest
    from lnet_edge.field.run import infer_scenes
    from lnet_edge.memory import parse_memory_limit

    options = InferOptions(
        overlap=overlap,
        batch=batch,
        threshold=threshold,
        min_area_m2=min_area,
        scale=scale,
        gsd=gsd,
        pixel_size=pixel_size,
        tta=tta,
        overwrite=overwrite,
        workers=check_workers(workers),
        tile=tile,
        memory_limit=parse_memory_limit(memory_limit),
    )
    request = ModelRequest(
        model=model,
        backend=backend.value,
        threads=threads,
        precision=precision,
        force_precision=force_precision,
        cuda_graph=cuda_graph,
    )
    change = ChangeOptions(
        shift_tolerance_m=shift_tolerance, coregister=coregister, pixel_pairs=pixel_pairs, margin=change_margin
    )
    paired = _pairs(scenes, before, pairs)
    if not scenes and paired is None:
        console.print(f"no scene given: mapping the shipped sample scene {SAMPLE_SCENE}")
    with progress_bar() as progress, interrupts_as_keyboard():
        view = _ProgressView(progress)
        results = infer_scenes(scenes or [SAMPLE_SCENE], out, request, options, cluster, view, paired, change)
    _report(results)
    if cluster:
        console.print(f"catalogue and run summary in {out}", highlight=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(code=1)


def _pairs(scenes: list[Path] | None, before: list[Path] | None, pairs: Path | None):
    """The before/after pairs of the command line, or None for single scenes."""
    from lnet_edge.errors import LnetError
    from lnet_edge.field.pairing import pairs_from_csv, pairs_from_lists

    if pairs is not None:
        if scenes or before:
            raise LnetError("--pairs lists every pair: give no scene and no --before with it")
        return pairs_from_csv(pairs)
    if before:
        if not scenes:
            raise LnetError("--before needs the after scenes: lnet-edge infer AFTER... --before BEFORE...")
        return pairs_from_lists(scenes, before)
    return None


class _ProgressView(RunView):
    """The run on the terminal: a bar per scene (a cluster run: one for scenes, one for tiles),
    messages above the bars, warnings in yellow."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.bars = progress, {}

    def say(self, message: str) -> None:
        self.progress.console.print(message, highlight=False, soft_wrap=True)

    def opened(self, warning: str | None, choice: str | None) -> None:
        if warning:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if choice:
            self.say(f"running {choice}")

    def warn(self, message: str) -> None:
        self.say(f"[yellow]warning:[/] {message}")

    def scene_started(self, scene: Path, tiles: int) -> None:
        self.bars["scene"] = self.progress.add_task(scene.name, total=tiles)

    def tiles_done(self, tiles: int) -> None:
        self.progress.advance(self.bars["scene"], tiles)

    def cluster_started(self, scenes: int) -> None:
        self.bars["scenes"] = self.progress.add_task("scenes", total=scenes)
        self.bars["tiles"] = self.progress.add_task("tiles", total=0)

    def cluster_tiles(self, counts: dict) -> None:
        self.progress.update(self.bars["tiles"], total=counts["total"], completed=counts["done"])

    def scene_done(self, result) -> None:
        self.progress.advance(self.bars["scenes"])


def _report(results) -> None:
    from rich.table import Table

    from lnet_edge.field.summary import landslide_area

    table = Table(title="lnet-edge infer")
    for col in ("scene", "status", "landslides", "area", "km²/s", "outputs"):
        table.add_column(col)
    for r in results:
        s = r.summary or {}
        area, unit = landslide_area(s)  # a scene without a georeference is measured in pixels
        rate = s.get("km2_per_second")
        table.add_row(
            r.scene.name,
            {"done": "[green]done", "skipped": "skipped", "failed": "[red]failed"}[r.status],
            str(s.get("landslide_count", "")),
            f"{area:,.0f} {unit}" if area is not None else "",
            f"{rate:.4f}" if rate else "",
            str(r.out_dir),
        )
    console.print(table)
    methods = sorted({r.summary["area_method"] for r in results if r.summary and r.summary.get("area_method")})
    if methods:
        console.print(f"areas: {'; '.join(methods)}", highlight=False, soft_wrap=True)
    for r in results:
        change = (r.summary or {}).get("change")
        if change:
            console.print(f"{r.scene.name}: {_change_line(change)}", highlight=False, soft_wrap=True)
    for r in results:
        if r.status == "failed":
            err_console.print(f"[bold red]error:[/] {r.scene}: {r.message}", highlight=False, soft_wrap=True)
        elif r.status == "done":
            note = f" ({r.message})" if r.message else ""
            console.print(f"{r.scene.name}: outputs in {r.out_dir}{note}", highlight=False, soft_wrap=True)


def _change_line(change: dict) -> str:
    """new / persisting / gone polygons and areas, and the shift, in one line."""
    parts = []
    for label in ("new", "persisting", "gone"):
        c = change["classes"][label]
        area = c.get("area_m2", c.get("area_px2"))
        unit = "m²" if "area_m2" in c else "px²"
        parts.append(f"{c['polygons']} {label} ({area:,.0f} {unit})")
    from lnet_edge.field.change_map import shift_text

    s = change["shift"]
    measured = f"shift {shift_text(s)}" + (" undone" if s["applied"] else "") if s["reliable"] else "shift not measured"
    return ", ".join(parts) + f"; {measured}"
