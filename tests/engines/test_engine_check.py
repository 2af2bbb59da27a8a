"""The check before loading, on hand-made mismatches of a real TensorRT-RTX plan.

``Installed`` stands for the machine that would load the plan (flavour, version, GPU); it is a
plain value, so these tests check lnet-edge's comparison logic, not TensorRT itself.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil

import pytest

from lnet_edge.engines.check import Installed, check_plan, mismatches, rebuild_command
from lnet_edge.engines.flavour import Flavour
from lnet_edge.engines.manifest import manifest_path, read_manifest
from lnet_edge.engines.options import HardwareCompat
from lnet_edge.errors import LnetError

RTX_AMPERE = Installed(Flavour.tensorrt_rtx, "1.7.1.116", "NVIDIA RTX A4000", "8.6")


@pytest.fixture()
def plan(rtx_plans, tmp_path):
    """A private copy of the fp32 plan and its manifest, free to damage."""
    dst = tmp_path / "m.plan"
    shutil.copy(rtx_plans["fp32"], dst)
    shutil.copy(manifest_path(rtx_plans["fp32"]), manifest_path(dst))
    return dst


def edit_manifest(plan, **changes):
    path = manifest_path(plan)
    d = json.loads(path.read_text())
    d.update(changes)
    path.write_text(json.dumps(d))


def test_fitting_plan_passes(plan):
    assert check_plan(plan, RTX_AMPERE).precision == "fp32"


def test_other_version_names_both_sides_and_the_fix(plan):
    with pytest.raises(LnetError) as err:
        check_plan(plan, dataclasses.replace(RTX_AMPERE, version="1.6.0.5"))
    msg = str(err.value)
    assert "1.7.1.116" in msg and "1.6.0.5" in msg and "lnet-edge build" in msg and str(plan) in msg


def test_other_flavour(plan):
    with pytest.raises(LnetError, match=r"tensorrt-rtx 1\.7.*tensorrt 10\.3.*--flavour tensorrt"):
        check_plan(plan, Installed(Flavour.tensorrt, "10.3.0.26", "Orin", "8.7"))


def test_h100_is_refused_with_the_full_tensorrt_hint(plan):
    with pytest.raises(LnetError, match=r"does not run on NVIDIA H100.*9\.0.*--flavour tensorrt"):
        check_plan(plan, Installed(Flavour.tensorrt_rtx, "1.7.1.116", "NVIDIA H100", "9.0"))


def test_compute_capability_outside_the_targets(plan):
    with pytest.raises(LnetError, match=r"8\.0, 8\.6.*7\.5.*--target 7\.5"):
        check_plan(plan, dataclasses.replace(RTX_AMPERE, gpu_name="RTX 2080", compute_capability="7.5"))


def test_no_gpu(plan):
    with pytest.raises(LnetError, match="no CUDA GPU"):
        check_plan(plan, dataclasses.replace(RTX_AMPERE, gpu_name=None, compute_capability=None))


def test_truncated_plan(plan):
    plan.write_bytes(plan.read_bytes()[:4096])
    with pytest.raises(LnetError, match="truncated or replaced.*4096 bytes.*lnet-edge build"):
        check_plan(plan, RTX_AMPERE)


def test_truncated_plan_with_a_matching_size_is_caught_by_the_hash(plan):
    plan.write_bytes(plan.read_bytes()[:4096])
    edit_manifest(plan, plan_bytes=4096)
    with pytest.raises(LnetError, match="changed after its manifest"):
        check_plan(plan, RTX_AMPERE)


def test_foreign_file(plan):
    plan.write_bytes(b"PK\x03\x04" + bytes(100))
    edit_manifest(plan, plan_bytes=104)
    with pytest.raises(LnetError, match="changed after its manifest"):
        check_plan(plan, RTX_AMPERE)


def test_an_unknown_header_layout_is_never_a_reason_to_refuse(plan):
    """Plan headers are not documented: a plan whose first bytes we do not recognise, but whose
    size and sha256 match its manifest, passes."""
    data = b"xtrt" + plan.read_bytes()[4:]
    plan.write_bytes(data)
    edit_manifest(plan, plan_sha256=__import__("hashlib").sha256(data).hexdigest())
    assert check_plan(plan, RTX_AMPERE).precision == "fp32"


def test_a_plan_from_another_platform_is_refused_naming_both(plan):
    orin = dataclasses.replace(RTX_AMPERE, platform={"os": "Linux", "arch": "aarch64"})
    with pytest.raises(LnetError, match=r"built on Linux/x86_64, this machine is Linux/aarch64.*lnet-edge build"):
        check_plan(plan, orin)
    assert check_plan(plan, dataclasses.replace(RTX_AMPERE, platform={"os": "Linux", "arch": "x86_64"}))


def test_a_plan_that_is_not_version_compatible_needs_all_four_version_parts(plan):
    m = dataclasses.replace(read_manifest(plan), flavour="tensorrt", trt_version="10.3.0.26", targets=("8.7",))
    orin = Installed(Flavour.tensorrt, "10.3.0.26", "Jetson AGX Orin", "8.7")
    assert mismatches(m, orin) == []
    [msg] = mismatches(m, dataclasses.replace(orin, version="10.3.0.30"))
    assert "10.3.0.26" in msg and "10.3.0.30" in msg


def test_changed_plan(plan):
    edit_manifest(plan, plan_sha256="0" * 64)
    with pytest.raises(LnetError, match="changed after its manifest"):
        check_plan(plan, RTX_AMPERE)
    assert check_plan(plan, RTX_AMPERE, verify_hash=False)


def test_full_tensorrt_rules(plan):
    """Full TensorRT: the build GPU's compute capability, hardware-compat and version-compat levels."""
    m = dataclasses.replace(
        read_manifest(plan),
        flavour="tensorrt",
        trt_version="10.3.0.26",
        targets=("8.7",),
        build_gpu={"name": "Jetson AGX Orin", "compute_capability": "8.7"},
    )
    orin = Installed(Flavour.tensorrt, "10.3.0.26", "Jetson AGX Orin", "8.7")
    a4000 = Installed(Flavour.tensorrt, "10.3.0.26", "NVIDIA RTX A4000", "8.6")
    assert mismatches(m, orin) == []
    [msg] = mismatches(m, a4000)
    assert "Jetson AGX Orin (compute capability 8.7)" in msg and "RTX A4000 (compute capability 8.6)" in msg
    ampere = dataclasses.replace(m, options=m.options.with_(hardware_compat=HardwareCompat.ampere_plus))
    assert mismatches(ampere, a4000) == []
    assert "--hardware-compat ampere-plus" in rebuild_command(ampere)
    newer = dataclasses.replace(orin, version="10.7.0.23")
    assert mismatches(m, newer) and "10.3.0.26" in mismatches(m, newer)[0]
    vc = dataclasses.replace(m, options=m.options.with_(version_compatible=True))
    assert mismatches(vc, newer) == [] and mismatches(vc, dataclasses.replace(orin, version="10.2.0.19"))


def test_rebuild_command_is_a_valid_shell_command(plan):
    m = read_manifest(plan)
    args = shlex.split(rebuild_command(m, plan, target="8.6"))
    assert args[:3] == ["lnet-edge", "build", m.source_onnx]
    assert args[args.index("--out") + 1] == str(plan) and args[args.index("--target") + 1] == "8.6"
    assert args[args.index("--batch") + 1] == "1,2,4" and args[args.index("--tile") + 1] == "128,256,512"


def test_open_model_checks_a_plan_before_loading(plan):
    from lnet_edge.cuda import device_count
    from lnet_edge.runners.open import open_model

    if device_count():
        pytest.skip("this machine has a GPU: the no-GPU refusal cannot be shown here")
    with pytest.raises(LnetError, match="does not fit this machine: no CUDA GPU"):
        open_model(plan)
