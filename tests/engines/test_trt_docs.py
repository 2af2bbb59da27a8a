"""lnet-edge's TensorRT binding logic against the documented API, on a CPU machine.

The classes named ``Stub*`` stand in for TensorRT's Python module only to check our own logic
(which calibrator class we subclass, which runtime flag we set); they verify nothing about
TensorRT itself. Real TensorRT-RTX plans are exercised in test_engine_build.py and
test_engine_check.py.
"""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest

from lnet_edge.cache_header import parse_header, version_tag
from lnet_edge.calibration.trt_cache import calibration_cache_from_qdq
from lnet_edge.engines.build import refuse_unsupported
from lnet_edge.engines.flavour import Capabilities, Flavour
from lnet_edge.engines.options import BuildOptions, HardwareCompat, Precision, Profile
from lnet_edge.engines.trt_glue import cache_calibrator
from lnet_edge.errors import LnetError

JETPACK6 = Capabilities(
    Flavour.tensorrt,
    "10.3.0.26",
    strongly_typed=False,
    precision_flags=True,
    progress_monitor=True,
    hardware_compatibility=True,
    version_compatible=True,
    timing_cache=True,
    target_compute_capabilities=False,
    dla=True,
    hardware_compat_levels=("NONE", "AMPERE_PLUS"),
)


@pytest.mark.parametrize(
    ("version", "tag"), [("10.3", 100300), ("10.3.0.26", 100300), ("10.13.0.35", 101300), ("8.6.1", 8601)]
)
def test_cache_version_tags_follow_nv_tensorrt_version(version: str, tag: int) -> None:
    assert version_tag(version) == tag


@pytest.mark.parametrize(("version", "method", "header"), [
    ("10.3", "minmax", "TRT-100300-MinMaxCalibration"),
    ("10.13.0", "entropy", "TRT-101300-EntropyCalibration2"),
    ("10.13.0", "percentile", "TRT-101300-EntropyCalibration2"),
])  # fmt: skip
def test_cache_headers_for_jetpack6_and_newer_tensorrt(tmp_path, version, method, header) -> None:
    import onnx
    from onnx import helper, numpy_helper

    scale = numpy_helper.from_array(__import__("numpy").array(0.05, dtype="float32"), "s")
    zero = numpy_helper.from_array(__import__("numpy").array(0, dtype="int8"), "z")
    node = helper.make_node("QuantizeLinear", ["image", "s", "z"], ["q"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("q", onnx.TensorProto.INT8, [1])], [scale, zero])  # fmt: skip
    path = calibration_cache_from_qdq(helper.make_model(graph), tmp_path / "c.cache", method, version)
    first, second = path.read_text().splitlines()[:2]
    assert first == header and second.startswith("image: ")
    assert parse_header(first, path) == (int(header.split("-")[1]), header.split("-")[2])


class StubCalibrator:
    def __init__(self) -> None:
        pass


def stub_trt(version: str):
    names = ("IInt8EntropyCalibrator2", "IInt8EntropyCalibrator", "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator")
    return types.SimpleNamespace(__version__=version, **{n: type(n, (StubCalibrator,), {}) for n in names})


@pytest.mark.parametrize(("algorithm", "base"), [("MinMaxCalibration", "IInt8MinMaxCalibrator"),
                                                 ("EntropyCalibration2", "IInt8EntropyCalibrator2")])  # fmt: skip
def test_the_replaying_calibrator_is_the_one_the_header_names(tmp_path, algorithm: str, base: str) -> None:
    cache = tmp_path / "c.cache"
    cache.write_text(f"TRT-100300-{algorithm}\nimage: 3d4ccccd\n")
    trt = stub_trt("10.3.0.26")
    calibrator = cache_calibrator(trt, cache)
    assert isinstance(calibrator, getattr(trt, base))
    assert calibrator.read_calibration_cache() == cache.read_bytes()


def test_a_cache_for_another_tensorrt_is_refused_with_the_calibrate_command(tmp_path) -> None:
    cache = tmp_path / "c.cache"
    cache.write_text("TRT-8601-EntropyCalibration2\nimage: 3d4ccccd\n")
    with pytest.raises(LnetError, match=r"tagged for TensorRT 8601.*10\.3\.0\.26.*lnet-edge calibrate.*--trt-version"):
        cache_calibrator(stub_trt("10.3.0.26"), cache)
    cache.write_text("TRT-100300-PercentileCalibration\n")
    with pytest.raises(LnetError, match="not TRT-<version>-<algorithm>"):
        cache_calibrator(stub_trt("10.3.0.26"), cache)


def test_dla_needs_a_static_profile() -> None:
    dynamic = BuildOptions(dla_core=0, profile=Profile(1, 4, 8, 256, 256, 256))
    with pytest.raises(LnetError, match=r"DLA needs a static profile.*--batch 4 --tile 256"):
        refuse_unsupported(dynamic, JETPACK6, Precision.fp16)
    static = BuildOptions(dla_core=0, profile=Profile(4, 4, 4, 256, 256, 256))
    refuse_unsupported(static, JETPACK6, Precision.fp16)  # no error


def test_hardware_compat_levels_are_checked_by_membership_and_refused_on_jetson() -> None:
    same_cc = BuildOptions(hardware_compat=HardwareCompat.same_cc)
    with pytest.raises(LnetError, match="has no SAME_COMPUTE_CAPABILITY level.*AMPERE_PLUS"):
        refuse_unsupported(same_cc, dataclasses.replace(JETPACK6, jetson=False), Precision.fp16)
    ampere = BuildOptions(hardware_compat=HardwareCompat.ampere_plus)
    refuse_unsupported(ampere, dataclasses.replace(JETPACK6, jetson=False), Precision.fp16)
    with pytest.raises(LnetError, match="not supported on Jetson"):
        refuse_unsupported(ampere, dataclasses.replace(JETPACK6, jetson=True), Precision.fp16)


def test_version_compatible_plans_get_a_runtime_allowed_to_load_their_host_code(rtx_plans) -> None:
    from lnet_edge.engines.manifest import read_manifest
    from lnet_edge.engines.runtime import make_runtime

    class StubRuntime:
        engine_host_code_allowed = False

        def __init__(self, logger) -> None:
            pass

    trt = types.SimpleNamespace(Runtime=StubRuntime)
    m = read_manifest(rtx_plans["fp32"])
    assert make_runtime(trt, m, None).engine_host_code_allowed is False
    vc = dataclasses.replace(m, options=m.options.with_(version_compatible=True))
    assert make_runtime(trt, vc, None).engine_host_code_allowed is True


def test_pycuda_is_reached_where_cuda_python_is_missing(monkeypatch) -> None:
    from lnet_edge import cuda as cuda_memory

    class Device:
        @staticmethod
        def count() -> int:
            return 2

    driver = types.ModuleType("pycuda.driver")
    driver.init, driver.Device = (lambda: None), Device
    package = types.ModuleType("pycuda")
    package.driver = driver
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    monkeypatch.setattr(cuda_memory, "cudart", lambda: None)
    assert cuda_memory.device_count() == 2
