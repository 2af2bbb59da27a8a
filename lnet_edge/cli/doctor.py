"""lnet-edge doctor: what this machine can run, and why not."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lnet_edge.cli.common import console, user_errors


@user_errors
def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The packages the backends run on (TensorRT, TensorRT-RTX, ONNX Runtime, torch, cuda-python
    or pycuda), CUDA driver and runtime, GPUs, DLA and Jetson facts, ONNX Runtime providers; then
    each registered backend: usable, or why not and the fix. Exits 0 even when nothing but the CPU
    works."""
    from rich.markup import escape
    from rich.table import Table

    from lnet_edge.doctor import facts

    info = facts()
    if as_json:
        typer.echo(json.dumps(info, indent=1))
        return
    plat = info["platform"]
    cuda = info["cuda"]
    rows = [
        ("platform", f"{plat['os']} {plat['arch']}, Python {plat['python']}"),
        *[(dist, version or "not installed") for dist, version in info["packages"].items()],
        ("CUDA driver / runtime", f"{cuda['driver'] or 'none'} / {cuda['runtime'] or 'none'}"),
        *[
            (f"GPU {g['index']}", f"{g['name']}, compute capability {g['compute_capability']}, {g['memory_mib']} MiB")
            for g in cuda["gpus"]
        ],
        ("GPUs", "none visible") if not cuda["gpus"] else None,
        ("DLA cores", "n/a (no full TensorRT with a GPU)" if info["dla_cores"] is None else str(info["dla_cores"])),
        (
            "Jetson",
            f"{info['jetson']['l4t']}; power mode: {info['jetson']['power_mode'] or '?'}" if info["jetson"] else "no",
        ),
        ("ONNX Runtime providers", ", ".join(info["onnxruntime_providers"]) or "-"),
    ]
    facts_table = Table(title="this machine", show_header=False)
    for row in rows:
        if row:
            facts_table.add_row(*(escape(str(cell)) for cell in row))
    console.print(facts_table)
    table = Table(title="backends")
    for col in ("backend", "device", "usable", "what runs, or why not"):
        table.add_column(col, overflow="fold")
    for b in info["backends"]:
        usable = "[green]yes" if b["usable"] else "[red]no"
        table.add_row(escape(b["backend"]), b["device"], usable, escape(b["detail"]))
    console.print(table)
    for b in info["backends"]:  # whole lines, so that each command can be copied as it is
        if b["fix"]:
            console.print(f"fix {escape(b['backend'])}: {escape(b['fix'])}", highlight=False, soft_wrap=True)
