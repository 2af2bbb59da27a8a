"""A backend is one registry entry plus one runner: a stand-in entry, registered here and nowhere
else, is an ``infer --backend`` choice, the automatic choice for a bundle, a bench entry and a
doctor row; and whether TensorRT runs on a GPU is decided in one place."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.artifacts import Role
from lnet_edge.bench.artifacts import Artifacts
from lnet_edge.bench.backends import candidates, known_keys, needed_sources
from lnet_edge.bench.run import BenchOptions
from lnet_edge.bundle import read_bundle
from lnet_edge.cli.main import app
from lnet_edge.config import rgb_config
from lnet_edge.cuda import Device
from lnet_edge.defaults import DEFAULT_CHECKPOINT, DEFAULT_MODEL_DIR, DEFAULT_ONNX, SAMPLE_SCENE
from lnet_edge.engines.flavour import Flavour, runs_on
from lnet_edge.field.backend import open_field_model
from lnet_edge.field.choice import choose, here
from lnet_edge.runners.onnxrt import OnnxRuntimeRunner
from lnet_edge.runners.registry import BACKENDS, Availability, BackendSpec

NAME = "stand-in"
runner = CliRunner()


class StandInRunner(OnnxRuntimeRunner):
    name = NAME


def _open(path: Path, threads: int | None = None, **_):
    plain, config = BACKENDS["onnxruntime"].open(path, threads=threads)
    return StandInRunner(path, threads, precision=plain.precision), config


@pytest.fixture()
def stand_in(monkeypatch) -> BackendSpec:
    """A CPU backend running the fp32 model on ONNX Runtime, first in the automatic choice."""
    spec = BackendSpec(NAME, "cpu", (".onnx",), (Role.fp32,), lambda: Availability(True, "a stand-in on ONNX Runtime"),
                       _open, priority=0, why="the stand-in comes first")  # fmt: skip
    monkeypatch.setitem(BACKENDS, NAME, spec)
    return spec


def test_infer_accepts_the_registered_name_and_runs_on_it(stand_in, tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["infer", str(SAMPLE_SCENE), "-m", str(DEFAULT_ONNX), "-o", str(out), "--backend", NAME]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(next(out.glob("*/*_summary.json")).read_text())
    assert summary["backend"] == NAME
    unknown = runner.invoke(app, [*args[:-1], "no-such-backend"])
    assert unknown.exit_code == 2 and NAME in unknown.output  # the choices listed are the registry's


def test_the_automatic_choice_takes_it_by_priority(stand_in, monkeypatch) -> None:
    bundle = read_bundle(DEFAULT_MODEL_DIR, verify=False)
    c = choose(bundle, here())
    assert (c.backend, c.role, c.reason) == (NAME, Role.fp32, "the stand-in comes first")
    opened = open_field_model(DEFAULT_MODEL_DIR, "auto")
    assert isinstance(opened.runner, StandInRunner) and opened.choice.startswith(f"{NAME} fp32 (fp32)")
    monkeypatch.setitem(BACKENDS, NAME, dataclasses.replace(stand_in, priority=None))  # only when named
    assert choose(bundle, here()).backend != NAME
    assert choose(bundle, here(), backend=NAME).backend == NAME


def test_bench_lists_it(stand_in, tmp_path: Path) -> None:
    art = Artifacts(DEFAULT_CHECKPOINT, "0" * 64, rgb_config(), tmp_path, {"fp32": DEFAULT_ONNX}, {}, {})
    (entry,) = [e for e in candidates(art) if e.backend == NAME]
    assert (entry.key, entry.device, entry.artifact, entry.reason) == (f"{NAME}/fp32", "cpu", str(DEFAULT_ONNX), None)
    assert f"{NAME}/fp32" in known_keys() and needed_sources([NAME]) == ("fp32",)
    BenchOptions(backends=(NAME,)).check()  # a known backend to --backends


def test_doctor_reports_it(stand_in) -> None:
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    row = next(b for b in json.loads(result.output)["backends"] if b["backend"] == NAME)
    assert row == {"backend": NAME, "device": "cpu", "usable": True, "detail": "a stand-in on ONNX Runtime", "fix": ""}


def test_bundle_json_names_only_backends_that_run_the_role() -> None:
    for role in Role.bundled():
        for name in role.backends:
            if name in BACKENDS:
                assert role in BACKENDS[name].roles, (role, name)
            else:
                assert name.startswith("tensorrt<"), name  # a version condition, for people


@pytest.mark.parametrize(
    ("cc", "rtx"),
    [("7.5", True), ("8.0", True), ("8.6", True), ("8.9", True), ("12.0", True), ("12.1", True),
     ("8.7", False), ("9.0", False), ("10.0", False), ("7.2", False)],
)  # fmt: skip
def test_one_rule_says_where_each_tensorrt_runs(cc: str, rtx: bool, monkeypatch) -> None:
    assert runs_on(Flavour.tensorrt_rtx, cc) is rtx and runs_on(Flavour.tensorrt, cc)
    monkeypatch.setattr("lnet_edge.runners.registry.missing_module", lambda module: None)
    monkeypatch.setattr("lnet_edge.runners.registry._gpu", lambda: Device(0, "a GPU", cc, 8192))
    found = BACKENDS["tensorrt-rtx"].check()
    assert found.usable is rtx and (rtx or f"compute capability {cc}" in found.detail)
    assert BACKENDS["tensorrt"].check().usable
