"""Files: written so that a reader never sees half of one, and identified by their sha256.

Every file lnet-edge writes goes to ``NAME.RUNID.part`` beside its final name first (RUNID names
this process, so a run removes only its own temporary files) and is renamed into place when
complete; a rename within one filesystem is atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from lnet_edge.errors import LnetError

PART = ".part"
RUN_ID = f"{os.getpid():x}{secrets.token_hex(3)}"  # names this process's temporary files


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def part_path(path: Path) -> Path:
    """This run's temporary name for ``path``: ``NAME.RUNID.part``."""
    path = Path(path)
    return path.with_name(f"{path.name}.{RUN_ID}{PART}")


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to this run's ``.part`` file beside ``path``, then rename it to ``path``: an
    interrupted write leaves the old file, or none, never a truncated one."""
    path = Path(path)
    part = part_path(path)
    try:
        part.write_text(text)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def check_target(path: Path, overwrite: bool, ours: Callable[[Path], bool]) -> None:
    """Refuse to write ``path`` over what its writer did not make (docs/style.md, 20).

    Absent: fine. A regular file (or a link to one) that ``ours`` recognises as an earlier output
    of lnet-edge: fine. Any other file: only with ``overwrite`` (the user's ``--overwrite``). A
    folder or special file: never, since only files are ever replaced and nothing is deleted."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise LnetError(
            f"{path} is a folder (or not a regular file) where lnet-edge writes a file: move it away or "
            "choose another -o"
        )
    if not overwrite and not ours(path):
        raise LnetError(
            f"{path} already exists and was not written by lnet-edge: move it away, choose another -o, "
            "or give --overwrite to replace it"
        )


class StagedFiles:
    """Files of one run written into ``folder`` under this run's ``.part`` names, then renamed into
    place by :meth:`commit` in the order they were staged (stage an index last).

    Each final name is checked by :func:`check_target` when it is staged, so a refusal comes before
    any work on that file. Whatever happens before the commit, only this run's ``.part`` files are
    removed (and ``folder`` itself when this run made it and it is empty): nothing under a final
    name is touched."""

    def __init__(self, folder: Path, overwrite: bool, ours: Callable[[Path], bool]) -> None:
        self.folder, self.overwrite, self.ours = Path(folder), overwrite, ours
        self.staged: dict[Path, Path] = {}  # final name -> this run's part file
        self.made_folder = False

    def __enter__(self) -> StagedFiles:
        if self.folder.exists() and not self.folder.is_dir():
            raise LnetError(f"{self.folder} is a file, not a folder: choose another -o")
        self.made_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def part(self, name: str) -> Path:
        """Where to write the file that becomes ``folder/name`` at the commit."""
        final = self.folder / name
        if final in self.staged:
            raise LnetError(f"two files of this run would be written to {final}: give them different names")
        check_target(final, self.overwrite, self.ours)
        self.staged[final] = part_path(final)
        return self.staged[final]

    def commit(self) -> None:
        for final, part in list(self.staged.items()):
            os.replace(part, final)
            del self.staged[final]

    def __exit__(self, exc_type, *_) -> None:
        for part in self.staged.values():
            part.unlink(missing_ok=True)
        if exc_type is not None and self.made_folder:
            with contextlib.suppress(OSError):  # not empty: something else lives there now
                self.folder.rmdir()
