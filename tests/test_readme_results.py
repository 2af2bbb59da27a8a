"""Every result file README quotes exists, is named with the shipped model's sha256 prefix and
records that model: a figure from another model cannot stand beside the shipped one."""

import json
import re
from pathlib import Path

import pytest

from lnet_edge.files import sha256_file

ROOT = Path(__file__).parents[1]
SHIPPED = {sha256_file(p) for p in (ROOT / "lnet_edge/assets/default").glob("*.pt")}


def quoted() -> list[str]:
    return sorted(set(re.findall(r"bench/results/[\w.\-]+", (ROOT / "README.md").read_text())))


def recorded_model(path: Path) -> str | None:
    """The model sha256 a result records (a .md or .png is read through its .json)."""
    data = json.loads(path.with_suffix(".json").read_text())
    return data.get("model_sha256") or data.get("artifacts", {}).get("checkpoint_sha256")


def test_readme_quotes_results():
    assert quoted(), "README names no bench/results file: its benchmark figures must name their file"


@pytest.mark.parametrize("name", quoted())
def test_each_quoted_result_exists_and_is_of_the_shipped_model(name):
    path = ROOT / name
    assert path.is_file(), f"README quotes {name}, which does not exist"
    sha = recorded_model(path)
    assert sha in SHIPPED, f"{name} records model {sha}, not the shipped checkpoint"
    assert sha[:8] in path.name, f"{name} is not named with its model's sha256 prefix {sha[:8]}"


def test_a_result_of_another_model_is_caught(tmp_path):
    other = tmp_path / "bench-00000000-x.json"
    other.write_text(json.dumps({"artifacts": {"checkpoint_sha256": "0" * 64}}))
    assert recorded_model(other) not in SHIPPED
