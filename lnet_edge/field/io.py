"""Windowed scene reading and crash-safe output writing (rasterio/GDAL).

Scenes are read one strip of rows at a time and outputs written in whole block rows, so memory
stays O(strip) for any scene size. Every output is written under ``NAME.part`` and renamed only
when complete: an interrupted run (full disk, power cut) never leaves a file that looks done.
"""

from __future__ import annotations

import errno
import math
import os
import warnings
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.scaling import Scaling, fill_nonfinite, percentile_scaling
from lnet_edge.errors import LnetError
from lnet_edge.files import PART, part_path  # noqa: F401 - PART for the clean-up of dead runs (outputs.py)

SCENE_SUFFIXES = (".tif", ".tiff", ".jp2", ".j2k", ".png", ".jpg", ".jpeg", ".vrt", ".img")
BLOCK = 256  # GeoTIFF block edge of every output raster
NODATA = 255  # nodata of the probability (0..100 %) and mask (0/1) rasters
ZLEVEL = 1  # deflate level of the outputs: 6x faster to write than GDAL's default 6 on a real probability map


def list_scenes(paths: list[Path]) -> list[Path]:
    """Scene files from files and folders (a folder contributes its scene files, sorted)."""
    scenes: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in SCENE_SUFFIXES and q.is_file())
            if not found:
                raise LnetError(f"folder {p} holds no scene ({', '.join(SCENE_SUFFIXES)})")
            scenes += found
        elif p.is_file():
            scenes.append(p)
        elif p.exists():
            raise LnetError(
                f"scene {p} is not a regular file (a pipe or device?): give GeoTIFF/JPEG2000/PNG/JPEG files"
            )
        else:
            raise LnetError(f"scene {p} does not exist: give GeoTIFF/JPEG2000/PNG/JPEG files or folders")
    return scenes


def open_scene(path: Path):
    """Open a scene with rasterio, turning GDAL's errors into one clear LnetError."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except (RasterioError, OSError) as exc:
        raise LnetError(f"cannot read scene {path}: {str(exc)[:200]} (corrupt, truncated or not an image?)") from exc


def check_bands(src, config: ModelConfig, path: Path) -> list[int]:
    """The 1-based rasterio band indexes the model reads, or an LnetError if the scene lacks some
    or they hold complex values (radar data: the model maps real-valued imagery)."""
    need = max(config.bands) + 1
    if src.count < need:
        names = ", ".join(config.band_names)
        raise LnetError(
            f"scene {path} has {src.count} band(s) but the model reads bands "
            f"{[b + 1 for b in config.bands]} ({names}): give a scene with at least {need} bands"
        )
    indexes = [b + 1 for b in config.bands]
    complex_bands = [i for i in indexes if "complex" in src.dtypes[i - 1]]  # complex64/128, GDAL's complex_int16
    if complex_bands:
        raise LnetError(
            f"scene {path} holds complex values ({src.dtypes[complex_bands[0] - 1]}) in band(s) {complex_bands}: "
            "the model maps real-valued imagery; write the amplitude (abs) or the bands the model reads as a "
            "real-valued raster and give that"
        )
    return indexes


def read_strip(src, indexes: list[int], row: int, height: int, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows [row, row + height) of the selected bands (HxWxC, source dtype) and the valid mask
    (GDAL's dataset mask: nodata value, alpha band or internal mask; and, whatever the nodata tag
    says, every pixel with a NaN or infinite band value, whose values are set to 0 here), and the
    mask of those non-finite pixels."""
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    win = Window(0, row, src.width, height)
    try:
        data = src.read(indexes, window=win)
        valid = src.dataset_mask(window=win) > 0
    except (RasterioError, OSError) as exc:
        raise LnetError(f"cannot read rows {row}-{row + height} of {path}: {str(exc)[:200]} (truncated file?)") from exc
    data = np.moveaxis(data, 0, -1)  # a view: the bands stay planes in memory, as the NCHW batches want them
    data, nonfinite = fill_nonfinite(data)
    return data, valid & ~nonfinite, nonfinite


def choose_scaling(src, indexes: list[int], config: ModelConfig, scale: str) -> Scaling:
    """How raw scene values become the range the model was trained on.

    ``scale``: "auto" (uint8 scenes, and any scene for a model not trained on 0..255, are fed
    unchanged; other dtypes for a uint8-trained model get the percentile stretch), "percentile"
    (per band, the 2nd..98th percentile of the valid pixels of a decimated read (at most about
    1024 px on the long side, so memory stays bounded) is mapped linearly to 0..255, clipped),
    "none", or a number (raw x factor, e.g. 0.0625 for 12-bit data in 16-bit files).
    """
    n = len(indexes)
    uint8_model = config.uint8_range
    method = scale
    if scale == "auto":
        method = "percentile" if uint8_model and src.dtypes[indexes[0] - 1] != "uint8" else "none"
    if method == "none":
        return Scaling((0.0,) * n, (1.0,) * n, False, "none")
    if method == "percentile":
        return _percentile_scaling(src, indexes)
    factor = parse_scale_factor(method)
    return Scaling((0.0,) * n, (factor,) * n, uint8_model, f"factor {factor:g}")


def parse_scale_factor(text: str) -> float:
    """A ``--scale`` number: finite and above 0, or one clear error."""
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise LnetError(f"--scale '{text}': give auto, percentile, none or a finite number above 0 such as 0.0625")
    return factor


def _percentile_scaling(src, indexes: list[int]) -> Scaling:
    f = max(1, -(-max(src.height, src.width) // 1024))
    shape = (len(indexes), max(1, src.height // f), max(1, src.width // f))
    return percentile_scaling(src.read(indexes, out_shape=shape, masked=True))


def commit(path: Path) -> None:
    """Rename a finished ``NAME.RUNID.part`` to ``NAME`` (atomic on one filesystem)."""
    os.replace(part_path(path), path)


def write_bytes_synced(path: Path, data: bytes) -> None:
    """Write and fsync, so a full disk is an error here, not a short file later."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def root_os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself, its cause or context), or one read from GDAL's message."""
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            return e
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)  # `from None` ends the chain
    text = str(exc).lower()
    for code, words in ((errno.ENOSPC, "no space left"), (errno.EACCES, "permission denied")):
        if words in text:
            return OSError(code, os.strerror(code))
    return None


def describe_os_error(exc: OSError, where: Path) -> str:
    """One line that says what went wrong writing ``where`` and how to fix it."""
    if exc.errno == errno.ENAMETOOLONG:
        return f"cannot write {where}: the name is too long for the filesystem; give a shorter -o"
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing {where}: free space (or choose another -o) and rerun"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {where} ({exc.strerror}): choose a writable output folder with -o"
    return f"cannot write {where}: {exc} (check the output folder given with -o)"


class BlockRowWriter:
    """Writes a uint8 single-band GeoTIFF row strip by row strip, in whole block rows.

    Rows are buffered until a full block row (``BLOCK`` rows) is ready, so every compressed
    block is written exactly once (no read-modify-write, no fragmented file).
    """

    def __init__(self, path: Path, width: int, height: int, crs, transform, tags: dict[str, str]) -> None:
        import rasterio

        self.path, self.width, self.height = path, width, height
        profile = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": 1,
            "dtype": "uint8",
            "crs": crs,
            "transform": transform,
            "nodata": NODATA,
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            "compress": "deflate",
            "zlevel": ZLEVEL,
            "BIGTIFF": "IF_SAFER",
        }
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():  # a PNG scene: pixel units, already said once
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self.dst = rasterio.open(part_path(path), "w", **profile)
        self.dst.update_tags(**tags)
        self.buffer: list[np.ndarray] = []
        self.buffered_from = 0

    def write_rows(self, rows: np.ndarray) -> None:
        self.buffer.append(rows)
        total = self.buffered_from + sum(len(b) for b in self.buffer)
        ready = total if total == self.height else (total // BLOCK) * BLOCK
        if ready > self.buffered_from:
            data = np.concatenate(self.buffer)
            n = ready - self.buffered_from
            self._write(data[:n], self.buffered_from)
            self.buffer, self.buffered_from = [data[n:]], ready

    def _write(self, data: np.ndarray, row: int) -> None:
        from rasterio.windows import Window

        self.dst.write(data, 1, window=Window(0, row, self.width, len(data)))

    def close(self) -> None:
        """Close the ``.part`` file (the caller renames the finished set)."""
        self.dst.close()
