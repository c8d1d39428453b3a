"""Keep a run's report inputs in the repository (``python -m training keep RUN DEST``).

Run folders live outside the repository and have been lost between sessions with the only copy
of the rows behind generated reports. The reports (``results``, ``pretraining-report``) read only
a run's logs and per-record predictions, which are small, so those are copied here (under
``training/run-logs/``) and a report can be generated again from the repository alone. Weights,
checkpoints, cached features and the CNN teachers' probabilities stay behind: they are large and
no report reads them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# what the reports read: per-epoch and per-cell logs, pretraining and run summaries, predictions
KEPT = ("*.jsonl", "*.json", "preds/*.npz")


def kept_files(run: Path) -> list[Path]:
    """The report inputs of ``run`` and of its size subfolders (``scaling --size``), relative."""
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder")
    found = {p for pattern in KEPT for folder in (run, *run.glob("*/")) for p in folder.glob(pattern)}
    return sorted(p.relative_to(run) for p in found if p.is_file() and ".tmp" not in p.suffixes)


def keep_run(run: Path, dest: Path) -> list[Path]:
    """Copy ``run``'s report inputs to ``dest`` under the same relative paths (each written whole:
    a copy beside it, then renamed) and return the copies; a file already there is replaced, so
    keeping a run again after more cells brings it up to date."""
    copies = []
    for rel in kept_files(run):
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(run / rel, tmp)
        tmp.replace(out)
        copies.append(out)
    return copies
