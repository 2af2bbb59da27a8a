"""Read image/mask pairs from the layouts of the shared landslide sets.

Layouts: a folder with ``images/`` and ``masks/``. A mask pairs with its image by the same stem
(``10009.png`` / ``10009.png``), by ``image``->``mask`` (``image_3.h5`` / ``mask_3.h5``) or by
a ``Label`` inserted before the number (``Landslide001.png`` / ``LandslideLabel001.png``).

Mask codings (all decoded to uint8 {0,1}, 1 = landslide):
- grey 0/255 or {0,1} (PNG mode L),
- palette indices {0,1} (PNG mode P),
- colour: every channel 0 or 255, landslide = any non-zero channel,
- HDF5 ``mask`` dataset of {0,1} (Landslide4Sense).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lnet_edge.errors import LnetError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".h5", ".hdf5"}


@dataclass(frozen=True)
class Sample:
    """One source image and its mask; ``dataset`` is the folder name, used for the split."""

    dataset: str
    image: Path
    mask: Path

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.image.stem}"


def _mask_candidates(stem: str) -> list[str]:
    cands = [stem, stem.replace("image", "mask"), stem.replace("Image", "Mask")]
    m = re.fullmatch(r"(\D+?)(\d+)", stem)
    if m:
        cands.append(f"{m.group(1)}Label{m.group(2)}")
    return list(dict.fromkeys(cands))


def list_samples(root: Path) -> list[Sample]:
    """All image/mask pairs under ``root`` (sorted by image name); errors name the fix."""
    root = Path(root)
    img_dir, mask_dir = root / "images", root / "masks"
    if not root.is_dir():
        raise LnetError(f"data folder {root} does not exist: give a folder holding images/ and masks/")
    if not img_dir.is_dir() or not mask_dir.is_dir():
        raise LnetError(f"data folder {root} needs images/ and masks/ sub-folders with paired files")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise LnetError(f"{img_dir} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    masks = {p.stem: p for p in mask_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = []
    for img in images:
        match = next((masks[c] for c in _mask_candidates(img.stem) if c in masks), None)
        if match is None:
            raise LnetError(
                f"image {img} has no mask in {mask_dir} (looked for {', '.join(_mask_candidates(img.stem))}): "
                "add the mask or remove the image"
            )
        samples.append(Sample(root.name, img, match))
    return samples


def read_image(path: Path, bands: tuple[int, ...] | None = None) -> np.ndarray:
    """Read an image as HxWxC (uint8/uint16 for rasters, float32 for HDF5), bands selected."""
    path = Path(path)
    if path.suffix.lower() in {".h5", ".hdf5"}:
        arr = _read_h5(path, "img").astype(np.float32)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise LnetError(f"image {path} cannot be read: is it a truncated or non-image file?")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        elif arr.shape[2] >= 3:  # OpenCV gives BGR(A); the project speaks RGB
            arr = np.concatenate([arr[:, :, 2::-1], arr[:, :, 3:]], axis=2)
    if bands is not None:
        if max(bands) >= arr.shape[2]:
            raise LnetError(
                f"image {path} has {arr.shape[2]} bands but bands {list(bands)} were asked for: "
                "choose bands that exist (--bands) or use imagery with enough bands"
            )
        arr = arr[:, :, list(bands)]
    return np.ascontiguousarray(arr)


def read_mask(path: Path) -> np.ndarray:
    """Read a mask in any supported coding as HxW uint8 {0,1}."""
    path = Path(path)
    if path.suffix.lower() in {".h5", ".hdf5"}:
        return _check_binary(_read_h5(path, "mask"), path, "{0,1}")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError) as exc:
        raise LnetError(f"mask {path} cannot be read: is it a truncated or non-image file?") from exc
    if mode == "P":
        return _check_binary(arr, path, "palette indices {0,1}")
    if arr.ndim == 2:
        vals = np.unique(arr)
        if set(vals.tolist()) <= {0, 255}:
            return (arr > 0).astype(np.uint8)
        return _check_binary(arr, path, "0/255 or {0,1}")
    bad = (arr != 0) & (arr != 255)
    if bad.any():
        raise LnetError(
            f"mask {path} is a colour mask with {int(bad.any(axis=-1).sum())} pixels whose channels are "
            "neither 0 nor 255: colour masks must use pure colours (save as PNG, not JPEG)"
        )
    return (arr[:, :, :3] > 0).any(axis=2).astype(np.uint8)


def read_pair(sample: Sample, bands: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask of a sample, with their sizes checked against each other."""
    image, mask = read_image(sample.image, bands), read_mask(sample.mask)
    if image.shape[:2] != mask.shape:
        raise LnetError(
            f"image {sample.image} is {image.shape[1]}x{image.shape[0]} but its mask {sample.mask} is "
            f"{mask.shape[1]}x{mask.shape[0]}: masks must have their image's size"
        )
    return image, mask


def _check_binary(arr: np.ndarray, path: Path, coding: str) -> np.ndarray:
    vals = np.unique(arr)
    if not set(vals.tolist()) <= {0, 1}:
        raise LnetError(
            f"mask {path} holds values {vals[:8].tolist()} outside its coding {coding}: "
            "re-export the mask with 0 = background and 1 (or 255) = landslide"
        )
    return arr.astype(np.uint8)


def _read_h5(path: Path, key: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise LnetError(f"HDF5 file {path} has no '{key}' dataset (keys: {list(f.keys())})")
            return np.asarray(f[key])
    except OSError as exc:
        raise LnetError(f"HDF5 file {path} cannot be read: is it truncated?") from exc


def image_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of an image from its header alone (no pixel is decoded); None when the
    header cannot be read (reading the image then says why)."""
    path = Path(path)
    try:
        if path.suffix.lower() in {".h5", ".hdf5"}:
            import h5py

            with h5py.File(path, "r") as f:
                return tuple(f["img"].shape[:2]) if "img" in f else None
        from PIL import Image

        with Image.open(path) as im:
            return im.height, im.width
    except Exception:  # noqa: BLE001 - any unreadable header: the read reports it
        return None
