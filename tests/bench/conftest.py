"""Shared by the bench tests: one artifact work folder per session, so the fp32 export of the
shipped checkpoint is made once (tests/cli/test_bench_cli.py uses the same folder)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bench_work(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "bench-work"
