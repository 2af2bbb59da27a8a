"""The README and docs/*.md: every relative link and image resolves to a file, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title"), ![alt](src)
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)  # [label]: target
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.I)  # https:, mailto:, //host, a bare anchor


def relative_links(markdown: str) -> list[str]:
    """The link and image targets of ``markdown`` that point at files of this repository, anchors
    and queries stripped; code blocks and code spans are text, not links."""
    text = CODE_SPAN.sub("", FENCE.sub("", markdown))
    targets = INLINE.findall(text) + REFERENCE.findall(text)
    return [re.split(r"[#?]", t, maxsplit=1)[0] for t in targets if not EXTERNAL.match(t)]


def test_the_link_reader_finds_links_and_images_and_skips_code_and_urls() -> None:
    text = (
        'See [a](docs/a.md#part), ![img](docs/i.jpg "title") and [b][ref].\n\n'
        "[ref]: ../b.md\n"
        "[web](https://example.org/x.md), [top](#top), `[not](code.md)`\n\n"
        "```\n[not](block.md)\n```\n"
    )
    assert relative_links(text) == ["docs/a.md", "docs/i.jpg", "../b.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    missing = [t for t in relative_links(page.read_text()) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_readme_is_at_most_150_lines() -> None:
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to a docs/ page"
