"""The lnet-edge command: each sub-command lives in its own module."""

from __future__ import annotations

import typer

from lnet_edge.cli.bench import bench_command
from lnet_edge.cli.build import build_command
from lnet_edge.cli.calibrate import calibrate_command
from lnet_edge.cli.doctor import doctor_command
from lnet_edge.cli.eval import eval_command
from lnet_edge.cli.export import export_command
from lnet_edge.cli.infer import infer_command
from lnet_edge.cli.inspect import inspect_command
from lnet_edge.cli.pack import pack_command
from lnet_edge.cli.train import train

app = typer.Typer(
    name="lnet-edge",
    help="L-Net landslide mapping: train, evaluate, export, calibrate, build engines, benchmark, map scenes; doctor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("train")(train)
app.command("eval")(eval_command)
app.command("export")(export_command)
app.command("calibrate")(calibrate_command)
app.command("pack")(pack_command)
app.command("build")(build_command)
app.command("inspect")(inspect_command)
app.command("infer")(infer_command)
app.command("bench")(bench_command)
app.command("doctor")(doctor_command)

if __name__ == "__main__":
    app()
