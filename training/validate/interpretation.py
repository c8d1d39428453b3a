"""``python -m training interpretation``: the statements the measurements make
(``ecgviewer.measure.statements``) against the statements of PTB-XL's cardiologists: per statement,
sensitivity and positive predictive value with Wilson 95 % intervals, on the app's own route
(``ecgviewer.io.load``, ``measure_recording`` with the bundled delineator) on PTB-XL's 100 Hz
records, with the patient's sex from PTB-XL's table.

The criteria come from the literature, not from these data; fold 9 is where their few constants
may be looked at, fold 10 is reported (each time it is scored, logged in ``training/FOLD10.md``).
Resumable: one JSON line per record in the run folder.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ecgviewer.measure.beats import MIN_PACE_FS
from ecgviewer.measure.statements import CRITERIA
from training import REPORTS, RUNS
from training.data.datasets import TEST_FOLD
from training.validate.xai_scores import wilson

# PTB-XL's codes that count as each statement of ours (premature beats: a premature complex not
# called ventricular, which the ventricular premature complexes' statement names).
PTBXL = {code: {code} for code in CRITERIA if code not in ("LAD", "RAD")} | {"PRC(S)": {"PRC(S)", "PAC"}}
UNMATCHED = ("LAD", "RAD")  # PTB-XL has no axis statements: reported as counts only
RATE_VALUES = ("hr", "p", "pr", "qrs", "qt")  # checked at both of PTB-XL's rates


def run(root: Path, folds: tuple[int, ...], path: Path, limit: int | None = None) -> list[dict]:
    """Measure every 100 Hz record of ``folds`` not yet in ``path`` and append its statements
    (the sex from PTB-XL's table: the shared copy of ``ptbxl_database.csv`` has few rows)."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.measure.statements import statements
    from training.data.datasets import ptbxl_record

    table = _table(root)
    table = table[table.strat_fold.isin(folds)]
    codes = [c for c in table.columns if c not in ("age", "sex", "strat_fold")]
    delineator = Delineator.bundled()

    def labelled(ecg_id: int) -> dict:
        row = table.loc[ecg_id]
        return {"ecg_id": ecg_id, "fold": int(row["strat_fold"]), "labels": [c for c in codes if row[c]]}

    def ours(ecg_id: int) -> dict:
        m = measure_recording(load(ptbxl_record(root, ecg_id).with_suffix(".hea")), delineator)
        return {"ours": [s.criterion.code for s in statements(m, _sex(table.loc[ecg_id]))]}

    return each_record(path, [int(e) for e in table.index], labelled, ours, limit)


def each_record(
    path: Path, ids: Sequence[int], labelled: Callable[[int], dict], result: Callable[[int], dict],
    limit: int | None = None,
) -> list[dict]:  # fmt: skip
    """Append one JSON line per record of ``ids`` not yet in ``path`` (at most ``limit`` more):
    ``labelled``'s fields and ``result``'s, or the error of a record the app cannot read; flushed
    line by line, so a stopped run resumes where it stopped. Every row of ``path``."""
    from ecgviewer.errors import EcgError

    done = {r["ecg_id"] for r in read(path)}
    todo = [e for e in ids if e not in done][:limit]
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with path.open("a") as fh:
        for k, ecg_id in enumerate(todo):
            out = labelled(ecg_id)
            try:
                out |= result(ecg_id)
            except (EcgError, ValueError, RuntimeError) as e:
                out["error"] = f"{type(e).__name__}: {e}"
            fh.write(json.dumps(out) + "\n")
            fh.flush()
            if (k + 1) % 200 == 0:
                print(f"{k + 1}/{len(todo)} records, {time.perf_counter() - t0:.0f} s", flush=True)
    return read(path)


def rate_check(root: Path, path: Path, limit: int | None = None) -> list[dict]:
    """Every PTB-XL record kept at both rates (``records500`` beside ``records100``) measured at
    each: whether PTB-XL's 100 Hz copy moves the intervals or the statements. Resumable as ``run``."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.measure.statements import statements
    from training.data.datasets import ptbxl_record

    done = {r["ecg_id"] for r in read(path)}
    high = {int(h.stem.split("_")[0]): h for h in (root / "records500").rglob("*_hr.hea")}
    table = _table(root)
    delineator = Delineator.bundled()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for ecg_id in sorted(set(high) - done)[:limit]:
            out: dict = {"ecg_id": ecg_id}
            sex = _sex(table.loc[ecg_id])
            for rate, hea in (("100", ptbxl_record(root, ecg_id).with_suffix(".hea")), ("500", high[ecg_id])):
                m = measure_recording(load(hea), delineator)
                out[rate] = {"values": {k: m.values[k].value for k in RATE_VALUES},
                             "ours": [c.criterion.code for c in statements(m, sex)],
                             "paced": m.paced_rhythm}  # fmt: skip
            fh.write(json.dumps(out) + "\n")
    return read(path)


def _table(root: Path):
    import pandas as pd

    return pd.read_csv(root / "ptbxl_statements_v103.csv", index_col="ecg_id")


def _sex(row) -> str | None:
    """PTB-XL's sex code as ``statements`` takes it (the shared ``ptbxl_database.csv`` has few rows)."""
    import pandas as pd

    return {0: "male", 1: "female"}.get(int(row["sex"])) if pd.notna(row["sex"]) else None


def rate_table(rows: list[dict]) -> list[str]:
    """Paired differences, 100 Hz minus 500 Hz, of the values, and each statement's calls."""
    import numpy as np

    lines = ["## The same records at 100 and 500 Hz", "",
             f"PTB-XL's records kept at both rates here ({len(rows)}: ecg_id "
             f"{min(r['ecg_id'] for r in rows)}-{max(r['ecg_id'] for r in rows)}), each measured at "
             "both; the tables above read the 100 Hz copies.", "",
             "| value | 100 Hz minus 500 Hz (ms or bpm), mean ± SD | median | records |",
             "|---|---|---|---|"]  # fmt: skip
    for k in RATE_VALUES:
        pairs = [(r["100"]["values"][k], r["500"]["values"][k]) for r in rows]
        d = np.array([a - b for a, b in pairs if a is not None and b is not None])
        if len(d) >= 2:
            lines.append(f"| {k} | {d.mean():+.1f} ± {d.std(ddof=1):.1f} | {np.median(d):+.1f} | {len(d)} |")
    lines += ["", "| statement | called at 100 Hz | at 500 Hz | at both |", "|---|---|---|---|"]
    paced = [{r["ecg_id"] for r in rows if r[rate]["paced"]} for rate in ("100", "500")]
    low, high = paced
    lines.append(f"| Paced rhythm: paced complex measured (spikes need {MIN_PACE_FS:.0f} Hz) | {len(low)} | "
                 f"{len(high)} | {len(low & high)} |")  # fmt: skip
    for code, c in CRITERIA.items():
        low = {r["ecg_id"] for r in rows if code in r["100"]["ours"]}
        high = {r["ecg_id"] for r in rows if code in r["500"]["ours"]}
        if low | high:
            lines.append(f"| {c.text} | {len(low)} | {len(high)} | {len(low & high)} |")
    return [*lines, ""]


def read(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    )


def agreement(rows: list[dict], code: str) -> dict:
    """Counts of one statement of ours against PTB-XL's: labelled, called, both."""
    measured = [r for r in rows if "ours" in r]
    labelled = [set(r["labels"]) & PTBXL.get(code, set()) != set() for r in measured]
    called = [code in r["ours"] for r in measured]
    both = sum(a and b for a, b in zip(labelled, called, strict=True))
    return {"records": len(measured), "labelled": sum(labelled), "called": sum(called), "both": both}


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}-{hi:.2f}]"


def table(rows: list[dict], fold: int) -> list[str]:
    mine = [r for r in rows if r["fold"] == fold]
    failed = [r for r in mine if "error" in r]
    why = "; ".join(sorted({r["error"].split(":")[0] for r in failed})) or "none"
    lines = [f"## Fold {fold}", "",
             f"{len(mine) - len(failed)} records measured, {len(failed)} not ({why}).",
             "", "| statement | PTB-XL codes | labelled | called | sensitivity [95 %] | PPV [95 %] |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for code, c in CRITERIA.items():
        a = agreement(mine, code)
        if code in UNMATCHED:
            lines.append(f"| {c.text} | none | - | {a['called']} | - | - |")
            continue
        codes = ", ".join(sorted(PTBXL[code]))
        lines.append(f"| {c.text} | {codes} | {a['labelled']} | {a['called']} | "
                     f"{_rate(a['both'], a['labelled'])} | {_rate(a['both'], a['called'])} |")  # fmt: skip
    return [*lines, ""]


def write(rows: list[dict], out: Path, command: str, rates: list[dict] | None = None) -> Path:
    folds = sorted({r["fold"] for r in rows})
    lines = ["# Statements from the measurements against PTB-XL", "",
             f"Generated by `{command}`; do not edit by hand. Each statement of "
             "`ecgviewer.measure.statements` (criterion and source in the table below) against the "
             "recording's PTB-XL statements (any likelihood). Sensitivity: of the records PTB-XL "
             "labels, the share we call; PPV: of the records we call, the share PTB-XL labels. "
             "Wilson 95 % intervals. Fold 9 is where the criteria's constants may be looked at; fold "
             "10 is reported. Note: the morphology tests of the bundle branch blocks were revised "
             "after looking at two fold-10 records (ecg_id 180 and 172) during development.", ""]  # fmt: skip
    for fold in folds:
        lines += table(rows, fold)
    if rates:
        lines += rate_table(rates)
    lines += ["## Criteria", "", "| statement | criterion | source |", "|---|---|---|"]
    lines += [f"| {c.text} | {c.rule} | {c.source} |" for c in CRITERIA.values()]
    out.write_text("\n".join(lines) + "\n")
    return out


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``interpretation`` command's options."""
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--folds", default="9,10", help="fold 9 may be looked at, fold 10 is reported")
    p.add_argument("--run-dir", type=Path, default=RUNS / "interpretation")
    p.add_argument("--limit", type=int, default=None, help="at most N more records (tests)")
    p.add_argument("--out", type=Path, default=REPORTS / "STATEMENTS.md")


def command(args: argparse.Namespace) -> None:
    """The measurements' statements against PTB-XL's; writes STATEMENTS.md."""
    from training.supervised.export import command_line

    folds = tuple(int(f) for f in args.folds.split(","))
    rows = run(args.data_root / "ptbxl", folds, args.run_dir / "statements.jsonl", args.limit)
    rates = rate_check(args.data_root / "ptbxl", args.run_dir / "rates.jsonl") if args.limit is None else []
    rows = [r for r in rows if r["fold"] in folds]
    print(write(rows, args.out, " ".join(command_line()), rates))
    if TEST_FOLD in folds:
        log_test_read(rows)


def log_test_read(rows: list[dict]) -> None:
    """The fold-10 read in the ledger: the delineator's hash and each matched statement's
    sensitivity and PPV, as STATEMENTS.md prints them."""
    from ecgviewer.assets import delineator_path
    from ecgviewer.weights import sha256
    from training.data.ledger import record

    test = [r for r in rows if r["fold"] == TEST_FOLD]
    scores = [(code, agreement(test, code)) for code in CRITERIA if code not in UNMATCHED]
    figure = "; ".join(
        f"{code} {a['both']}/{a['labelled']}, {a['both']}/{a['called']}"
        for code, a in scores
        if a["labelled"]
    )
    measured = sum("ours" in r for r in test)
    what = f"measurement statements (STATEMENTS.md; sensitivity, PPV), {measured} records"
    record(sha256(delineator_path()), "statements", figure, what)
