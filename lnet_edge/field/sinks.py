"""The writers of one scene: blended rows in, the probability and mask GeoTIFFs, the polygons
(GeoJSON and GeoPackage) and the quicklook out, every file under its ``.part`` name until
outputs.commit_set swaps the set in."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.field import io
from lnet_edge.field.options import InferOptions
from lnet_edge.field.polygons import PolygonSpec, polygon_sink
from lnet_edge.field.quicklook import Legend, Quicklook
from lnet_edge.field.vectorize import Georef


def quicklook_label(model_info: dict) -> str:
    """The quicklook's caption: the model's file name, its precision and today's date."""
    model_name = Path(str(model_info.get("model", "lnet-edge"))).name
    return f"{model_name} {model_info.get('precision', '')} | {time.strftime('%Y-%m-%d')}".replace("  ", " ")


class SceneSinks:
    """The writers of one scene; ``rows`` feeds them final rows, ``finish`` closes them with every
    output under its ``.part`` name (outputs.commit_set swaps the set in), ``abandon`` after a failure.
    ``nonfinite`` counts the NaN or infinite pixels its callers met."""

    def __init__(
        self,
        paths: dict[str, Path],
        src,
        georef: Georef,
        config: ModelConfig,
        options: InferOptions,
        threshold: float,
        metres_per_pixel: float | None = None,
        label: str = "lnet-edge",
    ) -> None:
        self.metres_per_pixel, self.label = metres_per_pixel, label
        tags = {"lnet_edge": "probability: value = round(100 p), 255 = nodata"}
        self.prob = io.BlockRowWriter(paths["probability"], src.width, src.height, src.crs, src.transform, tags)
        self.mask = io.BlockRowWriter(
            paths["mask"],
            src.width,
            src.height,
            src.crs,
            src.transform,
            {"lnet_edge": f"mask: 1 = landslide (p > {threshold}), 0 = none, 255 = nodata"},
        )
        spec = PolygonSpec(
            io.part_path(paths["polygons"]),
            io.part_path(paths["geopackage"]),
            paths["polygons"].stem,
            src.crs,
            georef,
            options.min_area_m2,
        )
        self.polygons = polygon_sink(spec, src.width * src.height, options.workers)
        self.georef, self.options, self.threshold = georef, options, threshold
        self.quicklook = Quicklook(src.height, src.width, options.quicklook_size)
        self.paths = paths
        self.count, self.area, self.dropped, self.valid, self.nonfinite = 0, 0.0, 0, 0, 0

    def rows(self, prob: np.ndarray, ok: np.ndarray, image: np.ndarray, row0: int) -> None:
        """Final rows from ``row0``: blended probabilities, valid pixels (every valid pixel lies in a
        tile that ran: a tile is skipped only when all its pixels are nodata) and the image."""
        landslide = (prob > self.threshold) & ok
        percent = np.rint(prob * np.float32(100)).astype(np.uint8)
        percent[~ok] = io.NODATA
        self.prob.write_rows(percent)
        landslide8 = landslide.view(np.uint8)  # bool is one byte of 0/1
        mask = landslide8.copy()
        mask[~ok] = io.NODATA
        self.mask.write_rows(mask)
        self.polygons.add(landslide8, prob, row0)
        self.quicklook.add(image, landslide, row0)
        self.valid += int(np.count_nonzero(ok))

    def finish(self) -> None:
        """Close every writer with its last rows; all outputs stay under their ``.part`` names."""
        stats = self.polygons.close()
        self.count, self.area, self.dropped = stats.count, stats.area, stats.dropped
        self.prob.close()
        self.mask.close()
        metric = self.georef.in_metres
        legend = Legend(
            self.count,
            self.area,
            self.metres_per_pixel if metric else None,
            self.georef.north_up,
            self.label,
        )
        self.quicklook.write(io.part_path(self.paths["quicklook"]), legend)

    def abandon(self) -> None:
        """Close whatever is still open after a failure; errors here would hide the real cause."""
        for close in (self.polygons.abandon, self.prob.close, self.mask.close):
            try:
                close()
            except Exception:  # noqa: BLE001 - the first error is the one the user sees
                pass
