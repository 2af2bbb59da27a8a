"""A before/after PNG a mapper can read: the before scene on the left, the after scene on the right
with new, persisting and gone landslides filled half-transparent and outlined in their class
colour, ground the before scene does not cover greyed, a legend (polygons and area per class), a
scale bar and a north arrow when georeferenced, and the model and date in a corner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.field.change import NODATA, Change
from lnet_edge.field.quicklook import MIN_SIDE, area_text, fill, nice_length, outline, to_display

CLASS_RGB: dict[Change, tuple[int, int, int]] = {
    Change.new: (255, 40, 40),  # red: what the event did
    Change.persisting: (255, 220, 0),  # yellow, as on the single-scene quicklook
    Change.gone: (40, 120, 255),  # blue: revegetated, or a false alarm of the before map
}
NO_BEFORE_RGB = (110, 110, 110)  # legend swatch of the greyed ground
GAP_PX = 8  # white between the panels
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class ChangeLegend:
    counts: dict[str, int]  # polygons per class label: "new", "persisting", "gone"
    areas: dict[str, float]  # m² per class label (px² when ``metres_per_pixel`` is None)
    metres_per_pixel: float | None  # of the after scene; None without a georeference
    north_up: bool  # the after scene's rows run north to south (no rotation)
    label: str  # model and date, for the corner
    shift_text: str | None = None  # e.g. "shift 1.4 m (applied)", the legend's last line


def display(rows: np.ndarray) -> np.ndarray:
    """HxWxC rows of any dtype -> HxWx3 uint8 RGB (band 1 as grey if C < 3): uint8 as is, other
    dtypes stretched per band from their 2nd to 98th percentile of finite values; NaN black."""
    rows = rows[..., None] if rows.ndim == 2 else rows
    if rows.dtype == np.uint8:
        return to_display(rows)
    bands = rows[..., :3] if rows.shape[-1] >= 3 else rows[..., :1]
    out = np.zeros(bands.shape, np.uint8)
    for b in range(bands.shape[-1]):
        band = bands[..., b].astype(np.float32)
        finite = np.isfinite(band)
        if not finite.any():
            continue
        lo, hi = np.percentile(band[finite], (2, 98))
        gain = 255.0 / (hi - lo) if hi > lo else 0.0  # a flat band reads black, not noise
        with np.errstate(invalid="ignore"):
            scaled = np.rint(np.clip((band - lo) * gain, 0, 255))
        out[..., b] = np.where(finite, scaled, 0).astype(np.uint8)
    return out if out.shape[-1] == 3 else np.repeat(out, 3, axis=-1)


def change_legend_lines(legend: ChangeLegend, no_before: bool = False) -> list[tuple[str, tuple[int, int, int] | None]]:
    """Legend lines, each with the colour of its swatch (None for none): a line per class, the
    greyed ground when there is some, and the shift last."""
    metric = legend.metres_per_pixel is not None
    lines: list[tuple[str, tuple[int, int, int] | None]] = [
        (f"{legend.counts.get(c.label, 0)} {c.label}, {area_text(legend.areas.get(c.label, 0.0), metric)}", rgb)
        for c, rgb in CLASS_RGB.items()
    ]
    if no_before:
        lines.append(("no before image", NO_BEFORE_RGB))
    if legend.shift_text:
        lines.append((legend.shift_text, None))
    return lines


def after_panel(after: np.ndarray, change: np.ndarray) -> np.ndarray:
    """The after scene with the change classes filled and outlined, no-before ground greyed and
    nodata black."""
    import cv2

    out = np.ascontiguousarray(after.copy())
    no_before = change == Change.no_before
    if no_before.any():
        grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) // 2  # dimmed grey: nothing to compare with
        out[no_before] = grey[no_before][:, None]
    masks = {c: change == c for c in CLASS_RGB}
    for c, rgb in CLASS_RGB.items():  # every fill first, so no fill covers a neighbour's outline
        out = fill(out, masks[c], rgb) if masks[c].any() else out
    for c, rgb in CLASS_RGB.items():
        out = outline(out, masks[c], rgb) if masks[c].any() else out
    out[change == NODATA] = 0
    return out


def _box(
    out: np.ndarray,
    lines: list[tuple[str, tuple[int, int, int] | None]],
    x: int,
    y_bottom: int,
    scale: float,
    anchor_right: bool = False,
) -> None:
    """White lines on a dark see-through panel in place, a square of its colour before a line that
    has one."""
    import cv2

    font, thick, pad = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.5)), round(10 * scale)
    sizes = [cv2.getTextSize(t, font, scale, thick)[0] for t, _ in lines]
    side = max(s[1] for s in sizes)
    indent = side + pad if any(rgb is not None for _, rgb in lines) else 0
    bw, line_h = max(s[0] for s in sizes) + 2 * pad + indent, side + pad
    x0, y0 = (x - bw if anchor_right else x), y_bottom - line_h * len(lines) - pad
    region = out[max(0, y0) : max(0, y_bottom), max(0, x0) : max(0, x0 + bw)]
    region[...] = (region * 0.35).astype(np.uint8)
    for i, (text, rgb) in enumerate(lines):
        base = y0 + (i + 1) * line_h
        cv2.putText(out, text, (x0 + pad + indent, base), font, scale, WHITE, thick, cv2.LINE_AA)
        if rgb is not None:
            cv2.rectangle(out, (x0 + pad, base - side), (x0 + pad + side, base), rgb, -1)


def _scale_bar(out: np.ndarray, metres_per_pixel: float, north_up: bool, step: float, scale: float) -> None:
    """A scale bar of a round length (bottom right) in place, a north arrow above it if north is up."""
    import cv2

    h, w = out.shape[:2]
    font, thick, pad = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.5)), round(10 * scale)
    metres = nice_length(w * step * metres_per_pixel / 5)
    bar = max(1, round(metres / (step * metres_per_pixel)))
    x1, y = w - 2 * pad, h - 2 * pad
    cv2.rectangle(out, (x1 - bar, y - round(8 * scale)), (x1, y), WHITE, -1)
    cv2.rectangle(out, (x1 - bar, y - round(8 * scale)), (x1, y), (0, 0, 0), max(1, thick // 2))
    text = f"{metres:,.0f} m" if metres < 1000 else f"{metres / 1000:,.0f} km"
    cv2.putText(out, text, (x1 - bar, y - round(14 * scale)), font, scale, WHITE, thick, cv2.LINE_AA)
    if north_up:
        ax, tip, base = x1 - bar // 2, y - round(110 * scale), y - round(50 * scale)
        cv2.arrowedLine(out, (ax, base), (ax, tip), WHITE, thick + 1, cv2.LINE_AA, tipLength=0.35)
        cv2.putText(out, "N", (ax - round(8 * scale), tip - round(6 * scale)), font, scale, WHITE, thick, cv2.LINE_AA)


def change_panels(
    before_rgb: np.ndarray,
    after_rgb: np.ndarray,
    change: np.ndarray,
    legend: ChangeLegend,
    step: float,
    max_side: int = 2048,
) -> np.ndarray:
    """Before (left) and after (right) panels of one size side by side with a white gap; the before
    scene on the after grid, the change raster at the same (decimated) size, ``step`` image pixels
    per preview pixel. Small previews are enlarged (nearest neighbour, within ``max_side``)."""
    if before_rgb.shape[:2] != after_rgb.shape[:2] or after_rgb.shape[:2] != change.shape:
        raise ValueError(f"before {before_rgb.shape}, after {after_rgb.shape} and change {change.shape} differ")
    long = max(change.shape)
    zoom = max(1, min(-(-MIN_SIDE // long), max_side // long))

    def enlarge(a: np.ndarray) -> np.ndarray:
        return a if zoom == 1 else np.repeat(np.repeat(a, zoom, 0), zoom, 1)

    change = enlarge(change)
    left = np.ascontiguousarray(enlarge(to_display(before_rgb)))
    left[change == NODATA] = 0
    right = after_panel(enlarge(to_display(after_rgb)), change)
    h, w = change.shape
    scale = max(0.4, min(w, h) / 900)
    pad = round(10 * scale)
    top = pad + round(40 * scale)
    _box(left, [("before", None)], pad, top, scale)
    _box(right, [("after", None)], pad, top, scale)
    _box(right, [(legend.label, None)], w - pad, top, scale, anchor_right=True)
    _box(right, change_legend_lines(legend, bool((change == Change.no_before).any())), pad, h - pad, scale)
    if legend.metres_per_pixel:
        _scale_bar(right, legend.metres_per_pixel, legend.north_up, step / zoom, scale)
    return np.concatenate([left, np.full((h, GAP_PX, 3), 255, np.uint8), right], axis=1)


def write_png(path: Path, image: np.ndarray) -> None:
    """Encode an RGB image as PNG into ``path`` (the caller writes under a temporary name)."""
    import cv2

    # Huffman coding only, as the single-scene quicklook: aerial imagery barely shrinks otherwise
    ok, buf = cv2.imencode(
        ".png",
        np.ascontiguousarray(image[..., ::-1]),
        [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY],
    )
    if not ok:
        raise RuntimeError("OpenCV could not encode the change quicklook PNG")
    Path(path).write_bytes(buf.tobytes())
