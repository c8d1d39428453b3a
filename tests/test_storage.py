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


def test_a_written_file_has_the_users_usual_permissions(tmp_path: Path) -> None:
    """A new file: 0666 less the umask (not the temporary file's private 0600), whatever the
    umask; a replaced file keeps its own mode."""
    import stat

    from ecgviewer import storage

    old = os.umask(0o027)
    try:
        assert storage.umask() == 0o027
        atomic_write_bytes(tmp_path / "report.pdf", b"%PDF")
        assert stat.S_IMODE((tmp_path / "report.pdf").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    atomic_write_bytes(tmp_path / "shared.png", b"png")
    assert stat.S_IMODE((tmp_path / "shared.png").stat().st_mode) == 0o666 & ~old
    (tmp_path / "shared.png").chmod(0o604)
    atomic_write_bytes(tmp_path / "shared.png", b"png again")
    assert stat.S_IMODE((tmp_path / "shared.png").stat().st_mode) == 0o604
