"""``infer --pairs --cluster local:2``: both scenes of every pair mapped on Dask workers, the
change sets made on the client, and a catalogue whose landslides carry their change class."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from rasterio.windows import Window

from lnet_edge.field.catalogue import CATALOGUE, RUN_SUMMARY

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
SAMPLE = ROOT / "lnet_edge" / "assets" / "samples" / "scene" / "sichuan_landslide003.tif"


def _write_scene(path: Path, window: Window | None = None, east_m: float = 0.0, gain=1.0, bias=0, bands=3) -> Path:
    """The sample scene (or a window of it) with its colours changed, ``east_m`` metres off, in
    its first ``bands`` bands."""
    with rasterio.open(SAMPLE) as src:
        window = window or Window(0, 0, src.width, src.height)
        img, profile, t = src.read(window=window)[:bands], src.profile, src.transform
    img = np.clip(img * gain + bias, 0, 255).astype(np.uint8)
    x0, y0 = t.c + window.col_off * t.a + east_m, t.f + window.row_off * t.e
    profile.update(count=bands, width=window.width, height=window.height, transform=Affine(t.a, 0, x0, 0, t.e, y0))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(img)
    return path


@pytest.mark.slow
def test_pairs_on_a_local_cluster_give_change_sets_and_a_catalogue_with_change_classes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lnet_edge.cli.main import app

    _write_scene(tmp_path / "before.tif", east_m=1.5, gain=0.8, bias=20)  # 3 px east at 0.5 m
    _write_scene(tmp_path / "crop.tif", Window(256, 512, 256, 256))
    _write_scene(tmp_path / "gray.tif", Window(256, 512, 256, 256), bands=1)  # the model reads 3 bands
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"after,before\n{SAMPLE},before.tif\ncrop.tif,gray.tif\n")
    out = tmp_path / "out"
    args = ["infer", "--pairs", str(pairs), "-o", str(out), "--cluster", "local:2", "--model", str(MODEL)]
    result = CliRunner().invoke(app, [*args, "--threads", "1"])
    assert result.exit_code == 1, result.output  # the crop's before scene failed on its worker

    folder = out / SAMPLE.stem
    change = json.loads((folder / f"{SAMPLE.stem}_change_summary.json").read_text())
    assert change["outputs"] and all((folder / n).is_file() for n in change["outputs"].values())
    after = json.loads((folder / f"{SAMPLE.stem}_summary.json").read_text())
    assert change["model_sha256"] == after["model_sha256"] is not None  # what the workers opened
    assert (folder / "before" / "before_summary.json").is_file()
    assert not list((out / "crop").glob("*change*")) and (out / "crop" / "before").is_dir()
    run = json.loads((out / RUN_SUMMARY).read_text())
    assert [f["scene"] for f in run["failed"]] == [str(tmp_path / "crop.tif")]
    assert "before scene" in run["failed"][0]["reason"] and str(SAMPLE) in run["done"]

    with sqlite3.connect(out / CATALOGUE) as db:
        columns = [c[1] for c in db.execute("PRAGMA table_info(landslides)")]
        rows = db.execute("SELECT scene_id, change FROM landslides").fetchall()
    assert "change" in columns
    assert {s for s, _ in rows} == {SAMPLE.stem, "crop"}  # no before scene is a scene of the catalogue
    assert "persisting" in {c for s, c in rows if s == SAMPLE.stem}
    assert {c for s, c in rows if s == "crop"} == {None}  # mapped, but its pair has no change set
