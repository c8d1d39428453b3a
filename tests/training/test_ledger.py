"""The fold-10 ledger names the commit whose code scored fold 10, and says where the code that ran
was not that commit's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from training import context
from training.data import ledger


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)  # fmt: skip


def test_changed_code_is_told_apart_from_changed_outputs(tmp_path: Path) -> None:
    for name in ("ecgviewer/a.py", "training/b.py", "training/reports/R.md", "training/FOLD10.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "c")
    assert context.code_changed(tmp_path) is False
    (tmp_path / "training/reports/R.md").write_text("y\n")  # what a run writes
    (tmp_path / "training/FOLD10.md").write_text("y\n")
    assert context.code_changed(tmp_path) is False
    (tmp_path / "training/b.py").write_text("y\n")
    assert context.code_changed(tmp_path) is True
    assert context.code_changed(tmp_path / "nowhere") is None  # not a repository: cannot tell


@pytest.mark.parametrize(("changed", "said"), [(True, True), (False, False), (None, False)])
def test_the_ledger_says_where_the_code_was_not_the_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changed: bool | None, said: bool
) -> None:
    monkeypatch.setattr(context, "code_changed", lambda root=None: changed)
    monkeypatch.setattr(context, "git_commit", lambda: "0123456789abcdef")
    path = tmp_path / "FOLD10.md"
    ledger.record("f" * 64, "statements", "SR 1/1", "a test", path)
    line = path.read_text().splitlines()[-1]
    assert line.split(" | ")[1] == "0123456789" + (" with uncommitted changes" if said else "")
