"""lnet-edge build: an ONNX model to a TensorRT plan plus its manifest (engines/NAME.plan[.json])."""

from __future__ import annotations

from pathlib import Path

import typer

from lnet_edge.cli.common import console, err_console, user_errors
from lnet_edge.engines.flavour import Flavour
from lnet_edge.engines.options import HardwareCompat, Precision


@user_errors
def build_command(
    onnx: Path = typer.Argument(..., exists=True, help="ONNX model (fp32, fp16 or int8 QDQ) or a bundle folder."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Plan path (default: engines/NAME-PRECISION.plan)."),
    precision: Precision | None = typer.Option(None, "--precision", "-p", help="Default: the ONNX's own."),
    int8: bool = typer.Option(False, "--int8", help="Short for --precision int8."),
    flavour: Flavour | None = typer.Option(None, "--flavour", help="Default: whichever TensorRT is installed."),
    batch: str = typer.Option("1,4,8", "--batch", help="Profile batch min,opt,max."),
    tile: str = typer.Option("128,256,512", "--tile", help="Profile tile side min,opt,max (multiples of 16)."),
    workspace: int | None = typer.Option(None, "--workspace", help="Workspace limit in MiB (Jetson: keep it small)."),
    timing_cache: Path | None = typer.Option(
        None, "--timing-cache", dir_okay=False, help="Persistent timing cache file."
    ),
    opt_level: int | None = typer.Option(None, "--opt-level", help="Builder optimisation level 0..5."),
    dla_core: int | None = typer.Option(None, "--dla-core", help="Run on this DLA core (Jetson)."),
    no_gpu_fallback: bool = typer.Option(
        False, "--no-gpu-fallback", help="With --dla-core: fail instead of falling back to the GPU."
    ),
    hardware_compat: HardwareCompat = typer.Option(HardwareCompat.none, "--hardware-compat"),
    version_compatible: bool = typer.Option(
        False, "--version-compatible", help="Plan loadable by later TensorRT versions."
    ),
    target: str | None = typer.Option(None, "--target", help="TensorRT-RTX: compute capabilities, e.g. 8.6,12.0."),
    calibration_cache: Path | None = typer.Option(
        None, "--calibration-cache", exists=True, dir_okay=False, help="INT8 cache for TensorRT < 10.12 (flag path)."
    ),
    data: list[Path] | None = typer.Option(
        None, "--data", "-d", help="With --int8 and no calibration yet: calibrate on these folders first."
    ),
    calibration: Path = typer.Option(Path("calibration"), help="Where calibration artifacts are looked for and made."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace files at the output names that lnet-edge did not write."
    ),
) -> None:
    """Build engines/NAME.plan (exactly what TensorRT serialised) and NAME.plan.json beside it."""
    from lnet_edge.deploy import plan_from_source
    from lnet_edge.engines.manifest import read_manifest
    from lnet_edge.engines.options import BuildOptions, Profile
    from lnet_edge.errors import LnetError

    if int8 and precision not in (None, Precision.int8):
        raise LnetError(f"--int8 and --precision {precision.value} contradict each other: give one")
    options = BuildOptions(
        precision=Precision.int8 if int8 else precision,
        flavour=flavour,
        profile=Profile.parse(batch, tile),
        workspace_mib=workspace,
        timing_cache=timing_cache,
        opt_level=opt_level,
        dla_core=dla_core,
        gpu_fallback=not no_gpu_fallback,
        hardware_compat=hardware_compat,
        version_compatible=version_compatible,
        targets=tuple(t.strip() for t in target.split(",")) if target else (),
        calibration_cache=calibration_cache,
    )
    with _progress() as report:
        plan = plan_from_source(
            onnx,
            out,
            options,
            data,
            calibration,
            overwrite,
            progress=report,
            warn=lambda msg: err_console.print(f"[yellow]warning:[/] {msg}", highlight=False),
            say=lambda msg: console.print(msg, highlight=False),
        )
    m = read_manifest(plan)
    console.print(
        f"built {plan} ({m.plan_bytes / 2**20:.1f} MiB, {m.flavour} {m.trt_version}, {m.precision}, "
        f"{m.build_seconds:.1f} s) and {plan.name}.json",
        highlight=False,
    )


class _progress:
    """TensorRT's build phases as rich progress bars (top-level phases only, to stay readable)."""

    def __enter__(self):
        from lnet_edge.cli.common import progress_bar

        self.bar, self.tasks, self.depth = progress_bar(), {}, 0
        self.bar.start()
        return self.report

    def report(self, event: str, phase: str, step: int, steps: int) -> None:
        if event == "start":
            self.depth += 1
            if self.depth <= 2:
                self.tasks[phase] = self.bar.add_task(("  " * (self.depth - 1)) + phase, total=max(steps, 1))
        elif event == "finish":
            self.depth -= 1
        if phase in self.tasks:
            self.bar.update(self.tasks[phase], completed=steps if event == "finish" else step)

    def __exit__(self, *exc) -> None:
        self.bar.stop()
