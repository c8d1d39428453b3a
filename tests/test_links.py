"""Every relative link in the repository's Markdown (README, docs, training reports, model cards)
points at a file or folder that exists: a moved report or figure must not leave a dead link."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO

# [text](target) and ![alt](target), the target up to a space, ')' or '#'
LINK = re.compile(r"!?\[[^\]\n]*\]\(<?([^)\s#>]+)[^)]*\)")


def _markdown() -> list[Path]:
    """The tracked Markdown files (a clone's view: nothing ignored or generated locally)."""
    out = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / line for line in out.stdout.splitlines()]


def dead_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # code is not a link
    dead = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, mailto: ...
            continue
        if not (page.parent / target).exists():
            dead.append(target)
    return dead


def test_every_relative_link_in_the_markdown_resolves() -> None:
    pages = _markdown()
    assert len(pages) > 20
    dead = {str(p.relative_to(REPO)): d for p in pages if (d := dead_links(p))}
    assert not dead, dead


def test_a_dead_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [web](https://x.org/a) ![fig](gone.png) [anchor](there.md#a)\n```\n[no](code.md)\n```"
    )
    assert dead_links(page) == ["gone.png"]
