"""lnet-edge inspect: print a plan's manifest and, where it can load, its layer precisions."""

from __future__ import annotations

from pathlib import Path

import typer

from lnet_edge.cli.common import console, user_errors


@user_errors
def inspect_command(
    plan: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .plan built by 'lnet-edge build'."),
    layers: bool = typer.Option(
        True, "--layers/--no-layers", help="Layer precisions (needs the plan's TensorRT and GPU)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Print how PLAN was made (its manifest) and the precision of each engine layer."""
    from lnet_edge.engines.manifest import manifest_path, read_manifest
    from lnet_edge.engines.report import describe

    if json_out:
        read_manifest(plan)  # validates
        console.print_json(manifest_path(plan).read_text())
        return
    console.print(describe(plan, layers=layers), highlight=False, markup=False, soft_wrap=True)
