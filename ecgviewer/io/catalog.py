"""Folder catalogue for the record browser: every readable recording below a folder, with
PTB-XL's ecg_id, age, sex, labels and fold when the folder is (inside) a PTB-XL tree."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ecgviewer.io import ptbxl, registry

MAX_ENTRIES = 200_000


@dataclass
class Entry:
    path: Path
    name: str
    ecg_id: int | None = None
    age: float | None = None
    sex: str = ""
    labels: list[str] = field(default_factory=list)
    fold: str = ""


def dataset_table(path: Path) -> bool:
    """A dataset's own metadata, not a recording: PTB-XL's tables at its tree's root, and any CSV
    beside a PhysioNet ``RECORDS`` index (LUDB's ``ludb.csv``, say)."""
    if path.suffix.lower() != ".csv":
        return False
    if path.name in (ptbxl.DATABASE, ptbxl.STATEMENTS, ptbxl.SCP) and ptbxl.find_root(path) == path.parent:
        return True
    return (path.parent / "RECORDS").is_file()


def scan(folder: Path, cancelled=lambda: False, passed_over: list[Path] | None = None) -> list[Entry]:
    """Recordings under ``folder`` sorted by path: every file a registered reader reads
    (``registry.listed``), a WFDB record once by its header, datasets' tables left out.
    ``passed_over`` collects the files with a reader's extension whose content none recognises
    (a ``notes.xml`` beside the ECG XML exports): not listed, but counted for the reader."""
    folder = Path(folder)
    root = ptbxl.find_root(folder / "x")  # the folder itself or one of its parents
    table = ptbxl.table(root) if root else {}
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        if cancelled():
            break
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not registry.listed(path) or dataset_table(path):
                if passed_over is not None and registry.claimed(path) and not dataset_table(path):
                    passed_over.append(path)
                continue
            entry = Entry(path, str(path.relative_to(folder)))
            eid = ptbxl.ecg_id(path)
            if eid is not None and eid in table:
                info = table[eid]
                entry.ecg_id, entry.age, entry.sex = eid, info.get("age"), info.get("sex") or ""
                entry.labels = sorted(info.get("labels", {}))
                entry.fold = str(info.get("fold", ""))
            entries.append(entry)
            if len(entries) >= MAX_ENTRIES:
                return entries
    return entries
