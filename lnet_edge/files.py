"""Files: written so that a reader never sees half of one, and identified by their sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``NAME.tmp`` beside ``path``, then rename it to ``path`` (atomic on one
    filesystem): an interrupted write leaves the old file, or none, never a truncated one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
