"""The test-set ledger: every read of PTB-XL fold 10 is appended to ``training/FOLD10.md`` by the
code that reads it (date, commit, model hash, task, figure), so a reader can see which figures
were known when a choice was made. Choices read fold 9 only."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ecgviewer.storage import atomic_write_bytes
from training import TRAINING

LEDGER = TRAINING / "FOLD10.md"
HEADER = (
    "# Fold-10 ledger\n\n"
    "Appended by the code (`training/data/ledger.py`) each time PTB-XL fold 10, the test fold, is scored. "
    "Every choice is made on fold 9 before its fold-10 line is written.\n\n"
    "| date (UTC) | commit | model sha256 | task | figure | what |\n|---|---|---|---|---|---|\n"
)


def record(model_sha256: str, task: str, figure: str, what: str, path: Path | None = None) -> None:
    """Append one fold-10 read (written atomically: the ledger is never half a line) to ``path``,
    else ``$TRAINING_LEDGER`` (the tests' own file), else ``training/FOLD10.md``."""
    from training.context import code_changed, git_commit

    path = path or Path(os.environ.get("TRAINING_LEDGER") or LEDGER)
    old = path.read_text() if path.is_file() else HEADER
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    commit = (git_commit() or "-")[:10] + (" with uncommitted changes" if code_changed() else "")
    line = f"| {when} | {commit} | {model_sha256[:12]} | {task} | {figure} | {what} |\n"
    atomic_write_bytes(path, (old + line).encode())
