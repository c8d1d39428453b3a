"""``python -m training atrial-waves``: how organised the atrial activity between the QRS-T
complexes is (``ecgviewer.measure.atrial_waves``) in PTB-XL's atrial flutter records against its
fibrillation records, its sinus and supraventricular tachycardias and the rest, on the app's route
(``ecgviewer.io.load``, ``measure_recording`` with the bundled delineator, ``statements``), and what
the flutter statement calls. Its figures set the statement's constants (folds 1-8: every flutter
and tachycardia record, and the fibrillation and other records drawn at random, seed 0) and checked
them (fold 9, every record). The tachycardias are drawn whole: a regular tachycardia whose P waves
are not found is what flutter with 2:1 conduction is told apart from, and a random draw holds few.
Fold 10 is refused: STATEMENTS.md reports it. Resumable: one JSON line per record in the run folder.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from training import REPORTS, RUNS
from training.data.datasets import TEST_FOLD

COMMAND = "python -m training atrial-waves"
OUT = REPORTS / "ATRIAL_WAVES.md"
GROUPS = ("flutter", "fibrillation", "tachycardia", "other")  # AFLT; AFIB without AFLT; TACHYCARDIAS; none
TACHYCARDIAS = ("STACH", "SVTAC", "PSVT", "SVARR")  # sinus and supraventricular, without AFLT or AFIB
RHYTHMS = ("SR", "STACH", "SBRAD", "SARRH", "AFIB", "AFLT", "SVTAC", "PSVT", "SVARR", "PACE", "BIGU", "TRIGU")


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``atrial-waves`` command's options."""
    p.add_argument(
        "--data-root", type=Path, required=True, help="holds ptbxl/ with the folds' 100 Hz records"
    )
    p.add_argument("--folds", default="1,2,3,4,5,6,7,8")
    p.add_argument("--draw", default="200,400", help="fibrillation and other records drawn (0: every one)")
    p.add_argument("--run-dir", type=Path, default=RUNS / "atrial-waves")
    p.add_argument("--limit", type=int, default=None, help="at most N records (tests)")
    p.add_argument("--out", type=Path, default=OUT)


def chosen(table, folds: tuple[int, ...], draw: tuple[int, int]):
    """The records read (a DataFrame of ``ptbxl_statements_v103.csv``'s rows), each with its group:
    every flutter and tachycardia record of ``folds``, ``draw`` fibrillation and other records drawn
    (seed 0)."""
    import pandas as pd

    d = table[table.strat_fold.isin(folds)]
    flutter, fib = d.AFLT > 0, (d.AFIB > 0) & (d.AFLT == 0)
    fast = d[[c for c in TACHYCARDIAS if c in d]].gt(0).any(axis=1) & ~flutter & ~fib
    parts = [d[flutter].assign(group="flutter"), d[fast].assign(group="tachycardia")]
    for group, rows, n in (("fibrillation", d[fib], draw[0]), ("other", d[~flutter & ~fib & ~fast], draw[1])):
        parts.append((rows.sample(min(n, len(rows)), random_state=0) if n else rows).assign(group=group))
    return pd.concat(parts)


def run(root: Path, rows, path: Path, limit: int | None = None) -> list[dict]:
    """Measure every chosen record not yet in ``path`` (JSON lines) and return them all."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.measure.statements import interpret

    path.parent.mkdir(parents=True, exist_ok=True)
    done = {r["ecg_id"]: r for r in map(json.loads, path.read_text().splitlines())} if path.is_file() else {}
    delineator = Delineator.bundled()
    todo = [r for r in rows.itertuples() if int(r.ecg_id) not in done][:limit]
    with path.open("a") as f:
        for r in todo:
            e = int(r.ecg_id)
            m = measure_recording(
                load(root / "records100" / f"{e // 1000 * 1000:05d}" / f"{e:05d}_lr.hea"), delineator
            )
            w = m.atrial_waves
            found = {s.criterion.code: s for s in interpret(m)}
            said = [code for code, s in found.items() if not s.withheld]
            out = {"ecg_id": e, "fold": int(r.strat_fold), "group": r.group,
                   "rhythm": [c for c in RHYTHMS if getattr(r, c, 0) > 0],
                   "organisation": None if w is None else round(w.organisation, 4),
                   "rate_per_min": None if w is None else round(w.rate_per_min, 1),
                   "flutter": "AFLT" in said, "fibrillation": "AFIB" in said,
                   "flutter_withheld": "AFLT" in found and "AFLT" not in said}  # fmt: skip
            f.write(json.dumps(out) + "\n")
            done[e] = out
    wanted = {int(e) for e in rows.ecg_id}
    return [r for e, r in done.items() if e in wanted]


def table(rows: list[dict]) -> list[str]:
    """Per group: records, the organisation's median and quartiles, those called flutter and
    fibrillation; then what the flutter statement called outside the flutter records."""
    lines = ["| group | records | organisation: median [quartiles] | called flutter | called fibrillation |",
             "|---|---|---|---|---|"]  # fmt: skip
    for group in GROUPS:
        mine = [r for r in rows if r["group"] == group]
        v = np.array([r["organisation"] for r in mine if r["organisation"] is not None])
        q = np.percentile(v, [50, 25, 75]) if len(v) else None
        spread = "-" if q is None else f"{q[0]:.2f} [{q[1]:.2f}, {q[2]:.2f}]"
        lines.append(f"| {group} | {len(mine)} | {spread} | {sum(r['flutter'] for r in mine)} | "
                     f"{sum(r['fibrillation'] for r in mine)} |")  # fmt: skip
    wrong = Counter(",".join(r["rhythm"]) or "no rhythm statement" for r in rows
                    if r["flutter"] and r["group"] != "flutter")  # fmt: skip
    called = sum(r["flutter"] for r in rows)
    others = ", ".join(f"{k} {n}" for k, n in wrong.most_common())
    said = f" The others by PTB-XL's rhythm statements: {others}." if wrong else ""
    held = Counter(r["group"] for r in rows if r.get("flutter_withheld"))
    kept = ", ".join(f"{g} {held[g]}" for g in GROUPS if held[g]) or "none"
    return [
        *lines,
        "",
        f"Called flutter: {called}, of them {called - sum(wrong.values())} flutter records.{said} "
        f"Not stated, the waves at twice a regular rate less organised than that: {kept}.",
    ]


def write(rows: list[dict], folds: tuple[int, ...], draw: tuple[int, int], out: Path, command: str) -> Path:
    from ecgviewer.measure import atrial_waves as A
    from ecgviewer.storage import atomic_write_bytes

    drawn = ", ".join(f"{n or 'every one'} {g}" for g, n in zip(("fibrillation", "other"), draw, strict=True))
    lines = [
        "# Atrial waves in PTB-XL's flutter, fibrillation, tachycardia and other records",
        "",
        f"Generated by `{command}`; do not edit by hand. The app's route on PTB-XL's 100 Hz records "
        f"of fold{'s' * (len(folds) > 1)} {', '.join(map(str, folds))} (every flutter and tachycardia "
        f"record; of the rest, {drawn} records drawn at random, seed 0): each lead's median beat "
        f"subtracted at every R, the rest's periodogram read in {', '.join(A.LEADS)}; organisation, "
        f"the share of the power over {A.BAND_HZ[0]:g}-{A.BAND_HZ[1]:g} Hz in the dominant atrial "
        "rate and its harmonic, in its most organised lead (`ecgviewer/measure/atrial_waves.py`). "
        "The flutter statement: no P wave found, not paced, waves at "
        f"{A.FLUTTER_PER_MIN[0]:.0f}-{A.FLUTTER_PER_MIN[1]:.0f} a minute holding "
        f"{A.FLUTTER_ORGANISATION:g} or more, and {A.TWICE_ORGANISATION:g} or more where they run at "
        "twice a regular ventricular rate. Groups by PTB-XL's statements: flutter (AFLT), "
        f"fibrillation (AFIB without AFLT), tachycardia ({', '.join(TACHYCARDIAS)}, neither of those), "
        "other (none of these). Fold 10 is not read here (STATEMENTS.md).",
        "",
        *table(rows),
        "",
    ]
    atomic_write_bytes(out, "\n".join(lines).encode())
    return out


def command(args: argparse.Namespace) -> None:
    """Atrial waves in PTB-XL's flutter, fibrillation, tachycardia and other records; writes
    ATRIAL_WAVES.md."""
    import pandas as pd

    from training.data.datasets import ptbxl_root
    from training.supervised.export import command_line

    folds = tuple(int(f) for f in args.folds.split(","))
    if TEST_FOLD in folds:
        raise SystemExit(f"fold {TEST_FOLD} is the test fold: STATEMENTS.md reports it")
    fib, other = (int(n) for n in args.draw.split(","))
    root = ptbxl_root(args.data_root)
    rows = chosen(pd.read_csv(root / "ptbxl_statements_v103.csv"), folds, (fib, other))
    tag = f"folds{''.join(map(str, folds))}-draw{fib}-{other}"
    measured = run(root, rows, args.run_dir / f"{tag}.jsonl", args.limit)
    print(write(measured, folds, (fib, other), args.out, " ".join(command_line())))
