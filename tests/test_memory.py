"""Memory budgets (lnet_edge/memory.py): the --memory-limit syntax, the default, the refusal."""

from __future__ import annotations

import pytest

from lnet_edge.errors import LnetError
from lnet_edge.memory import USABLE_FRACTION, Budget, budget, parse_memory_limit, physical_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4GB", 4 * 10**9), ("1.5GiB", 3 * 2**29), ("800MiB", 800 * 2**20), ("800 mb", 800 * 10**6), ("auto", None)],
)
def test_a_memory_limit_is_a_size_with_its_unit(text: str, expected: int | None) -> None:
    assert parse_memory_limit(text) == expected


@pytest.mark.parametrize("bad", ["4", "4 apples", "-1GB", "0MB", "0.5KB", "GB", "4GBB"])
def test_a_memory_limit_without_a_unit_or_below_a_mib_is_one_error_with_examples(bad: str) -> None:
    with pytest.raises(LnetError, match=r"--memory-limit .*4GB, 1\.5GiB or 800MiB"):
        parse_memory_limit(bad)


def test_the_default_budget_is_a_fraction_of_the_machine_or_of_a_lower_worker_limit() -> None:
    total = physical_bytes()
    assert total
    default = budget(None)
    assert default.limit == int(USABLE_FRACTION * total) and "this machine's" in default.source
    worker = budget(None, ceiling=2 * 10**9)
    assert worker.limit == int(USABLE_FRACTION * 2 * 10**9) and "Dask worker" in worker.source
    assert budget(10**9, "1GB") == Budget(10**9, "--memory-limit 1GB")


def test_a_need_above_the_budget_is_refused_with_the_numbers_and_the_fixes() -> None:
    b = Budget(2**30, "--memory-limit 1GiB")
    b.check(2**30, "x", "", [])  # exactly the budget fits
    with pytest.raises(LnetError) as err:
        b.check(3 * 2**30, "site.tif", "tiles 2.0 GiB", ["give --gsd none"])
    text = str(err.value)
    assert "site.tif needs about 3.0 GiB" in text and "budget of 1.0 GiB (--memory-limit 1GiB)" in text
    assert "give --gsd none" in text and "raise --memory-limit" in text
