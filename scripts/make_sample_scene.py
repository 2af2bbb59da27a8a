"""Make the shipped sample scene lnet_edge/assets/samples/scene/sichuan_landslide003.tif.

Source: Landslide003.png of the Sichuan aerial set (shared/data/sichuan_aerial_atlan1024,
Zeng Chao et al. 2021, doi:10.11922/sciencedb.j00001.00222, CC BY 4.0), 1024 x 1024 RGB.
The PNG has no georeference. We attach a stated, plausible one so the field pipeline can be
shown end to end: WGS 84 / UTM zone 48N (EPSG:32648), 0.5 m pixels, upper-left corner at the
UTM position of 31.48 N, 103.59 E (near Yingxiu, Wenchuan county), rounded to 10 m. It is
illustrative, NOT the true location of the photo. Pixels are unchanged (lossless DEFLATE,
horizontal predictor, 256 px tiles).

Usage: python scripts/make_sample_scene.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_points

from lnet_edge.defaults import SAMPLE_SCENE

CRS = "EPSG:32648"
LON, LAT = 103.59, 31.48
RESOLUTION_M = 0.5


def main(shared: Path) -> None:
    src = shared / "sichuan_aerial_atlan1024" / "images" / "Landslide003.png"
    rgb = cv2.imread(str(src), cv2.IMREAD_COLOR)[..., ::-1]
    (x,), (y,) = warp_points("EPSG:4326", CRS, [LON], [LAT])
    x0, y0 = round(x, -1), round(y, -1)
    profile = {
        "driver": "GTiff",
        "width": rgb.shape[1],
        "height": rgb.shape[0],
        "count": 3,
        "dtype": "uint8",
        "crs": CRS,
        "transform": from_origin(x0, y0, RESOLUTION_M, RESOLUTION_M),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "zlevel": 9,
        "photometric": "RGB",
    }
    SAMPLE_SCENE.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SAMPLE_SCENE, "w", **profile) as dst:
        dst.write(np.moveaxis(rgb, -1, 0))
        dst.update_tags(
            source="Sichuan aerial Landslide003.png, Zeng Chao et al. 2021, CC BY 4.0",
            georeference="illustrative, not the true location",
        )
    print(f"wrote {SAMPLE_SCENE} ({SAMPLE_SCENE.stat().st_size / 1e6:.2f} MB), origin {x0}, {y0} {CRS}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default.resolve())
