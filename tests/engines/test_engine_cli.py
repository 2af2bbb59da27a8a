"""``lnet-edge build`` and ``lnet-edge inspect`` through typer's CliRunner, with real RTX builds."""

from __future__ import annotations

from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.engines.manifest import read_manifest
from tests.conftest import needs_rtx


@needs_rtx
def test_build_then_inspect(onnx_models, tmp_path):
    plan = tmp_path / "engines" / "lnet-int8.plan"
    result = CliRunner().invoke(
        app,
        [
            "build",
            str(onnx_models["int8"]),
            "--out",
            str(plan),
            "--int8",
            "--batch",
            "1,2,4",
            "--tile",
            "128,256,256",
            "--opt-level",
            "3",
            "--workspace",
            "512",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "built" in result.output and "int8" in result.output
    m = read_manifest(plan)
    assert m.precision == "int8" and m.options.opt_level == 3 and m.options.workspace_mib == 512
    shown = CliRunner().invoke(app, ["inspect", str(plan)])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "tensorrt-rtx" in text and "int8 (strongly typed)" in text and "batch 1..4 (opt 2)" in text
    assert "layer precisions" in text or "layers:" in text  # the inspector needs a GPU the plan supports
    as_json = CliRunner().invoke(app, ["inspect", str(plan), "--json"])
    assert as_json.exit_code == 0 and '"precision": "int8"' in as_json.output


def test_inspect_a_plan_without_manifest(tmp_path):
    plan = tmp_path / "x.plan"
    plan.write_bytes(b"ftrt" + bytes(60))
    result = CliRunner().invoke(app, ["inspect", str(plan)])
    assert result.exit_code == 2 and "no manifest" in result.output
