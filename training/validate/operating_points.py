"""``python -m training operating-points``: what a shown finding means for the clinician, at the
threshold the app decides it with, on records the choices never saw.

Each class the card surfaces, in each task it lists, is decided at the card's threshold (chosen
on PTB-XL fold 9, F1-optimal, when the model was exported). This reads the shipped model's fold-10
window probabilities (kept by ``python -m training every-beat``), every beat read as the app reads
them, and reports at that threshold:

- sensitivity, specificity, PPV and NPV, with 95 % intervals from a plain record bootstrap
  (records resampled, ``N_BOOT`` draws, seed ``SEED``, the same draws for every class); a draw
  without a positive of a class leaves that class out of that draw (without a positive call,
  its PPV alone), and the report says how often;
- calibration: the reliability table (``likelihood.BINS`` equal bins of probability, pooled over
  the findings) and its expected calibration error;
- the likelihood words (``ecgviewer.ml.likelihood``, chosen on fold 9 by ``python -m training
  likelihood``): per word, how often the label was present on fold 10 (Wilson 95 %) against the
  card's fold-9 figure.

The findings, the loading of the window probabilities, the reliability table and the words are
``training.validate.likelihood``'s own, so fold 10 is read exactly as fold 9 was. The model is
fixed: nothing is chosen here, and the read is logged in ``training/FOLD10.md``
(``training/data/ledger.py``), once per run.

LUDB: the same figures for task ``super`` from the per-record probabilities ``python -m training
ood`` writes (``ood.DEFAULT_OUT``, the app's ``Analyzer`` on each record), with that command's
label mapping (``ood.RULES``; its used records), when they are there and are this model's.

Writes ``training/reports/OPERATING_POINTS.md`` and the card's ``operating_points`` section (the
rest of the card unchanged, byte for byte; the Markdown card written again from it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.ml import contract
from ecgviewer.ml import likelihood as L
from ecgviewer.storage import atomic_write_bytes
from training import REPO, REPORTS, RUN_LOGS
from training.data import datasets as D
from training.supervised import every_beat as EB
from training.validate import likelihood as V

if TYPE_CHECKING:
    from training.supervised.record_head import Beside

COMMAND = "python -m training operating-points"
# the shipped model's LUDB probabilities (``python -m training ood``, 71 kB), kept in the repository
# so that a clean clone regenerates LUDB's operating points; ``runs/`` is not kept
KEPT_OOD = RUN_LOGS / "c2cnn" / "ood-ludb.json"
SECTION = "operating_points"  # the model card's key
N_BOOT = 1000
SEED = 0
OUT = REPORTS / "OPERATING_POINTS.md"
METRICS = ("sensitivity", "specificity", "ppv", "npv")
NAMES = {"sensitivity": "Se", "specificity": "Sp", "ppv": "PPV", "npv": "NPV"}
OOD_COMMAND = "python -m training ood"


# --- the figures ------------------------------------------------------------------------------


def rates(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Sensitivity, specificity, PPV and NPV from counts (any shape); NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp),
            "npv": tn / (tn + fn),
        }


def draws(n_records: int, n_boot: int = N_BOOT, seed: int = SEED) -> np.ndarray:
    """(n_boot, n_records) how many times each record is in each bootstrap draw (records resampled
    with replacement, ``n_records`` to a draw)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_records, (n_boot, n_records))
    return np.stack([np.bincount(row, minlength=n_records) for row in picks])


def operating_points(f: V.Findings, n_boot: int = N_BOOT, seed: int = SEED) -> list[dict]:
    """Per class (``f.name``, in order of appearance): the counts at its threshold (p >= threshold
    is a positive call, as the app decides), the four rates and their bootstrap 95 % intervals.
    ``no_positives``: draws without a positive of the class (left out for every rate);
    ``no_calls``: of the others, draws without a positive call (left out for the PPV)."""
    records, at = np.unique(f.record, return_inverse=True)
    names = list(dict.fromkeys(f.name.tolist()))
    called = f.p >= f.threshold
    # (records, classes, 4): a record's tp, fn, fp, tn for each class (0 where not labelled in its task)
    cells = np.zeros((len(records), len(names), 4))
    col = {n: k for k, n in enumerate(names)}
    k = np.array([col[n] for n in f.name.tolist()], dtype=np.int64)
    y = f.y.astype(bool)
    if len(np.unique(at * len(names) + k)) != len(k):
        raise ValueError("a record gives a class more than one finding")
    for j, hit in enumerate((y & called, y & ~called, ~y & called, ~y & ~called)):
        cells[at, k, j] = hit
    point = cells.sum(axis=0)  # (classes, 4)
    flat = cells.reshape(len(records), -1)
    boot = (draws(len(records), n_boot, seed) @ flat).reshape(n_boot, len(names), 4)
    whole, drawn = rates(*point.T), rates(*np.moveaxis(boot, 2, 0))
    has_pos = (boot[..., 0] + boot[..., 1]) > 0  # (n_boot, classes)
    has_call = (boot[..., 0] + boot[..., 2]) > 0
    out = []
    for c, name in enumerate(names):
        task, code = name.split("/", 1)
        m = k == c
        tp, fn, fp, tn = (int(x) for x in point[c])
        row: dict = {
            "finding": name,
            "task": task,
            "code": code,
            "threshold": float(f.threshold[m][0]),
            "records": int(m.sum()),
            "positives": tp + fn,
            "called": tp + fp,
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "tn": tn,
            "n_boot": n_boot,
            "no_positives": int((~has_pos[:, c]).sum()),
            "no_calls": int((has_pos[:, c] & ~has_call[:, c]).sum()),
        }
        for metric in METRICS:
            kept = has_pos[:, c] & np.isfinite(drawn[metric][:, c])
            row[metric] = float(whole[metric][c])
            row[f"{metric}_ci"] = _interval(drawn[metric][kept, c])
        out.append(row)
    return out


def _interval(x: np.ndarray) -> list[float]:
    """The 2.5th and 97.5th percentiles (NaN without draws)."""
    if not len(x):
        return [math.nan, math.nan]
    lo, hi = np.percentile(x, [2.5, 97.5])
    return [float(lo), float(hi)]


def figures(f: V.Findings, bands: L.Bands | None, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """The operating points, the reliability table and its ECE, and (with ``bands``) the words'
    observed frequencies (``likelihood.band_rows``) of the findings ``f``."""
    rel, ece = V.reliability(f.p, f.y)
    return {
        "points": operating_points(f, n_boot, seed),
        "reliability": rel,
        "ece": ece,
        "words": None if bands is None else V.band_rows(f, V.words(f, bands)),
        "findings": len(f.p),
        "records": len(np.unique(f.record)),
    }


# --- reading fold 10 and LUDB -------------------------------------------------------------------


def fold_findings(
    kept: dict, labels: D.Labels, card: Mapping, fold: int = D.TEST_FOLD, head: Beside | None = None
) -> V.Findings:
    """``likelihood.findings`` of ``fold``'s records. That function refuses every record outside
    fold 9 (the fold the words are chosen on); here the guard is for ``fold``: the records are
    checked to be ``fold``'s, then handed over with ``fold`` read as fold 9, and every other fold
    as none, so a record of another fold is still refused."""
    row_of = {int(e): i for i, e in enumerate(labels.ecg_id)}
    rows = np.array([row_of[int(e)] for e in kept["ecg_id"]])
    if not np.all(labels.fold[rows] == fold):
        raise ValueError(f"the window probabilities hold records outside fold {fold}")
    relabelled = dataclasses.replace(labels, fold=np.where(labels.fold == fold, D.VAL_FOLD, -1))
    return V.findings(kept, relabelled, card, {}, head)


def ludb_findings(result: Mapping, card: Mapping, head: Beside | None = None) -> V.Findings:
    """The findings of ``ood``'s LUDB records (its used ones: labels mapped, analysed) for each
    class of its task shown, at its threshold: the card's, or the record head's where the app
    weighs it in (``ood`` read the records through the app)."""
    lab = card["labels"][result["task"]]
    thresholds, shown = lab.get("thresholds", {}), set(lab.get("surfaced", []))
    if head is not None:
        thresholds, shown = head[0].judged(lab["classes"], thresholds, shown)
    used = [r for r in result["ludb"]["per_record"] if r["labels"] is not None and r["probabilities"]]
    codes = [c for c in result["classes"] if c in shown and c in thresholds]
    if not used or not codes:
        raise ValueError("no LUDB record or no surfaced class with a threshold in the ood result")
    p = np.array([[r["probabilities"][c] for c in codes] for r in used], dtype=np.float64)
    y = np.array([[r["labels"][c] for c in codes] for r in used], dtype=np.int8)
    rec = np.array([int(r["record"]) for r in used], dtype=np.int64)
    n, t = len(used), np.array([float(thresholds[c]) for c in codes])
    return V.Findings(
        p.T.ravel(),
        y.T.ravel(),
        np.repeat(t, n),
        np.repeat([f"{result['task']}/{c}" for c in codes], n),
        np.tile([f"record {r}" for r in rec], len(codes)),
        np.tile(rec, len(codes)),
    )


def read_ood(path: Path, digest: str) -> tuple[dict | None, str]:
    """(``ood``'s result, "") when ``path`` holds LUDB per-record probabilities of the weights
    ``digest`` under the app's contract; else (None, why not)."""
    if not path.is_file():
        return None, f"no `{_shown(path)}`"
    result = json.loads(path.read_text())
    model = result.get("model") or {}
    if model.get("sha256") != digest:
        return None, f"`{_shown(path)}` is of other weights ({str(model.get('sha256'))[:12]})"
    if str(model.get("contract")) != contract.CONTRACT_VERSION:
        return None, f"`{_shown(path)}` was read under contract {model.get('contract')}"
    if not (result.get("ludb") or {}).get("per_record"):
        return None, f"`{_shown(path)}` holds no LUDB records"
    return result, ""


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def evaluate(
    kept: dict,
    labels: D.Labels,
    card: Mapping,
    ludb: Mapping | None = None,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    head: Beside | None = None,
) -> dict:
    """``run``'s figures: fold 10 from the window probabilities ``kept`` and the labels (``head``:
    the record head weighed in as the app does), and LUDB from ``ood``'s result ``ludb`` (None: not
    available)."""
    bands = L.bands_from_card(card)
    f = fold_findings(kept, labels, card, head=head)
    return {
        "model": "",
        "sha256": str(card.get("weights_sha256") or ""),
        "kept": "",
        "tasks": [t for t in card["labels"] if t in kept],
        "fold10": figures(f, bands, n_boot, seed),
        "fold9_words": (card.get(L.SECTION) or {}).get("bands"),
        "fold9_ece": (card.get(L.SECTION) or {}).get("ece"),
        "bands": bands,
        "ludb": None if ludb is None else figures(ludb_findings(ludb, card, head), bands, n_boot, seed),
        "ludb_excluded": None if ludb is None else ludb["ludb"]["excluded"],
        "ludb_why_not": "",
        "n_boot": n_boot,
        "seed": seed,
    }


def run(
    model_file: Path,
    data_root: Path,
    logs: Path = EB.LOGS,
    ood_json: Path = KEPT_OOD,
    card: Mapping | None = None,
    n_boot: int = N_BOOT,
) -> dict:
    """Read the fold-10 window probabilities, the labels and LUDB's kept probabilities; the
    figures; the fold-10 read logged in the ledger."""
    from training.data.ledger import record
    from training.supervised.record_head import beside, described

    hint = "python -m training every-beat --split test"
    card, digest, kept_file = V.kept(model_file, card, logs, D.TEST_FOLD, hint)
    ludb, why_not = read_ood(ood_json, digest)
    root = D.ptbxl_root(data_root)
    probs = EB.load(kept_file)
    head = beside(digest, probs["ecg_id"], data_root)
    result = evaluate(probs, D.load_labels(root), card, ludb, n_boot, head=head)
    result |= {"model": model_file.name, "sha256": digest, "kept": _shown(kept_file), "ludb_why_not": why_not,
               "head": described(head)}  # fmt: skip
    if ludb is not None:
        result["ludb_source"] = _shown(ood_json)
    record(digest, ", ".join(result["tasks"]), ledger_figure(result), f"{model_file.name} (operating-points)")
    return result


def ledger_figure(result: dict) -> str:
    """The ledger's line: the figures read (a few of them; the report has every one)."""
    r = result["fold10"]
    shown = [p for p in r["points"] if p["finding"] in ("super/MI", "super/NORM")]
    parts = [
        f"{p['code']} Se {p['sensitivity']:.3f} Sp {p['specificity']:.3f} PPV {p['ppv']:.3f}" for p in shown
    ]
    words = r["words"] or {}
    likely = words.get(L.LIKELY, {}).get("frequency", math.nan)
    return (
        f"Se/Sp/PPV/NPV of {len(r['points'])} shown findings at the card's thresholds"
        f"{' (' + '; '.join(parts) + ')' if parts else ''}, ECE {r['ece']:.4f}, likely {_pct(likely)}"
    )


# --- the card -----------------------------------------------------------------------------------


def _r(x: float) -> float | None:
    """A figure for the card: 4 decimals, null for NaN (JSON has none)."""
    return None if x is None or math.isnan(x) else round(float(x), 4)


def _compact(fig: dict) -> dict:
    classes: dict[str, dict] = {}
    for p in fig["points"]:
        row: dict = {"threshold": p["threshold"], "positives": p["positives"]}  # the card's own
        for metric in ("sensitivity", "specificity", "ppv"):
            row[metric] = _r(p[metric])
            row[f"{metric}_ci"] = [_r(x) for x in p[f"{metric}_ci"]]
        classes.setdefault(p["task"], {})[p["code"]] = row
    return {"records": fig["records"], "classes": classes, "ece": _r(fig["ece"])}


def section(result: dict) -> dict:
    """The model card's ``operating_points`` section: per shown class, its threshold, Se, Sp, PPV
    with intervals and positives, on fold 10 (and LUDB where read); the ECE."""
    out: dict = {"fold": D.TEST_FOLD, "threshold_fold": D.VAL_FOLD}
    out |= _compact(result["fold10"])
    if result["ludb"] is not None:
        out["ludb"] = _compact(result["ludb"])
    out |= {
        "n_boot": result["n_boot"],
        "bootstrap": "records resampled; a draw without a positive of a class leaves it out",
        "bins": V.BINS,
        "weights_sha256": result["sha256"],
        "command": COMMAND,
        "report": "training/reports/OPERATING_POINTS.md",
    }
    return out


def write_card(card_path: Path, new: dict) -> None:
    """Put ``new`` as the card's ``operating_points`` section, and the Markdown card beside it
    (where there is one) written again from it; the rest stays byte for byte, so a card not
    written the way ``weights.write_card`` writes is refused rather than reformatted (as
    ``likelihood.write_card`` does for its section)."""
    from training.supervised.card import markdown

    text = card_path.read_text()
    card = json.loads(text)
    if json.dumps(card, indent=1) + "\n" != text:
        raise ValueError(f"{card_path}: not in the format weights.write_card writes; not rewritten")
    card[SECTION] = new  # in its place when there was one, else last
    atomic_write_bytes(card_path, (json.dumps(card, indent=1, allow_nan=False) + "\n").encode())
    if card_path.with_suffix(".md").is_file():
        atomic_write_bytes(card_path.with_suffix(".md"), markdown(card).encode())


# --- the report ---------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f} %"


def _3(x: float) -> str:
    """Three decimals of the figure the card keeps (``_r``), so the card and the report agree."""
    return f"{round(x, 4):.3f}"


def _with_ci(x: float, ci: list[float]) -> str:
    if math.isnan(x):
        return "-"
    if any(math.isnan(c) for c in ci):
        return _3(x)
    return f"{_3(x)} [{_3(ci[0])}, {_3(ci[1])}]"


def points_table(points: list[dict]) -> list[str]:
    lines = [
        "| finding | threshold | records | positives | called | Se [95 %] | Sp [95 %] | PPV [95 %] | "
        "NPV [95 %] | draws left out: no positive / no call |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        cells = [_with_ci(p[m], p[f"{m}_ci"]) for m in METRICS]
        lines.append(
            f"| {p['finding']} | {p['threshold']:.3f} | {p['records']} | {p['positives']} | {p['called']} | "
            + " | ".join(cells)
            + f" | {p['no_positives']} / {p['no_calls']} |"
        )
    return lines


def reliability_table(rows: list[dict]) -> list[str]:
    lines = ["| probability | findings | mean probability | observed frequency |", "|---|---|---|---|"]
    for r in rows:
        lo, hi = r["bin"]
        mean = "-" if r["n"] == 0 else f"{r['mean_p']:.3f}"
        freq = "-" if r["n"] == 0 else f"{r['frequency']:.3f}"
        lines.append(f"| {lo:.1f}-{hi:.1f} | {r['n']} | {mean} | {freq} |")
    return lines


def _freq_ci(freq: float | None, ci: list | None, n: int) -> str:
    if not n or freq is None or (isinstance(freq, float) and math.isnan(freq)):
        return "-"
    lo, hi = ci or [math.nan, math.nan]
    return f"{_pct(freq)} [{_pct(lo)}, {_pct(hi)}]"


def words_table(words: dict, fold9: Mapping | None, where: str) -> list[str]:
    lines = [
        f"| word | {where}: findings | {where}: label present [Wilson 95 %] | fold 9: findings | "
        "fold 9: label present [Wilson 95 %] |",
        "|---|---|---|---|---|",
    ]
    for w, r in words.items():
        nine = (fold9 or {}).get(w) or {}
        lines.append(
            f"| {w} | {r['n']} | {_freq_ci(r['frequency'], r['ci'], r['n'])} | {nine.get('n', '-')} | "
            f"{_freq_ci(nine.get('frequency'), nine.get('ci'), nine.get('n', 0))} |"
        )
    return lines


def _left_out(points: list[dict], n_boot: int) -> str:
    out = [f"{p['finding']} {p['no_positives']}" for p in points if p["no_positives"]]
    calls = [f"{p['finding']} {p['no_calls']}" for p in points if p["no_calls"]]
    text = (
        "Draws without a positive of a class (the class left out of that draw): "
        + (", ".join(out) if out else "none")
        + f", of {n_boot}. Draws with positives but without a positive call (left out of the PPV only): "
        + (", ".join(calls) if calls else "none")
        + "."
    )
    return text


def _section_lines(fig: dict, result: dict, where: str) -> list[str]:
    """A data set's tables: the operating points, calibration, the words."""
    b: L.Bands | None = result["bands"]
    lines = [
        f"### Sensitivity, specificity, PPV and NPV at the card's thresholds ({where})",
        "",
        *points_table(fig["points"]),
        "",
        _left_out(fig["points"], result["n_boot"]),
        "",
        f"### Calibration ({where}: {fig['findings']} findings, {V.BINS} equal bins of probability, pooled)",
        "",
        *reliability_table(fig["reliability"]),
        "",
        f"Expected calibration error: {fig['ece']:.4f} (the bins' |mean probability - observed frequency|, "
        "weighted by their findings)"
        + (f"; fold 9's: {result['fold9_ece']:.4f}." if result.get("fold9_ece") is not None else "."),
        "",
    ]
    if fig["words"] is not None and b is not None:
        likely = fig["words"][L.LIKELY]
        reached = "reaches" if likely["n"] and likely["frequency"] >= b.target else "does not reach"
        lines += [
            f"### The likelihood words ({where})",
            "",
            f"The words as the app gives them (scale `{b.scale}`, likely from {b.likely:g}; chosen on "
            f"fold {b.fold}, `python -m training likelihood`), read on {where} against fold {b.fold}'s "
            "figures from the card:",
            "",
            *words_table(fig["words"], result["fold9_words"], where),
            "",
            f"Likely {reached} the {100 * b.target:.0f} % it was chosen to mean on fold {b.fold}. The "
            "Wilson intervals count findings as independent, which they are not quite: a record gives "
            "several findings.",
            "",
        ]
    return lines


def report(result: dict) -> str:
    """OPERATING_POINTS.md from ``run``'s result."""
    r = result["fold10"]
    lines = [
        f"# Operating points (generated by `{COMMAND}`)",
        "",
        "Do not edit by hand: run the command again. What a shown finding means for the clinician at the "
        f"threshold the app decides it with: each class's threshold was chosen on PTB-XL fold {D.VAL_FOLD} "
        f"(F1-optimal, the card's `thresholds`); its sensitivity, specificity, PPV and NPV are read here on "
        f"fold {D.TEST_FOLD} and on LUDB, with the calibration and the likelihood words. Nothing is chosen "
        f"here; the fold-{D.TEST_FOLD} read is logged in [FOLD10.md](../FOLD10.md).",
        "",
        f"Model `{result['model']}` (SHA-256 {result['sha256'][:12]}), its fold-{D.TEST_FOLD} window "
        f"probabilities `{result['kept']}` (contract {contract.CONTRACT_VERSION}) read every beat as the app "
        f"reads them (`training.validate.likelihood.findings`). Findings: each class the card surfaces in "
        f"each of its tasks ({', '.join(result['tasks'])}), on each fold-{D.TEST_FOLD} record labelled in "
        f"that task: {r['findings']} findings on {r['records']} records. A finding is positive (called) "
        "when its probability is at or above the class's threshold, as the app decides; labelled when the "
        "record carries the PTB-XL statement (any likelihood)." + result.get("head", ""),
        "",
        f"Intervals: 2.5th-97.5th percentiles over {result['n_boot']} bootstrap draws (seed "
        f"{result['seed']}) of the records, resampled with replacement, the same draws for every class. "
        "PPV and NPV depend on how common a finding is: PTB-XL's mix of records is not a given clinic's.",
        "",
        f"## PTB-XL fold {D.TEST_FOLD}",
        "",
        *_section_lines(r, result, f"fold {D.TEST_FOLD}"),
        "## LUDB",
        "",
    ]
    if result["ludb"] is not None:
        lu = result["ludb"]
        excluded = result.get("ludb_excluded") or {}
        lines += [
            f"Lobachevsky University's 12-lead records, task `super`, from the per-record probabilities "
            f"`{result.get('ludb_source', '')}` of this model written by `{OOD_COMMAND}` (the app's readers "
            "and `Analyzer`), labels mapped from LUDB's diagnoses by `training/validate/ood.py` (`RULES`; "
            f"RESULTS.md shows the table): {lu['records']} records used, {sum(excluded.values())} left out "
            "by the mapping. Every used record counts, as `ood` counts it (a record with no superclass "
            "positive is a negative of each). Few records: wide intervals. The encoder's self-supervised "
            "pretraining saw LUDB's signals (no labels).",
            "",
            *_section_lines(lu, result, "LUDB"),
        ]
    else:
        lines += [
            f"Not read: {result['ludb_why_not']}. LUDB's operating points need this model's per-record LUDB "
            f"probabilities, written by `{OOD_COMMAND} --model resources/models/clear-hug-bundled.safetensors"
            f" --out runs/ood.json` (then `{COMMAND}` again).",
            "",
            f"TODO: LUDB's operating points: run `{OOD_COMMAND}`, then `{COMMAND}`.",
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- the command --------------------------------------------------------------------------------


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``operating-points`` command's options."""
    p.add_argument("--data-root", type=Path, default=None, help="holds ptbxl/ (default ../shared/data)")
    p.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    p.add_argument("--logs", type=Path, default=EB.LOGS, help="the every-beat command's window probabilities")
    p.add_argument(
        "--ood", type=Path, default=KEPT_OOD, help="the ood command's JSON (LUDB; default: the kept copy)"
    )
    p.add_argument("--n-boot", type=int, default=N_BOOT)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--no-card", dest="card", action="store_false", help="leave the model card alone")


def command(args: argparse.Namespace) -> None:
    """Sensitivity, specificity, PPV at the card's thresholds, calibration and the likelihood words
    on fold 10 and LUDB (OPERATING_POINTS.md; the fold-10 read logged in training/FOLD10.md)."""
    from ecgviewer import assets

    model = args.model or assets.model_path()
    data_root = args.data_root or D.default_data_root()
    if data_root is None:
        raise SystemExit("no --data-root given and ../shared/data is absent")
    result = run(model, data_root, args.logs, args.ood, n_boot=args.n_boot)
    atomic_write_bytes(args.out, report(result).encode())
    if args.card:
        write_card(model.with_suffix(".json"), section(result))
    r = result["fold10"]
    print(
        json.dumps(
            {
                "fold10_ece": r["ece"],
                "fold10_likely": (r["words"] or {}).get(L.LIKELY, {}).get("frequency"),
                "ludb": result["ludb"] is not None or result["ludb_why_not"],
                "report": str(args.out),
                "card": bool(args.card),
            }
        )
    )
