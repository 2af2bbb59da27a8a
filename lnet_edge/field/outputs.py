"""A scene's output folder: its name, its one writer, and proof that its outputs are complete.

- **Folder names.** ``OUT/STEM/`` when the stem is unique among the run's inputs and the folder
  does not already hold another scene's outputs; ``OUT/STEM.EXT/`` when only the extension tells
  two inputs apart (``site.tif``, ``site.png``); else ``OUT/STEM-HASH/`` (8 hex digits of the
  sha256 of the scene's absolute path). Output files are named after the folder.
- **One writer.** A run holds an exclusive lock (``OUT/NAME/.lnet-edge.lock``, which records the
  holder's pid and host, and is removed when the scene is done) while it writes a scene; a second run fails that scene at once and
  names the holder. Temporary files are ``FILE.RUNID.part``: a run removes only its own, and
  those of its output names left by a run that died (it holds the lock, so no one else writes).
- **Complete means proven.** The summary, renamed into place last, records the scene's absolute
  path, size and modification time, the model's sha256, the options that shape the outputs and
  the outputs' file names relative to the folder. A scene is complete only when all of these
  match the new run and every output exists; otherwise it is rerun, and the reason is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.field import io
from lnet_edge.files import check_target

LOCK_NAME = ".lnet-edge.lock"
OPTIONS_NAME = "infer_options.json"
OUTPUT_SUFFIXES = {
    "probability": "_probability.tif",
    "mask": "_mask.tif",
    "polygons": "_landslides.geojson",
    "geopackage": "_landslides.gpkg",
    "quicklook": "_quicklook.png",
}


def _summary_of(folder: Path) -> dict | None:
    path = folder / f"{folder.name}_summary.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def path_hash(scene: Path) -> str:
    return hashlib.sha256(str(scene.resolve()).encode()).hexdigest()[:8]


def scene_folders(scenes: list[Path], out: Path) -> dict[Path, str]:
    """The output folder name of each scene (see the module docstring). A folder that already
    holds this scene's outputs keeps serving it, so a batch run in parts maps to the same names."""
    by_stem: dict[str, list[Path]] = {}
    for s in scenes:
        by_stem.setdefault(s.stem, []).append(s)
    names: dict[Path, str] = {}
    for stem, group in by_stem.items():
        if len({str(s.resolve()) for s in group}) == 1:
            wanted = {s: stem for s in group}
        elif len({s.name for s in group}) == len(group):
            wanted = {s: s.name for s in group}
        else:
            wanted = {s: f"{stem}-{path_hash(s)}" for s in group}
        for s, name in wanted.items():
            mine = str(s.resolve())
            candidates = dict.fromkeys([stem, s.name, f"{stem}-{path_hash(s)}"])
            held = {c: _held_by(out / c) for c in candidates}
            reuse = next((c for c, path in held.items() if path == mine), None)
            if reuse is not None:
                names[s] = reuse
            elif held[name] not in (None, mine):  # the folder holds another scene's outputs: keep them
                names[s] = f"{stem}-{path_hash(s)}"
            else:
                names[s] = name
    return names


def _held_by(folder: Path) -> str | None:
    """The absolute path of the scene whose outputs ``folder`` holds, if any."""
    summary = _summary_of(folder)
    identity = summary.get("scene_identity") if summary else None
    return identity.get("path") if isinstance(identity, dict) else None


def output_paths(out: Path, name: str) -> dict[str, Path]:
    """Where a scene's outputs go: OUT/NAME/NAME_*.*"""
    d = out / name
    paths = {k: d / f"{name}{suffix}" for k, suffix in OUTPUT_SUFFIXES.items()}
    return {**paths, "options": d / OPTIONS_NAME, "summary": d / f"{name}_summary.json"}


def scene_identity(scene: Path) -> dict:
    st = scene.stat()
    return {"path": str(scene.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stale_reason(paths: dict[str, Path], identity: dict, model_sha256: str | None, shaping: dict) -> str | None:
    """None when the folder holds a complete set made from this scene, model and options;
    otherwise why it must be (re)made, in a few words."""
    summary = _summary_of(paths["summary"].parent)
    if summary is None:
        return "no complete outputs"
    old_identity = summary.get("scene_identity")
    if not isinstance(old_identity, dict) or old_identity != identity:
        return "the scene file changed"
    if summary.get("model_sha256") != model_sha256:
        return "another model"
    old = summary.get("shaping_options")
    if not isinstance(old, dict):
        return "outputs made by an older lnet-edge"
    changed = [f"{k} {old.get(k)} -> {v}" for k, v in shaping.items() if old.get(k) != v]
    if changed:
        return "options changed: " + ", ".join(changed)
    listed = summary.get("outputs")
    folder = paths["summary"].parent
    if not isinstance(listed, dict) or set(listed) != set(paths) - {"summary"}:
        return "the summary lists other outputs"
    missing = [n for n in listed.values() if not isinstance(n, str) or not (folder / n).is_file()]
    if missing:
        return f"outputs missing: {', '.join(map(str, missing))}"
    return None


class SceneLock:
    """An exclusive, non-blocking lock on a scene folder, released on exit (also by the kernel
    when the process dies, so a crashed run never blocks the next one)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.path, self.fd = folder, folder / LOCK_NAME, None

    def __enter__(self) -> SceneLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise LnetError(
                    f"{self.folder} is being written by another lnet-edge run ({holder}): wait for it to "
                    "finish or give another -o"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a lock file that its holder removed while we waited to open it
                break
            os.close(fd)
        self.fd = fd
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:  # who holds it, for the message of a second run; a full disk must not stop us here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}".encode(), 0)
        except OSError:
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # removed while held: the next run makes a new one
            os.close(self.fd)  # releases the lock
            self.fd = None


def remove_parts(paths: dict[str, Path], any_run: bool = False) -> None:
    """Remove this run's ``.part`` files of these outputs (``any_run``: also those of dead runs,
    which only the lock holder may do). Files of other names are never touched."""
    for p in paths.values():
        if any_run:
            for q in p.parent.glob(p.name + ".*" + io.PART):
                if q.name[len(p.name) + 1 : -len(io.PART)].isalnum():
                    q.unlink(missing_ok=True)
        else:
            io.part_path(p).unlink(missing_ok=True)


def check_targets(paths: dict[str, Path], overwrite: bool) -> None:
    """Before a scene runs: refuse a folder or special file at any output's name and, without
    ``overwrite``, files at those names in a folder that no infer run wrote (one holding neither
    a summary nor infer_options.json: a user's own files). See files.check_target."""
    earlier = any(paths[k].is_file() for k in ("summary", "options"))  # even a damaged summary: a rerun redoes it
    for p in paths.values():
        check_target(p, overwrite, lambda _: earlier)


def commit_set(paths: dict[str, Path], summary: dict) -> None:
    """Swap a finished set of ``.part`` files in: the old summary goes first (so a crash midway
    leaves a set that is not complete), then every output, then the new summary, last. A folder
    or special file at an output's name (put there while the scene ran) is refused before
    anything is swapped, so a failed swap never leaves new outputs beside the old set."""
    for p in paths.values():
        check_target(p, True, lambda _: True)
    summary_part = io.part_path(paths["summary"])
    io.write_bytes_synced(summary_part, json.dumps(summary, indent=2).encode())
    paths["summary"].unlink(missing_ok=True)
    for key, p in paths.items():
        if key != "summary":
            io.commit(p)
    io.commit(paths["summary"])
