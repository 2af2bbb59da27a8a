"""scripts/pack_data.py: what travels to a GPU machine unpacks into the same samples and split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from lnet_edge.data.readers import list_samples, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.defaults import SAMPLE_TILES

ROOT = Path(__file__).resolve().parents[2]


def test_pack_and_unpack_keep_names_masks_and_split(tmp_path: Path) -> None:
    packed = tmp_path / "rgb.npz"
    for args in (["pack", str(SAMPLE_TILES), "-o", str(packed)], ["unpack", str(packed), "-o", str(tmp_path / "d")]):
        subprocess.run([sys.executable, str(ROOT / "scripts/pack_data.py"), *args], check=True, capture_output=True)
    before, after = list_samples(SAMPLE_TILES), list_samples(tmp_path / "d" / SAMPLE_TILES.name)
    assert [s.key for s in before] == [s.key for s in after]
    assert [s.key for s in split_samples(after)[1]] == [s.key for s in split_samples(before)[1]]
    for a, b in zip(before, after):
        (ia, ma), (ib, mb) = read_pair(a), read_pair(b)
        assert (ma == mb).all() and ia.shape == ib.shape
        assert np.abs(ia.astype(int) - ib.astype(int)).mean() < 3.0  # JPEG quality 90
