"""The files one listed recording is read from, and what tells whether they changed: their
sizes and modification times (the stamp, checked on every re-index) and their content hash.

A WFDB record is listed by its header but read from its signal files (``.dat``, ``.mat``,
PTB-XL's FLAC ``_1.dat``/``_2.dat``) and annotation files beside it: a change to any of them is a
change to the recording. Formats without companion files are one file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ecgviewer.io import registry

CHUNK = 1 << 20
_NUMBERED = re.compile(r"^(.+)_\d+$")  # PTB-XL's FLAC records: 02000_lr.hea reads 02000_lr_1.dat


class Parts:
    """``parts(path)``: the files ``path``'s recording is read from, itself first. Directory
    listings are kept for the life of the object, so a folder of records is listed once."""

    def __init__(self) -> None:
        self._groups: dict[Path, dict[str, list[str]]] = {}

    def __call__(self, path: Path) -> list[Path]:
        suffix = path.suffix.lower()
        companions = {c for r in registry.READERS if suffix in r.extensions for c in r.companions}
        if not companions:
            return [path]
        names = self._group(path.parent, companions).get(path.stem, [])
        return [path, *(path.with_name(n) for n in sorted(names) if n != path.name)]

    def _group(self, folder: Path, companions: set[str]) -> dict[str, list[str]]:
        """stem -> the names in ``folder`` that share it (``stem.*``, and ``stem_N`` signal files)."""
        groups = self._groups.get(folder)
        if groups is None:
            groups = {}
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            for name in names:
                p = Path(name)
                groups.setdefault(p.stem, []).append(name)
                numbered = _NUMBERED.match(p.stem)
                if numbered and p.suffix.lower() in companions:
                    groups.setdefault(numbered.group(1), []).append(name)
            self._groups[folder] = groups
        return groups


def stamp(parts: list[Path]) -> tuple[int, int, str]:
    """Total size, newest modification time (ns) and the ``name:size:mtime`` text of ``parts``
    that tells a changed recording from an unchanged one. Raises ``OSError``."""
    stats = [p.stat() for p in parts]
    text = ";".join(f"{p.name}:{s.st_size}:{s.st_mtime_ns}" for p, s in zip(parts, stats, strict=True))
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats), text


def sha256(parts: list[Path]) -> str:
    """SHA-256 of the bytes of ``parts`` in order, read in chunks (a Holter file is a gigabyte).
    Raises ``OSError``."""
    digest = hashlib.sha256()
    for p in parts:
        with p.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def drift(path: str, stored_stamp: str) -> str | None:
    """How the file differs now from when it was indexed: "missing", "changed", or None."""
    p = Path(path)
    try:
        now = stamp(Parts()(p))[2]
    except OSError:
        return "missing"
    return None if now == stored_stamp else "changed"
