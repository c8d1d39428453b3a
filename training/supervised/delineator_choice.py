"""``python -m training choose-delineator``: which delineator recipe ships, decided on LUDB's
cross-validation alone. Both recipes' fold models measured every record (``measurements.py``);
per record, condition and global fiducial the paired difference of absolute errors (recipe A's
minus B's, ms), its mean over records with a 95 % bootstrap interval over records.

The rule, fixed before the figures: A replaces B when no condition-fiducial pair is worse with A
(its interval above zero) and at least one is better (its interval below zero); otherwise B stays.

Either rule is followed by a wave-detection check (``DETECTION``) on the same records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training import REPORTS
from training.data import ludb
from training.validate.measurements import FIDUCIALS

# the conditions the rule was fixed with (measurements.CONDITIONS then); later validation
# conditions do not change what a choice weighs
CONDITIONS = (
    "clean",
    "wander",
    "mains",
    "muscle",
    "all",
    "leads=1",
    "leads=2",
    "leads=3",
    "fs=250",
    "fs=125",
)

N_BOOT = 2000

# For a candidate that is faster rather than better (``--margin-ms``), fixed before its figures.
NON_INFERIOR = (
    "The rule for a faster candidate, fixed before the figures: A replaces B when, for every "
    "condition-fiducial pair, the upper end of the interval is below {margin:g} ms (one sample of "
    "the delineator's 250 Hz grid is 4 ms): A is then worse by less than that anywhere."
)
# Added after the first faster candidate's figures, when its P-wave table and a test (an atrial
# fibrillation record given a PR interval) showed more false P waves, which the fiducial rule does
# not see; it can only keep the shipped recipe.
DETECTION = (
    "Wave detection, checked for every candidate (added after the first faster candidate's "
    "figures: its P-wave table and an atrial-fibrillation test record showed more false P waves, "
    "which the fiducial errors do not see; the check can only keep B): A must not be worse on any "
    "condition-wave pair in sensitivity or positive predictive value (worse: the paired 95 % "
    "interval of A minus B, records resampled, entirely below zero)."
)
WAVES = ("P", "QRS", "T")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# What the choice reads of each measured row: kept for a recipe measured a fold at a time (a fold's
# rows are 0.6 MB gzipped whole, mostly per-lead detail that only MEASUREMENTS.md reads).
KEPT = {
    "measurements": ("record", "condition", "paced", "global"),
    "waves": ("record", "condition", "lead", "marked", "found", "matched"),
}


def keep_fold(rows: dict[str, list[dict]], summary: dict, fold: int, dest: Path) -> list[Path]:
    """One fold's measured ``rows`` (by ``KEPT`` name, every row of a record that fold held out)
    into ``dest/fold<k>/`` as gzipped JSON lines, and its training ``summary`` into
    ``dest/summary.json`` beside the folds kept before (of the same recipe only)."""
    import gzip

    from ecgviewer.storage import atomic_write_bytes

    before = json.loads((dest / "summary.json").read_text()) if (dest / "summary.json").is_file() else {}
    if before and before["recipe"] != summary["recipe"]:
        raise SystemExit(f"{dest}: holds folds of another recipe")
    written = []
    for name, fields in KEPT.items():
        held = [r for r in rows[name] if ludb.fold_of(r["record"]) == fold]
        if not held or len(held) != len(rows[name]):
            raise SystemExit(f"{name}: {len(held)} of {len(rows[name])} rows are fold {fold}'s records")
        text = "".join(json.dumps({k: r[k] for k in fields}) + "\n" for r in held)
        path = dest / f"fold{fold}" / f"{name}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, gzip.compress(text.encode(), mtime=0))
        written.append(path)
    folds = {**before.get("folds", {}), str(fold): summary["folds"][str(fold)]}
    merged = {"recipe": summary["recipe"], "folds": dict(sorted(folds.items()))}
    atomic_write_bytes(dest / "summary.json", (json.dumps(merged, indent=1) + "\n").encode())
    return [*written, dest / "summary.json"]


def measured(run: Path, name: str) -> list[dict]:
    """A recipe's ``name`` rows (``measurements``, ``waves``): ``run/name.jsonl`` from one run, or,
    for a recipe too long to train in one session, every ``run/fold<k>/name.jsonl.gz`` that the
    sessions kept (each fold measured on the records it held out)."""
    import gzip

    whole = run / f"{name}.jsonl"
    if whole.is_file():
        return read(whole)
    parts = [run / f"fold{k}" / f"{name}.jsonl.gz" for k in range(ludb.FOLDS)]
    if missing := [p.parent.name for p in parts if not p.is_file()]:
        raise SystemExit(f"{run}: no {whole.name}, and {', '.join(missing)} not measured ({name}.jsonl.gz)")
    return [json.loads(line) for p in parts for line in gzip.decompress(p.read_bytes()).splitlines()
            if line.strip()]  # fmt: skip


def paired(rows_a: list[dict], rows_b: list[dict], seed: int = 0) -> list[dict]:
    """Per condition and fiducial: the mean of |A| - |B| over records both measured (paced left
    out), with its bootstrap interval."""
    b_of = {(r["record"], r["condition"]): r for r in rows_b if not r["paced"]}
    rng = np.random.default_rng(seed)
    out = []
    for cond in CONDITIONS:
        for k in FIDUCIALS:
            diffs = []
            for a in rows_a:
                b = b_of.get((a["record"], a["condition"]))
                here = a["condition"] == cond and not a["paced"] and b is not None
                if here and k in a["global"] and k in b["global"]:
                    diffs.append(abs(a["global"][k]) - abs(b["global"][k]))
            d = np.array(diffs)
            if len(d) < 10:
                continue
            boots = d[rng.integers(0, len(d), (N_BOOT, len(d)))].mean(axis=1)
            lo, hi = np.percentile(boots, [2.5, 97.5])
            out.append({"condition": cond, "fiducial": k, "n": len(d), "mean": float(d.mean()),
                        "lo": float(lo), "hi": float(hi)})  # fmt: skip
    return out


def detection(rows_a: list[dict], rows_b: list[dict], seed: int = 0) -> list[dict]:
    """Per condition and wave: A's sensitivity and PPV minus B's (``waves.py`` rows: each record's
    leads pooled), with bootstrap intervals over the records both delineated."""

    def counts(rows: list[dict]) -> dict[tuple[str, str], dict[int, np.ndarray]]:
        out: dict[tuple[str, str], dict[int, np.ndarray]] = {}
        for r in rows:
            for w in WAVES:
                c = out.setdefault((r["condition"], w), {}).setdefault(r["record"], np.zeros(3))
                c += (r["marked"].get(w, 0), r["found"].get(w, 0), r["matched"].get(w, 0))
        return out

    a_counts, b_counts = counts(rows_a), counts(rows_b)
    rng = np.random.default_rng(seed)
    out = []
    for key in sorted(a_counts.keys() & b_counts.keys()):
        records = sorted(a_counts[key].keys() & b_counts[key].keys())
        if len(records) < 10:
            continue
        a = np.array([a_counts[key][r] for r in records])  # (records, marked/found/matched)
        b = np.array([b_counts[key][r] for r in records])
        draws = rng.integers(0, len(records), (N_BOOT, len(records)))
        for name, den in (("sensitivity", 0), ("PPV", 1)):  # matched over marked, over found
            diff = _rate(a, draws, den) - _rate(b, draws, den)
            lo, hi = np.percentile(diff, [2.5, 97.5])
            rates = {"a": float(_rate(a, slice(None), den)), "b": float(_rate(b, slice(None), den))}
            out.append({"condition": key[0], "wave": key[1], "measure": name, "n": len(records), **rates,
                        "lo": float(lo), "hi": float(hi)})  # fmt: skip
    return out


def _rate(x: np.ndarray, idx: np.ndarray | slice, den: int) -> np.ndarray:
    """Matched over column ``den`` of the (records, marked/found/matched) counts ``x[idx]``."""
    return x[idx, 2].sum(axis=-1) / np.maximum(x[idx, den].sum(axis=-1), 1)


def detection_worse(checks: list[dict]) -> list[dict]:
    """The condition-wave pairs where A detects worse (the interval entirely below zero)."""
    return [c for c in checks if c["hi"] < 0]


def choose(results: list[dict], margin_ms: float | None = None) -> tuple[bool, str]:
    """(A replaces B, why) by the rule in the module's docstring, or with ``margin_ms`` by the
    non-inferiority rule (``NON_INFERIOR``)."""
    if margin_ms is not None:
        if not results:
            return False, "no pair was measured"
        top = max(results, key=lambda r: r["hi"])
        where = f"largest upper end {top['hi']:+.2f} ms, {top['condition']} {top['fiducial']}"
        if top["hi"] < margin_ms:
            return True, f"A is worse by less than {margin_ms:g} ms on every pair ({where})"
        over = [r for r in results if r["hi"] >= margin_ms]
        names = ", ".join(f"{r['condition']} {r['fiducial']}" for r in over)
        return False, f"A may be worse by {margin_ms:g} ms or more on {names}"
    worse = [r for r in results if r["lo"] > 0]
    better = [r for r in results if r["hi"] < 0]
    if worse:
        names = ", ".join(f"{r['condition']} {r['fiducial']}" for r in worse)
        return False, f"A is worse on {names}"
    if not better:
        return False, "A is better nowhere"
    return True, f"A is better on {len(better)} of {len(results)} and worse on none"


def _check_row(c: dict) -> str:
    return (f"| {c['condition']} | {c['wave']} | {c['measure']} | {c['n']} | {c['a']:.3f} | {c['b']:.3f} | "
            f"{c['a'] - c['b']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}] |")  # fmt: skip


def table(results: list[dict], a: str, b: str) -> list[str]:
    lines = [f"| condition | fiducial | records | mean abs error, {a} minus {b} (ms) [95 %] |",
             "|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['condition']} | {r['fiducial']} | {r['n']} | "
                     f"{r['mean']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}] |")  # fmt: skip
    return lines


def write(
    a_dir: Path, b_dir: Path, out: Path, command: str, margin_ms: float | None = None
) -> tuple[bool, str]:
    """DELINEATOR.md from the two recipes' measurement rows; returns the decision."""
    from ecgviewer.storage import atomic_write_bytes

    results = paired(measured(a_dir, "measurements"), measured(b_dir, "measurements"))
    keep_a, why = choose(results, margin_ms)
    checks = detection(measured(a_dir, "waves"), measured(b_dir, "waves"))
    worse = detection_worse(checks)
    if keep_a and worse:
        names = ", ".join(f"{c['condition']} {c['wave']} {c['measure']}" for c in worse)
        keep_a, why = False, f"{why}; but A detects worse on {names}"
    recipe = {d: json.loads((d / "summary.json").read_text()).get("recipe") for d in (a_dir, b_dir)}
    method = (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ")
    if margin_ms is not None:
        method = method.split(" The rule,")[0] + " " + NON_INFERIOR.format(margin=margin_ms)
    lines = ["# Which delineator recipe ships", "", f"Generated by `{command}`; do not edit. {method}",
             "", f"A ({a_dir.name}): `{json.dumps(recipe[a_dir])}`.", "",
             f"B ({b_dir.name}): `{json.dumps(recipe[b_dir])}`.", "",
             *table(results, "A", "B"), "", DETECTION, "",
             "| condition | wave | measure | records | A | B | A minus B [95 %] |",
             "|---|---|---|---|---|---|---|", *(_check_row(c) for c in checks), "",
             f"Decision: {'A ships' if keep_a else 'B stays'} ({why}).", ""]  # fmt: skip
    atomic_write_bytes(out, "\n".join(lines).encode())
    return keep_a, why


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``choose-delineator`` command's options."""
    p.add_argument("--a", type=Path, required=True, help="the candidate's run dir (measured)")
    p.add_argument("--b", type=Path, required=True, help="the shipped recipe's run dir (measured)")
    p.add_argument("--out", type=Path, default=REPORTS / "DELINEATOR.md")
    p.add_argument("--margin-ms", type=float, default=None,
                   help="non-inferiority: A (faster) ships when worse by less than this")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """Paired comparison of two recipes' fold models on LUDB; writes DELINEATOR.md."""
    from training.supervised.export import command_line

    print(write(args.a, args.b, args.out, " ".join(command_line()), args.margin_ms))
