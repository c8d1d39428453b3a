"""``python -m training likelihood``: the plain-language likelihood of a model finding
("likely (0.94)", "possible (0.41)", "unlikely (0.05)", ``ecgviewer.ml.likelihood``), chosen on
PTB-XL fold 9 only and checked there.

The findings are the app's: every class the card surfaces, in each task the card lists, on each
fold-9 record with a label of that task (the records the card's figures and thresholds were
computed on), its probability read every beat as the app reads it (beats-weighted windows,
``every_beat.combine``) from the window probabilities ``python -m training every-beat`` keeps.
The labels are PTB-XL's (``datasets.Labels``). Fold 10 is never read here.

The choice: on each scale of ``likelihood.SCALES``, the smallest cut-off on its grid at which the
positive findings so worded "likely", pooled, carry the label at least ``TARGET`` of the time;
then the scale on which "likely" promises the most nearly the same frequency whatever the finding
(the class-wise calibration error of "likely", ``spread``: the word that makes a claim is the one
that must mean the same for every class; "possible" is what lies between). It is checked by
choosing again on one half of fold 9's patients and reading the other half, both ways. Writes the
card's ``likelihood`` section (the rest of the card unchanged, byte for byte) and
``training/reports/LIKELIHOOD.md``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.ml import contract
from ecgviewer.ml import likelihood as L
from ecgviewer.storage import atomic_write_bytes
from training import REPO, REPORTS
from training.data import datasets as D
from training.supervised import every_beat as EB
from training.validate.xai_scores import wilson

if TYPE_CHECKING:
    from training.supervised.record_head import Beside

COMMAND = "python -m training likelihood"
TARGET = 0.8  # "likely": at least 4 in 5 findings so worded carried the label (pooled, fold 9)
# Each scale's grid of cut-offs, smallest first (``likelihood.score``).
GRIDS = {
    "probability": np.round(np.arange(1, 100) / 100, 2),
    "above_threshold": np.round(np.arange(0, 100) / 100, 2),
    "log_odds": np.round(np.arange(0, 121) / 20, 2),
}
BINS = 10  # the reliability table's equal-width bins of probability
SPLIT_SEED = 0  # the patients' split into halves
OUT = REPORTS / "LIKELIHOOD.md"


@dataclass(frozen=True)
class Findings:
    """The pooled findings: one row per (record, task, surfaced class)."""

    p: np.ndarray  # float64 (M,) probability, read every beat as the app does
    y: np.ndarray  # int8 (M,) the record's label of the class
    threshold: np.ndarray  # float64 (M,) the card's threshold of the class
    name: np.ndarray  # str (M,) "task/code"
    group: np.ndarray  # str (M,) the patient (or the record, where the patient is not known)
    record: np.ndarray  # int64 (M,) the record's ecg_id

    def take(self, rows: np.ndarray) -> Findings:
        return Findings(
            self.p[rows],
            self.y[rows],
            self.threshold[rows],
            self.name[rows],
            self.group[rows],
            self.record[rows],
        )


def findings(
    kept: dict, labels: D.Labels, card: Mapping, patients: Mapping[int, int], head: Beside | None = None
) -> Findings:
    """The findings of every surfaced class of the card's tasks (module docstring); ``patients``:
    ecg_id -> patient_id where known; ``head``: the record head and its probabilities of the
    records, weighed in as the app weighs them (its statements' thresholds and shown set its own)."""
    row_of = {int(e): i for i, e in enumerate(labels.ecg_id)}
    rows = np.array([row_of[int(e)] for e in kept["ecg_id"]])
    if not np.all(labels.fold[rows] == D.VAL_FOLD):
        raise ValueError(f"the window probabilities hold records outside fold {D.VAL_FOLD}")
    who = np.array(
        [f"patient {patients[int(e)]}" if int(e) in patients else f"record {int(e)}" for e in kept["ecg_id"]]
    )
    parts: list[tuple] = []
    for task, lab in card["labels"].items():
        if task not in kept:
            continue
        classes, y = labels.task(task)
        if list(classes) != list(lab["classes"]):
            raise ValueError(f"{task}: the card's classes are not PTB-XL's")
        y = y[rows]
        keep = y.any(axis=1)
        p = EB.combine(kept, task, "beats")
        thresholds, shown = lab.get("thresholds", {}), set(lab.get("surfaced", []))
        if head is not None:
            statements = EB.combine(kept, "all", "beats") if "all" in kept else None
            p = head[0].weighed(classes, p, head[1], statements)
            thresholds, shown = head[0].judged(classes, thresholds, shown)
        for k, code in enumerate(classes):
            if code in shown and code in thresholds:
                n = int(keep.sum())
                parts.append(
                    (
                        p[keep, k],
                        y[keep, k],
                        np.full(n, float(thresholds[code])),
                        np.full(n, f"{task}/{code}"),
                        who[keep],
                        kept["ecg_id"][keep],
                    )
                )
    if not parts:
        raise ValueError("no surfaced class with a threshold in the card's tasks")
    p, y, t, name, group, record = (np.concatenate(c) for c in zip(*parts, strict=True))
    return Findings(p.astype(np.float64), y.astype(np.int8), t, name, group, record.astype(np.int64))


def scores(f: Findings, scale: str) -> np.ndarray:
    """Each finding's place on ``scale``, by the app's own ``likelihood.score``."""
    return np.array([L.score(float(p), float(t), scale) for p, t in zip(f.p, f.threshold, strict=True)])


def words(f: Findings, bands: L.Bands) -> np.ndarray:
    """Each finding's word, by the app's own ``likelihood.word``."""
    return np.array([L.word(float(p), float(t), bands) for p, t in zip(f.p, f.threshold, strict=True)])


def cut_off(f: Findings, s: np.ndarray, grid: np.ndarray, target: float) -> float | None:
    """The smallest cut-off on ``grid`` at which the positive findings with ``s`` at or above it
    carry the label at least ``target`` of the time (None: none does)."""
    positive = f.p >= f.threshold
    for g in grid:
        sel = positive & (s >= g)
        if sel.any() and f.y[sel].mean() >= target:
            return float(g)
    return None


def spread(f: Findings, w: np.ndarray, word: str = L.LIKELY) -> float:
    """The class-wise calibration error of ``word``: how far each class's frequency of the label
    among its findings so worded lies from the word's pooled frequency (mean absolute difference,
    weighted by findings). 0: the word means the same whatever the finding."""
    m = w == word
    if not m.any():
        return math.nan
    pooled, total = f.y[m].mean(), 0.0
    for name in np.unique(f.name[m]):
        c = m & (f.name == name)
        total += c.sum() * abs(f.y[c].mean() - pooled)
    return float(total / m.sum())


def band_rows(f: Findings, w: np.ndarray) -> dict[str, dict]:
    """Per word: findings, how many carried the label, its frequency (Wilson 95 %), mean probability."""
    out = {}
    for word in L.WORDS:
        m = w == word
        n, k = int(m.sum()), int(f.y[m].sum())
        out[word] = {
            "n": n,
            "labelled": k,
            "frequency": k / n if n else math.nan,
            "ci": list(wilson(k, n)),
            "mean_p": float(f.p[m].mean()) if n else math.nan,
        }
    return out


def choose(f: Findings, target: float = TARGET, fold: int = D.VAL_FOLD) -> tuple[L.Bands, list[dict]]:
    """The bands (module docstring) and, per scale, its cut-off, spread and share of positive
    findings called "likely"; ties go to the earlier scale of ``SCALES`` (the plainer)."""
    tried = []
    for scale in L.SCALES:
        cut = cut_off(f, scores(f, scale), GRIDS[scale], target)
        if cut is None:
            tried.append({"scale": scale, "likely": None})
            continue
        w = words(f, L.Bands(scale, cut, target, fold))
        positive = int((w != L.UNLIKELY).sum())
        tried.append(
            {
                "scale": scale,
                "likely": cut,
                "spread": spread(f, w),
                "spread_possible": spread(f, w, L.POSSIBLE),
                "likely_share": float((w == L.LIKELY).sum() / positive),
                "bands": band_rows(f, w),
            }
        )
    usable = [t for t in tried if t["likely"] is not None]
    if not usable:
        raise ValueError(f"no cut-off on any scale reaches a frequency of {target} among positive findings")
    best = min(usable, key=lambda t: t["spread"])
    observed = tuple((w, float(b["frequency"]), int(b["n"])) for w, b in best["bands"].items() if b["n"])
    return L.Bands(best["scale"], best["likely"], target, fold, observed), tried


def reliability(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> tuple[list[dict], float]:
    """Equal-width bins of probability: mean p, frequency of the label, n; and the expected
    calibration error (the bins' |mean p - frequency| weighted by their findings)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        row = {
            "bin": [b / bins, (b + 1) / bins],
            "n": n,
            "mean_p": float(p[m].mean()) if n else math.nan,
            "frequency": float(y[m].mean()) if n else math.nan,
        }
        rows.append(row)
        if n:
            ece += n / len(p) * abs(row["mean_p"] - row["frequency"])
    return rows, ece


def halves(f: Findings, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of the findings, each patient (or unknown patient's record) wholly in one."""
    groups = np.unique(f.group)
    first = set(np.random.default_rng(seed).permutation(groups)[: len(groups) // 2])
    a = np.array([g in first for g in f.group])
    return a, ~a


def split_half(f: Findings, target: float = TARGET, seed: int = SPLIT_SEED) -> list[dict]:
    """Choose on one half of the patients, read the words on the other; both ways."""
    a, b = halves(f, seed)
    out = []
    for on, other, names in ((a, b, ("A", "B")), (b, a, ("B", "A"))):
        bands, _ = choose(f.take(on), target)
        held = f.take(other)
        out.append(
            {
                "chosen_on": names[0],
                "read_on": names[1],
                "scale": bands.scale,
                "likely": bands.likely,
                "records": len(np.unique(held.record)),
                "bands": band_rows(held, words(held, bands)),
            }
        )
    return out


def per_finding(f: Findings, w: np.ndarray) -> list[dict]:
    """Per class: findings and frequency of the label under each word."""
    out = []
    for name in dict.fromkeys(f.name):
        m = f.name == name
        row: dict = {"finding": str(name)}
        for word in L.WORDS:
            c = m & (w == word)
            row[word] = (int(c.sum()), float(f.y[c].mean()) if c.any() else math.nan)
        out.append(row)
    return out


def section(bands: L.Bands, rows: dict, ece: float, weights_sha256: str, halves: list[dict]) -> dict:
    """The model card's ``likelihood`` section (``likelihood.bands_from_card`` reads it); ``halves``:
    ``split_half``'s check, whose "likely" frequencies on the held-out halves it keeps."""
    rule = {
        "probability": "p",
        "above_threshold": "(p - threshold) / (1 - threshold)",
        "log_odds": "logit(p) - logit(threshold)",
    }[bands.scale]
    return {
        "scale": bands.scale,
        "likely": bands.likely,
        "target": bands.target,
        "fold": bands.fold,
        "rule": f"unlikely: p < the class's threshold; likely: p >= threshold and {rule} >= "
        f"{bands.likely:g}; possible: in between. The cut-off is the smallest on a grid at which, pooled "
        f"over the surfaced findings of fold {bands.fold}, the label's frequency among those worded likely "
        f"is >= {bands.target:g}",
        "bands": {
            w: {
                "n": r["n"],
                "frequency": _finite(r["frequency"]),
                "ci": [_finite(x) for x in r["ci"]],
                "mean_p": _finite(r["mean_p"]),
            }
            for w, r in rows.items()
        },
        "ece": ece,
        "split_half": [
            {
                "chosen_on": h["chosen_on"],
                "likely": h["likely"],
                "read_on": h["read_on"],
                "n": h["bands"][L.LIKELY]["n"],
                "frequency": _finite(h["bands"][L.LIKELY]["frequency"]),
                "ci": [_finite(x) for x in h["bands"][L.LIKELY]["ci"]],
            }
            for h in halves
        ],
        "weights_sha256": weights_sha256,
        "command": COMMAND,
        "report": "training/reports/LIKELIHOOD.md",
    }


def _finite(x: float) -> float | None:
    """JSON has no NaN: an empty band's figures are null."""
    return None if math.isnan(x) else x


def write_card(card_path: Path, new: dict) -> None:
    """Put ``new`` as the card's ``likelihood`` section, and the Markdown card beside it (where
    there is one) written again from it; the rest stays byte for byte, so a card not written the way
    ``weights.write_card`` writes is refused rather than reformatted."""
    from training.supervised.card import markdown

    text = card_path.read_text()
    card = json.loads(text)
    if json.dumps(card, indent=1) + "\n" != text:
        raise ValueError(f"{card_path}: not in the format weights.write_card writes; not rewritten")
    card[L.SECTION] = new  # in its place when there was one, else last
    atomic_write_bytes(card_path, (json.dumps(card, indent=1, allow_nan=False) + "\n").encode())
    if card_path.with_suffix(".md").is_file():
        atomic_write_bytes(card_path.with_suffix(".md"), markdown(card).encode())


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f} %"


def _ci(r: dict) -> str:
    lo, hi = r["ci"]
    return "-" if r["n"] == 0 else f"{_pct(r['frequency'])} [{_pct(lo)}, {_pct(hi)}]"


def _band_table(rows: dict) -> list[str]:
    lines = [
        "| word | findings | label present | observed frequency [Wilson 95 %] | mean probability |",
        "|---|---|---|---|---|",
    ]
    for w, r in rows.items():
        mean = "-" if r["n"] == 0 else f"{r['mean_p']:.3f}"
        lines.append(f"| {w} | {r['n']} | {r['labelled']} | {_ci(r)} | {mean} |")
    return lines


def report(result: dict) -> str:
    """LIKELIHOOD.md from ``run``'s result."""
    b, f = result["bands"], result["summary"]
    scale_words = {
        "probability": "the probability itself",
        "above_threshold": "the fraction of the way from the class's threshold to 1",
        "log_odds": "the log-odds above the class's threshold",
    }
    lines = [
        f"# Likelihood words (generated by `{COMMAND}`)",
        "",
        "Do not edit by hand: run the command again. How the app words a model finding "
        '("likely (0.94)", "possible (0.41)", "unlikely (0.05)", `ecgviewer.ml.likelihood`), chosen '
        f"and checked on PTB-XL fold {b.fold} only; fold {D.TEST_FOLD} is not read.",
        "",
        f"Model `{result['model']}` (SHA-256 {result['sha256'][:12]}), its fold-{b.fold} window "
        f"probabilities `{result['kept']}` (contract {contract.CONTRACT_VERSION}) read every beat as the app "
        f"reads them. Findings: each class the card surfaces, in each of its tasks "
        f"({', '.join(result['tasks'])}), on each fold-{b.fold} record labelled in that task: "
        f"{f['findings']} findings of {f['classes']} classes on {f['records']} records, "
        f"{f['positive']} of them positive (p at or above the card's F1-optimal threshold). A finding "
        "is labelled when the record carries the PTB-XL statement (any likelihood)." + result.get("head", ""),
        "",
        "## The rule",
        "",
        "- unlikely: p below the class's threshold (the app's \"not found\");",
        f"- likely: p at or above the threshold, and {scale_words[b.scale]} at least **{b.likely:g}**;",
        "- possible: in between.",
        "",
        "On each scale, the cut-off is the smallest on its grid at which the positive findings worded "
        f"likely, pooled, carry the label at least {100 * b.target:.0f} % of the time. The scale kept is the "
        "one on which likely means the most nearly the same thing from one class to another: the lowest "
        "class-wise calibration error of likely (the mean absolute difference between a class's frequency "
        "of the label among its findings worded likely and the pooled frequency, weighted by findings). "
        "The same error of possible is shown, not used: possible is what lies between.",
        "",
        "| scale | cut-off | class-wise calibration error of likely | of possible | "
        "positive findings worded likely | kept |",
        "|---|---|---|---|---|---|",
    ]
    for t in result["tried"]:
        if t["likely"] is None:
            lines.append(f"| {t['scale']} | none reaches {b.target:g} | - | - | - | |")
            continue
        kept = "yes" if t["scale"] == b.scale else ""
        lines.append(
            f"| {t['scale']} | {t['likely']:g} | {t['spread']:.4f} | {t['spread_possible']:.4f} | "
            f"{_pct(t['likely_share'])} | {kept} |"
        )
    lines += ["", f"## The words on fold {b.fold}", "", *_band_table(result["rows"]), ""]
    lines += [
        "The Wilson intervals count findings as independent, which they are not quite: a record gives "
        "several findings (NORM is one as a superclass and one as a statement).",
        "",
        "Near the threshold the word unlikely is weakest: of the unlikely findings with p at least half "
        f"their class's threshold, {_pct(result['near']['frequency'])} carried the label "
        f"({result['near']['n']} findings).",
        "",
        "## Per class",
        "",
        "Each word's frequency differs between classes; the pooled figures above are what the words promise.",
        "",
        "| finding | likely: n | likely: label present | possible: n | possible: label present | "
        "unlikely: n | unlikely: label present |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["per_finding"]:
        cells = [f"{r[w][0]} | {_pct(r[w][1])}" for w in L.WORDS]
        lines.append(f"| {r['finding']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Reliability (all {f['findings']} findings, {BINS} equal bins of probability)",
        "",
        "| probability | findings | mean probability | observed frequency |",
        "|---|---|---|---|",
    ]
    for r in result["reliability"]:
        lo, hi = r["bin"]
        mean = "-" if r["n"] == 0 else f"{r['mean_p']:.3f}"
        freq = "-" if r["n"] == 0 else f"{r['frequency']:.3f}"
        lines.append(f"| {lo:.1f}-{hi:.1f} | {r['n']} | {mean} | {freq} |")
    lines += [
        "",
        f"Expected calibration error: {result['ece']:.4f} (the bins' |mean probability - observed "
        "frequency|, weighted by their findings).",
        "",
        "## Validation: chosen on half the patients, read on the other half",
        "",
        f"Fold {b.fold}'s patients split at random (seed {SPLIT_SEED}) into halves A and B; the whole choice "
        "(scale and cut-off) is made again on one half and its words read on the other. "
        f"{result['patients']['known']} of {f['records']} records have a known patient "
        f"(`ptbxl_database.csv` in the data root); the others count as a patient each.",
        "",
        "| chosen on | scale, cut-off | read on | records | likely [Wilson 95 %] | possible | unlikely |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in result["split_half"]:
        r = s["bands"]
        cells = [
            f"{s['scale']}, {s['likely']:g}",
            s["read_on"],
            str(s["records"]),
            f"{_ci(r['likely'])} (n = {r['likely']['n']})",
            _ci(r["possible"]),
            _ci(r["unlikely"]),
        ]
        lines.append(f"| {s['chosen_on']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def patients(root: Path) -> dict[int, int]:
    """ecg_id -> patient_id from ``ptbxl_database.csv`` where the data root has it (the shared copy
    holds its first rows only)."""
    import pandas as pd

    path = root / "ptbxl_database.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path, usecols=["ecg_id", "patient_id"]).dropna()
    return {int(e): int(p) for e, p in zip(df["ecg_id"], df["patient_id"], strict=True)}


def kept(
    model_file: Path, card: Mapping | None, logs: Path, fold: int, hint: str
) -> tuple[Mapping, str, Path]:
    """The model's card, its weights' SHA-256 and its kept every-beat probabilities of ``fold``
    (``hint``: the command that writes them, said when they are missing)."""
    from ecgviewer.weights import read_card, sha256

    card = card if card is not None else read_card(model_file)
    if not card:
        raise ValueError(f"{model_file}: no model card")
    digest = card.get("weights_sha256") or sha256(model_file)
    kept_file = EB.kept_path(logs, fold, digest, contract.CONTRACT_VERSION)
    if not kept_file.is_file():
        raise FileNotFoundError(f"{kept_file}: run `{hint}` first")
    return card, digest, kept_file


def run(model_file: Path, data_root: Path, logs: Path = EB.LOGS, card: Mapping | None = None) -> dict:
    """Read the fold-9 window probabilities and labels, choose the bands and check them."""
    from training.supervised.record_head import beside, described

    card, digest, kept_file = kept(model_file, card, logs, D.VAL_FOLD, "python -m training every-beat")
    root = D.ptbxl_root(data_root)
    probs = EB.load(kept_file)
    head = beside(digest, probs["ecg_id"], data_root)
    result = evaluate(probs, D.load_labels(root), card, patients(root), head)
    shown = kept_file.relative_to(REPO) if kept_file.is_relative_to(REPO) else kept_file
    return result | {"model": model_file.name, "sha256": digest, "kept": str(shown), "head": described(head)}


def evaluate(
    kept: dict, labels: D.Labels, card: Mapping, who: Mapping[int, int], head: Beside | None = None
) -> dict:
    """``run``'s figures from the window probabilities ``kept``, the labels, the card and the
    patients (ecg_id -> patient_id where known); ``head``: the record head weighed in (``findings``)."""
    f = findings(kept, labels, card, who, head)
    bands, tried = choose(f)
    w = words(f, bands)
    rel, ece = reliability(f.p, f.y)
    near = (w == L.UNLIKELY) & (f.p >= f.threshold / 2)
    summary = {
        "findings": len(f.p),
        "classes": len(np.unique(f.name)),
        "records": len(kept["ecg_id"]),
        "positive": int((w != L.UNLIKELY).sum()),
    }
    return {
        "model": "",
        "sha256": str(card.get("weights_sha256") or ""),
        "kept": "",
        "tasks": [t for t in card["labels"] if t in kept],
        "bands": bands,
        "tried": tried,
        "rows": band_rows(f, w),
        "near": {"n": int(near.sum()), "frequency": float(f.y[near].mean()) if near.any() else math.nan},
        "per_finding": per_finding(f, w),
        "reliability": rel,
        "ece": ece,
        "split_half": split_half(f),
        "patients": {"known": sum(int(e) in who for e in kept["ecg_id"])},
        "summary": summary,
    }


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``likelihood`` command's options."""
    p.add_argument("--data-root", type=Path, default=None, help="holds ptbxl/ (default ../shared/data)")
    p.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    p.add_argument("--logs", type=Path, default=EB.LOGS, help="the every-beat command's window probabilities")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--no-card", dest="card", action="store_false", help="leave the model card alone")


def command(args: argparse.Namespace) -> None:
    """Plain-language likelihood bands for the model's findings, chosen on fold 9 (LIKELIHOOD.md)."""
    from ecgviewer import assets

    model = args.model or assets.model_path()
    data_root = args.data_root or D.default_data_root()
    if data_root is None:
        raise SystemExit("no --data-root given and ../shared/data is absent")
    result = run(model, data_root, args.logs)
    atomic_write_bytes(args.out, report(result).encode())
    b = result["bands"]
    if args.card:
        new = section(b, result["rows"], result["ece"], result["sha256"], result["split_half"])
        write_card(model.with_suffix(".json"), new)
    print(
        json.dumps(
            {
                "scale": b.scale,
                "likely": b.likely,
                "observed": b.observed,
                "ece": result["ece"],
                "report": str(args.out),
                "card": bool(args.card),
            }
        )
    )
