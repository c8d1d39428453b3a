"""``python -m training interpretation-pairs``: the computer's interpretation as the window and the
report print it (``ecgviewer.interpretation.propose``: the measurements' statements and the model's
findings together) on PTB-XL's validation fold, and the statements it makes together that exclude
each other ("Complete" and "Incomplete right bundle branch block"; sinus rhythm and atrial
fibrillation), each pair with who said which side and what PTB-XL's cardiologists labelled. An
interpretation that contradicts itself is wrong whichever side is right, so a pair counted here
is a fault to mend or to explain; the labels say which side a rule should keep.

Fold 9 only: this looks at the product's output to find faults, it chooses nothing (fold 10 is
not read). Resumable: one JSON line per record in the run folder.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from training import REPORTS, RUNS

COMMAND = "python -m training interpretation-pairs"
FOLD = 9
SINUS = ("SR", "SBRAD", "STACH", "SARRH")
ATRIAL = ("AFIB", "AFLT")
# Statements an interpretation never makes together, each with why (AHA/ACCF/HRS 2009 parts I-III)
EXCLUDE: tuple[tuple[str, Sequence[str], Sequence[str]], ...] = (
    ("a sinus rhythm and atrial fibrillation or flutter", SINUS, ATRIAL),
    ("atrial fibrillation and atrial flutter", ("AFIB",), ("AFLT",)),
    ("two sinus rates", ("SBRAD",), ("STACH", "SR")),
    ("a complete and an incomplete right bundle branch block", ("CRBBB",), ("IRBBB",)),
    ("a complete and an incomplete left bundle branch block", ("CLBBB",), ("ILBBB",)),
    ("a left and a right bundle branch block, both complete", ("CLBBB",), ("CRBBB",)),
    ("left and right axis deviation", ("LAD",), ("RAD",)),
    ("premature beats in atrial fibrillation or flutter (every beat is early)", ("PRC(S)", "PAC"), ATRIAL),
    ("a first-degree AV block in atrial fibrillation or flutter (no PR)", ("1AVB",), ATRIAL),
    ("a normal ECG beside a rhythm or block that is not", ("NORM",), (*ATRIAL, "CLBBB", "CRBBB", "PACE")),
)


def run(root: Path, path: Path, limit: int | None = None) -> list[dict]:
    """Analyse every fold-9 100 Hz record not yet in ``path`` as the window does (the bundled
    model and delineator, the patient's sex from PTB-XL's table) and append what the
    interpretation states: each statement's code and who said it ("measured", "model", "both")."""
    from ecgviewer.analysis import analyse
    from ecgviewer.interpretation import propose
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.ml.infer import Analyzer
    from training.data.datasets import ptbxl_record
    from training.validate.interpretation import _sex, _table, each_record

    table = _table(root)
    table = table[table.strat_fold == FOLD]
    codes = [c for c in table.columns if c not in ("age", "sex", "strat_fold")]
    analyzer, delineator = Analyzer(device="cpu"), Delineator.bundled()

    def labelled(ecg_id: int) -> dict:
        return {"ecg_id": ecg_id, "labels": [c for c in codes if table.loc[ecg_id, c]]}

    def said(ecg_id: int) -> dict:
        rec = load(ptbxl_record(root, ecg_id).with_suffix(".hea"))
        found = analyse(rec, analyzer=analyzer, delineator=delineator, explain=False)
        out = propose(found.measurements, found.predicted, sex=_sex(table.loc[ecg_id]), bands=analyzer.bands)
        return {"said": [[s.code, _who(s.evidence)] for s in out if s.code is not None]}

    return each_record(path, [int(e) for e in table.index], labelled, said, limit)


def _who(evidence: str) -> str:
    """Who stands behind a statement, from its evidence ("measured: ...; model: ...")."""
    measured, model = evidence.startswith("measured: "), "model" in evidence
    return "both" if measured and model else "measured" if measured else "model"


def pairs(rows: Sequence[dict]) -> list[dict]:
    """Per excluded pair: the records whose interpretation states both sides, by who said which
    ("measured CRBBB + model IRBBB"), and how many of them PTB-XL labels with each side."""
    out = []
    for why, left, right in EXCLUDE:
        by: Counter[str] = Counter()
        labelled = Counter({"left": 0, "right": 0, "neither": 0})
        for r in rows:
            said = dict((code, who) for code, who in r.get("said", []))
            a = [c for c in left if c in said]
            b = [c for c in right if c in said and c not in a]
            if not a or not b:
                continue
            by[" + ".join(f"{said[c]} {c}" for c in (a[0], b[0]))] += 1
            on = {side for side, cs in (("left", left), ("right", right)) if set(cs) & set(r["labels"])}
            for side in on or {"neither"}:
                labelled[side] += 1
        out.append({"why": why, "left": left, "right": right, "records": sum(by.values()),
                    "by": dict(by.most_common()), "labelled": dict(labelled)})  # fmt: skip
    return out


def contradicted(rows: Sequence[dict]) -> set[int]:
    """The records whose interpretation states at least one excluded pair."""
    out = set()
    for r in rows:
        said = {code for code, _ in r.get("said", [])}
        if any(said & set(left) and said & (set(right) - set(left)) for _, left, right in EXCLUDE):
            out.add(r["ecg_id"])
    return out


def write(rows: Sequence[dict], out: Path, command: str) -> Path:
    """INTERPRETATION.md: how many statements an interpretation makes, and the excluded pairs."""
    ok = [r for r in rows if "said" in r]
    errors = Counter(r["error"].split(":")[0] for r in rows if "error" in r)
    sizes = Counter(len(r["said"]) for r in ok)
    lines = [
        "# The computer's interpretation on PTB-XL fold 9: statements that exclude each other",
        "",
        f"Generated by `{command}`; do not edit by hand. Each fold-9 record analysed as the window "
        "analyses it (the bundled model and delineator, `ecgviewer.interpretation.propose`), then "
        "every pair of statements the interpretation makes together although they exclude each "
        "other. Who said each side: the measurements' criteria (`measured`), the model, or both. "
        "PTB-XL's labels (any likelihood) say which side its cardiologists stated. Fold 10 is not read.",
        "",
        f"{len(ok)} records analysed, {len(rows) - len(ok)} not"
        + (f" ({', '.join(f'{n} {e}' for e, n in errors.items())})" if errors else "")
        + "; statements per interpretation: "
        + ", ".join(f"{n}: {sizes[n]}" for n in sorted(sizes)),
        "",
        "| statements together | records | who said them | PTB-XL labels: first side / second / neither |",
        "|---|---|---|---|",
    ]
    table = pairs(ok)
    lines[-3:-3] = ["", f"{len(contradicted(ok))} interpretations state at least one of these pairs."]
    for p in table:
        who = "; ".join(f"{k}: {v}" for k, v in p["by"].items()) or "-"
        lab = p["labelled"]
        first, second = "/".join(p["left"]), "/".join(p["right"])
        lines.append(f"| {p['why']} ({first}; {second}) | {p['records']} | {who} | "
                     f"{lab['left']} / {lab['right']} / {lab['neither']} |")  # fmt: skip
    out.write_text("\n".join(lines) + "\n")
    return out


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``interpretation-pairs`` command's options."""
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--run-dir", type=Path, default=RUNS / "interpretation-pairs")
    p.add_argument("--limit", type=int, default=None, help="at most N more records (tests)")
    p.add_argument("--out", type=Path, default=REPORTS / "INTERPRETATION.md")


def command(args: argparse.Namespace) -> None:
    """The interpretation's statements that exclude each other on fold 9; writes INTERPRETATION.md."""
    from training.supervised.export import command_line

    rows = run(args.data_root / "ptbxl", args.run_dir / "said.jsonl", args.limit)
    print(write(rows, args.out, " ".join(command_line())))
