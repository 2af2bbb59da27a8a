"""What every command shares: the user-error handler and the rich console/progress."""

from __future__ import annotations

import contextlib
import functools
import signal
from collections.abc import Callable, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lnet_edge.errors import LnetError

console = Console()
err_console = Console(stderr=True)


def user_errors(fn: Callable) -> Callable:
    """Turn an LnetError into one red line on stderr and exit code 2, and an interrupt (Ctrl-C,
    SIGTERM under :func:`interrupts_as_keyboard`) into one line and exit code 130, with no
    traceback. The command's own cleanup has run by then (it unwinds through ``finally``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LnetError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as exc:  # a run that knows what it left says so in the exception
            what = str(exc) or "this run's partial files were removed; rerun to finish"
            err_console.print(f"[bold red]interrupted:[/] {what}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None

    return wrapper


@contextlib.contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Within the block, SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so cleanup runs."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
