"""Keep a run's report inputs in the repository (``python -m training keep RUN DEST``).

Run folders live outside the repository and have been lost between sessions with the only copy
of the rows behind generated reports. The reports (``results``, ``pretraining-report``) read only
a run's logs and per-record predictions, which are small, so those are copied here (under
``training/run-logs/``) and a report can be generated again from the repository alone. Weights,
checkpoints, cached features and the CNN teachers' probabilities stay behind: they are large and
no report reads them. Predictions are kept compact (``compact``): no report reads a grid cell's
fold-9 probabilities (its fold-9 score is in the log), and probabilities are stored as float16
(3 significant digits: the reports' AUROC differences are given to 3 decimals).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

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
    a copy beside it, then renamed; predictions ``compact``) and return the copies; a file already
    there is replaced, so keeping a run again after more cells brings it up to date."""
    copies = []
    for rel in kept_files(run):
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel.suffix == ".npz":
            save_npz(out, compact(load_npz(run / rel)))
        else:
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.copyfile(run / rel, tmp)
            tmp.replace(out)
        copies.append(out)
    return copies


PROBS, LABELS, IDS = ("test_probs", "p"), ("test_y", "y"), ("test_ecg_id", "ecg_id")


def compact(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What is kept of a predictions file (a grid cell's ``grid.save_preds``, a scaling snapshot's):
    no fold-9 arrays of a grid cell, probabilities as float16, labels as uint8, ids as int32."""
    kept = {k: v for k, v in arrays.items() if not k.startswith("val_")}
    kinds = ((PROBS, np.float16), (LABELS, np.uint8), (IDS, np.int32))
    return kept | {k: kept[k].astype(dtype) for names, dtype in kinds for k in names if k in kept}


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """A predictions file, compact or not, with float32 probabilities and labels (what the metrics
    are computed on either way)."""
    with np.load(path) as z:
        arrays = dict(z)
    return arrays | {k: arrays[k].astype(np.float32) for k in (*PROBS, *LABELS) if k in arrays}


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` compressed, whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


def compact_kept(dest: Path) -> int:
    """Make every predictions file already kept under ``dest`` compact, in place; returns the bytes
    saved."""
    saved = 0
    for path in sorted(dest.rglob("preds/*.npz")):
        before = path.stat().st_size
        save_npz(path, compact(load_npz(path)))
        saved += before - path.stat().st_size
    return saved
