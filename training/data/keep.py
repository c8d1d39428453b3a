"""Keep a run's report inputs in the repository (``python -m training keep RUN DEST``).

Run folders live outside the repository and have been lost between sessions with the only copy
of the rows behind generated reports. The reports (``results``, ``pretraining-report``) read only
a run's logs and per-record predictions, which are small, so those are copied here (under
``training/run-logs/``) and a report can be generated again from the repository alone. Weights,
checkpoints, cached features and the CNN teachers' probabilities stay behind: they are large and
no report reads them. Predictions are kept compact (``compact``): no report reads a grid cell's
fold-9 probabilities (its fold-9 score is in the log), and the reports' figures (AUROC, AUPRC and
their paired bootstraps) depend on each class's ranking of the records alone, so each class's
order codes (``ranks``) are kept in place of the probabilities: exactly what those figures read
(float16 probabilities tied the smallest ones and moved a rare-class difference from +0.019 to
+0.006).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

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
RANK = "_rank"  # a kept file's per-class order codes of the probabilities under ``PROBS`` + RANK


def ranks(probs: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Each column's scores reduced to what AUROC and average precision read of them, exactly: with
    the labels ``y``, twice the number of the class's positives scored lower, plus one where the
    score ties a positive. Positives keep their order among themselves and against every negative;
    negatives between the same two positives share a code, which both metrics (and their bootstrap
    draws) cannot tell apart. For a rare class that is a handful of codes, which compress to almost
    nothing, where dense ranks (without ``y``) are as many as the records."""
    if len(probs) >= 2**15:
        raise ValueError(f"{len(probs)} records: codes are kept as uint16")
    if y is None:
        return rankdata(probs, method="dense", axis=0).astype(np.uint16)
    p, pos = probs.reshape(len(probs), -1), np.asarray(y).reshape(len(probs), -1) > 0
    out = np.empty(p.shape, dtype=np.uint16)
    for c in range(p.shape[1]):
        scored = np.sort(p[pos[:, c], c])
        lower = np.searchsorted(scored, p[:, c], side="left")
        out[:, c] = 2 * lower + (np.searchsorted(scored, p[:, c], side="right") > lower)
    return out.reshape(probs.shape)


def compact(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What is kept of a predictions file (a grid cell's ``grid.save_preds``, a scaling snapshot's):
    no fold-9 arrays of a grid cell, each class's order codes (``ranks``, against the file's own
    labels) in place of the probabilities, labels as uint8, ids as int32."""
    kept = {k: v for k, v in arrays.items() if not k.startswith("val_")}
    out = {k: v for k, v in kept.items() if k not in PROBS}
    out |= {k + RANK: ranks(kept[k], kept.get(y)) for k, y in zip(PROBS, LABELS, strict=True) if k in kept}
    return out | {k: kept[k].astype(dtype) for names, dtype in ((LABELS, np.uint8), (IDS, np.int32))
                  for k in names if k in kept}  # fmt: skip


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """A predictions file, compact or not, with float32 labels and scores: the probabilities, or in
    a compact file each class's order codes scaled by the record count, which order the records as
    the metrics read them."""
    with np.load(path) as z:
        arrays = dict(z)
    for k in PROBS:
        if k + RANK in arrays:
            r = arrays.pop(k + RANK)
            arrays[k] = r.astype(np.float32) / max(len(r), 1)
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
