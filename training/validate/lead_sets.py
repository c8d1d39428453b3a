"""``python -m training lead-sets``: what the classifier loses when a recording has fewer leads.

Users open 6-lead (limb) recordings, 2- and 3-channel Holter excerpts and single-lead strips; the
model was trained on 12 leads with random leads dropped (``augment.AugmentConfig.p_drop``). This
measures each common lead set on PTB-XL folds 9 and 10 (``../shared``): every record goes through
the app (``ecgviewer.io.load``; the recording cut down to the set's leads by ``make_recording``, as
a reader would build it, so a set with I and II gets the other limb leads derived; then
``Analyzer.analyse``), scored by macro AUROC per task with record bootstrap intervals, and the
paired difference from the same records' 12-lead analysis (``metrics.paired_bootstrap``). Nothing
is chosen from these numbers; fold 9 is shown beside fold 10 so that later choices have a fold
of their own to read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.errors import EcgError
from ecgviewer.leads import LIMB_LEADS, STANDARD_LEADS
from ecgviewer.storage import atomic_write_bytes
from training.data import datasets as D
from training.validate.metrics import paired_bootstrap, report
from training.validate.xai import fold_arguments, fold_inputs, read_results

if TYPE_CHECKING:
    from ecgviewer.recording import Recording

# Sets users record (names say which devices), largest first; "12 leads" is the reference.
LEAD_SETS: dict[str, tuple[str, ...]] = {
    "12 leads": STANDARD_LEADS,
    "limb leads (6-lead devices)": LIMB_LEADS,
    "II, V1, V5 (3-channel Holter)": ("II", "V1", "V5"),
    "II, V1 (2-channel Holter)": ("II", "V1"),
    "I (single lead, wearables)": ("I",),
    "II (single lead)": ("II",),
}
REFERENCE = "12 leads"
TASKS = ("super", "all")


def subset(rec: Recording, leads: tuple[str, ...]) -> Recording:
    """``rec`` with only ``leads`` (those it has), built as a reader builds a recording."""
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource

    keep = [rec.leads.index(lead) for lead in leads if lead in rec.leads]
    if not keep:
        raise EcgError(f"{rec.name}: none of {', '.join(leads)}")
    names = [rec.leads[i] for i in keep]
    return make_recording(None, ArraySource(rec.signals[keep]), rec.fs, names, rec.source_format)


def results_path(run_dir: Path, fold: int, sha: str) -> Path:
    return run_dir / f"lead-sets-fold{fold}-{sha[:12]}.jsonl"


def run(
    model_file: Path,
    data_root: Path,
    run_dir: Path,
    folds: tuple[int, ...],
    limit: int | None,
    progress: bool,
) -> dict[int, Path]:
    """Analyse every record of ``folds`` (the first ``limit`` by ecg_id) with each lead set,
    appending to each fold's results file and skipping records already there."""
    from ecgviewer.io import load
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.weights import sha256

    root = D.ptbxl_root(data_root)
    labels = D.load_labels(root)
    run_dir.mkdir(parents=True, exist_ok=True)
    sha = sha256(model_file)
    analyzer: Analyzer | None = None
    paths = {}
    for fold in folds:
        ids = sorted(int(e) for e in labels.ecg_id[labels.fold == fold])[:limit]
        path = paths[fold] = results_path(run_dir, fold, sha)
        done = {r["ecg_id"] for r in read_results(path)}
        todo = [e for e in ids if e not in done and D.ptbxl_record(root, e).with_suffix(".hea").is_file()]
        t0 = time.perf_counter()
        for k, ecg_id in enumerate(todo):
            analyzer = analyzer or Analyzer(model_file, device="cpu")
            rec = load(D.ptbxl_record(root, ecg_id).with_suffix(".hea"))
            row: dict = {"ecg_id": ecg_id, "sets": {}}
            for name, leads in LEAD_SETS.items():
                try:
                    tasks = analyzer.analyse(subset(rec, leads)).predictions.tasks
                    row["sets"][name] = {
                        t: {c.code: round(c.probability, 6) for c in tasks[t]} for t in TASKS
                    }
                except (EcgError, ValueError) as exc:  # a set the record cannot give: counted, not scored
                    row["sets"][name] = {"error": str(exc)}
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if progress and (k + 1) % 100 == 0:
                rate = (time.perf_counter() - t0) / (k + 1)
                print(f"fold {fold}: {k + 1}/{len(todo)} records, {rate:.2f} s each", flush=True)
    return paths


def scores(rows: list[dict], labels: D.Labels, task: str) -> dict:
    """Per lead set: macro AUROC with its interval and the paired difference from 12 leads, over
    the records every set could analyse that carry a label of ``task``."""
    classes, y_all = labels.task(task)
    row_of = {int(e): i for i, e in enumerate(labels.ecg_id)}
    ok = [r for r in rows if not any("error" in s for s in r["sets"].values())]
    y = np.array([y_all[row_of[r["ecg_id"]]] for r in ok], dtype=np.float32).reshape(-1, len(classes))
    have = y.any(axis=1)
    y, ok = y[have], [ok[i] for i in np.flatnonzero(have)]
    probs = {name: np.array([[r["sets"][name][task].get(c, np.nan) for c in classes] for r in ok]).reshape(
        -1, len(classes)) for name in LEAD_SETS}  # fmt: skip
    known = ~np.isnan(probs[REFERENCE]).any(axis=0)  # classes the model has a head for
    y = y[:, known]
    failed = sum(any("error" in s for s in r["sets"].values()) for r in rows)
    out: dict = {"n": len(ok), "failed": failed, "sets": {}}
    for name in LEAD_SETS:
        p = probs[name][:, known]
        rep = report(y, p, [c for c, k in zip(classes, known, strict=True) if k])
        entry = {"auroc": rep["auroc"], "auroc_ci": rep["auroc_ci"], "per_class": rep["per_class_auroc"]}
        if name != REFERENCE:
            paired = paired_bootstrap(y, [p], [probs[REFERENCE][:, known]])
            entry |= {"difference": paired["auroc"], "difference_ci": paired["auroc_ci"]}
        out["sets"][name] = entry
    return out


def _ci(point: float, ci: list[float], sign: str = "") -> str:
    return f"{point:{sign}.3f} [{ci[0]:{sign}.3f}, {ci[1]:{sign}.3f}]"


def _tables(s: dict, task: str) -> list[str]:
    """One task's table of lead sets (and, for ``super``, its per-class AUROC) from ``scores``."""
    lines = ["| lead set | leads | macro AUROC [95 %] | against 12 leads [95 %] |", "|---|---|---|---|"]
    for name, e in s["sets"].items():
        diff = "-" if name == REFERENCE else _ci(e["difference"], e["difference_ci"], "+")
        lines.append(f"| {name} | {', '.join(LEAD_SETS[name])} | {_ci(e['auroc'], e['auroc_ci'])} | {diff} |")
    if task == "super":
        classes = list(s["sets"][REFERENCE]["per_class"])
        lines += [
            "",
            "Per-class AUROC:",
            "",
            f"| lead set | {' | '.join(classes)} |",
            "|---|" + "---|" * len(classes),
        ]
        for name, e in s["sets"].items():
            cells = ["-" if e["per_class"][c] is None else f"{e['per_class'][c]:.3f}" for c in classes]
            lines.append(f"| {name} | {' | '.join(cells)} |")
    return [*lines, ""]


def card_section(s: dict, fold: int, task: str) -> dict:
    """What the model card keeps (``lead_sets``): each set's macro AUROC on ``fold`` beside the
    12 leads', which the app quotes beside the findings of a recording that lacks leads
    (``ecgviewer.ml.coverage``)."""
    ref = s["sets"][REFERENCE]
    keep = ("auroc", "auroc_ci", "difference", "difference_ci")
    sets = [
        {"name": name, "leads": list(LEAD_SETS[name]), **{k: e[k] for k in keep}}
        for name, e in s["sets"].items()
        if name != REFERENCE
    ]
    return {
        "benchmark": "python -m training lead-sets",
        "fold": fold,
        "task": task,
        "records": s["n"],
        "reference": {"leads": list(LEAD_SETS[REFERENCE]), "auroc": ref["auroc"]},
        "sets": sets,
    }


def write_report(
    model_file: Path, paths: dict[int, Path], data_root: Path, out: Path, card_too: bool = True
) -> Path:
    """LEAD_SETS.md: one table per fold and task, the super classes' AUROC per lead set; with
    ``card_too`` and fold 10 done, its ``super`` figures go into the model card (``lead_sets``)."""
    from ecgviewer.weights import read_card, sha256, write_card
    from training.supervised.card import check_results_of, markdown

    labels = D.load_labels(D.ptbxl_root(data_root))
    lines = [
        "# The classifier on fewer leads",
        "",
        "Generated by `python -m training lead-sets`; do not edit by hand. Model "
        f"`{model_file.stem}` (SHA-256 {sha256(model_file)[:12]}…). Each PTB-XL record is analysed "
        "by the app once per lead set, the recording cut down to the set's leads as a reader would "
        "build it (a set with I and II gets III, aVR, aVL and aVF derived). Macro AUROC over the "
        "task's classes, record bootstrap 95 % intervals; the difference is paired with the "
        "same records' 12-lead analysis (1,000 draws). Nothing is chosen from these tables.",
        "",
    ]
    for fold, path in sorted(paths.items()):
        rows = read_results(path)
        role = "reported" if fold == D.TEST_FOLD else "for later choices"
        for task in TASKS:
            s = scores(rows, labels, task)
            lines += [f"## Fold {fold} ({role}): `{task}`, {s['n']} records", ""]
            if s["failed"]:
                lines += [f"{s['failed']} records left out: a lead set could not be analysed.", ""]
            lines += _tables(s, task)
            if fold == D.TEST_FOLD:
                from training.data.ledger import record

                figures = ", ".join(f"{n} {e['auroc']:.4f}" for n, e in s["sets"].items())
                record(sha256(model_file), task, f"macro AUROC {figures}", f"{model_file.name} (lead-sets)")
            if card_too and fold == D.TEST_FOLD and task == "super" and (card := read_card(model_file)):
                check_results_of(model_file, paths.values())
                new = card | {"lead_sets": card_section(s, fold, task)}
                write_card(model_file, new, markdown(new))
            lines.append("")
    atomic_write_bytes(out, "\n".join(lines).encode())
    return out


def arguments(p: argparse.ArgumentParser) -> None:
    fold_arguments(p, "lead-sets", "LEAD_SETS.md", "the first N records of each fold")


def cmd_lead_sets(args: argparse.Namespace) -> None:
    """Analyse PTB-XL with each lead set (resumable) and write LEAD_SETS.md."""
    model, data_root, folds = fold_inputs(args, "lead-sets")
    paths = run(model, data_root, args.run_dir, folds, args.limit, args.progress)
    print(write_report(model, paths, data_root, args.out, args.card))
