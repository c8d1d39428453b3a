"""``storage.atomic_write_bytes``: the whole file or the old one, never a half-written one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgviewer.errors import EcgError
from ecgviewer.storage import atomic_write_bytes


def test_writes_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "card.json"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second" and os.listdir(tmp_path) == ["card.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "card.json"
    target.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(EcgError, match="No space left on device"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["card.json"]


def test_a_missing_folder_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(EcgError, match="cannot write"):
        atomic_write_bytes(tmp_path / "nowhere" / "x.json", b"x")
