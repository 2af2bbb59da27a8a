"""Manifest and options round trips (pure Python, no TensorRT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lnet_edge.config import l4s_config
from lnet_edge.engines.manifest import Manifest, manifest_path, read_manifest
from lnet_edge.engines.options import BuildOptions, HardwareCompat, Precision, Profile
from lnet_edge.errors import LnetError


def make_manifest(**changes) -> Manifest:
    fields = dict(  # noqa: C408  (keyword form mirrors the dataclass)
        flavour="tensorrt",
        trt_version="10.3.0.26",
        precision="fp16",
        strongly_typed=False,
        targets=("8.7",),
        build_gpu={"name": "Orin", "compute_capability": "8.7"},
        options=BuildOptions(
            precision=Precision.fp16,
            flavour="tensorrt",
            profile=Profile(1, 2, 4, 128, 256, 512),
            workspace_mib=512,
            timing_cache=Path("/tmp/tc"),
            opt_level=3,
            hardware_compat=HardwareCompat.same_cc,
            calibration_cache=None,
        ),
        source_onnx="/models/m.onnx",
        onnx_sha256="a" * 64,
        calibration_sha256="b" * 64,
        config=l4s_config(),
        network={"layers": 3},
        plan_bytes=100,
        plan_sha256="c" * 64,
        lnet_edge_version="0.1.0",
        build_seconds=1.5,
        created="2026-11-26T00:00:00+00:00",
    )
    fields.update(changes)
    return Manifest(**fields)


def test_manifest_round_trip(tmp_path):
    m = make_manifest()
    plan = tmp_path / "m.plan"
    m.save(manifest_path(plan))
    assert manifest_path(plan).name == "m.plan.json"
    assert read_manifest(plan) == m
    assert not list(tmp_path.glob("*.tmp"))


def test_options_round_trip_through_json():
    o = make_manifest().options
    assert BuildOptions.from_dict(json.loads(json.dumps(o.to_dict()))) == o


def test_missing_or_foreign_manifest_is_a_clear_error(tmp_path):
    plan = tmp_path / "x.plan"
    with pytest.raises(LnetError, match="no manifest"):
        read_manifest(plan)
    manifest_path(plan).write_text('{"hello": 1}')
    with pytest.raises(LnetError, match="not an lnet-edge plan manifest"):
        read_manifest(plan)
    manifest_path(plan).write_text("{not json")
    with pytest.raises(LnetError, match="unreadable"):
        read_manifest(plan)


@pytest.mark.parametrize(
    "args",
    [
        (1, 9, 8, 128, 256, 512),
        (4, 2, 8, 128, 256, 512),
        (1, 1, 1, 256, 128, 512),
        (0, 1, 1, 128, 256, 512),
        (1, 1, 1, 128, 250, 512),
    ],
)
def test_profile_validation(args):
    with pytest.raises(LnetError, match="profile"):
        Profile(*args)


def test_profile_parse_and_contains():
    p = Profile.parse("1,2,4", "256")
    assert (p.min_tile, p.opt_tile, p.max_tile) == (256, 256, 256)
    assert p.contains((2, 3, 256, 256)) and not p.contains((5, 3, 256, 256)) and not p.contains((1, 3, 128, 256))
    assert p.shapes(3) == ((1, 3, 256, 256), (2, 3, 256, 256), (4, 3, 256, 256))
    with pytest.raises(LnetError, match="min,opt,max"):
        Profile.parse("1,x,4", "256")
