"""A small PNG preview: the scene with the landslide mask outlined, built strip by strip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUTLINE_RGB = (255, 255, 0)  # yellow reads on vegetation, bare soil and water alike


def quicklook_step(height: int, width: int, max_side: int) -> int:
    """Decimation factor so that the preview's long side is at most ``max_side`` px."""
    return max(1, -(-max(height, width) // max_side))


def to_display(rows: np.ndarray) -> np.ndarray:
    """HxWxC model-range rows (about 0..255) -> HxWx3 uint8 RGB (band 1 as grey if C < 3)."""
    rgb = rows[..., :3] if rows.shape[-1] >= 3 else np.repeat(rows[..., :1], 3, axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int] = OUTLINE_RGB) -> np.ndarray:
    """Draw the outer and inner boundaries of ``mask`` > 0 over an HxWx3 uint8 image."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = np.ascontiguousarray(image.copy())
    thickness = max(1, round(max(image.shape[:2]) / 700))
    cv2.drawContours(out, contours, -1, rgb, thickness)
    return out


class Quicklook:
    """Collects every ``step``-th row and column of image and mask as strips arrive."""

    def __init__(self, height: int, width: int, max_side: int = 2048) -> None:
        self.step = quicklook_step(height, width, max_side)
        self.images: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []

    def add(self, image_rows: np.ndarray, mask_rows: np.ndarray, row0: int) -> None:
        first = (-row0) % self.step
        self.images.append(to_display(image_rows[first :: self.step, :: self.step]))
        self.masks.append(mask_rows[first :: self.step, :: self.step])

    def write(self, path: Path) -> None:
        """Encode the PNG into ``path`` (the caller writes under a temporary name)."""
        import cv2

        img = outline(np.concatenate(self.images), np.concatenate(self.masks))
        ok, buf = cv2.imencode(".png", img[..., ::-1])
        if not ok:
            raise RuntimeError("OpenCV could not encode the quicklook PNG")
        path.write_bytes(buf.tobytes())
