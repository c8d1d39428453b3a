"""``python -m training vf``: what the beat list makes of ventricular flutter and fibrillation.

EC57 leaves the reference's ventricular flutter out of the beat-by-beat scores; a Holter reader
still meets it. This command measures, on every record of the databases given, per database: the
beat list's flutter detector (``ecgviewer.measure.flutter``: the seconds of its events inside and
outside the reference's flutter and fibrillation), the beats still listed inside it and how they
were called, and the seconds a ventricular run or an unreadable stretch covers there (issue 74).
The detector is fitted on the MIT-BIH Malignant Ventricular Ectopy Database (``vfdb``) and tested
on what it never saw: the Creighton University Ventricular Tachyarrhythmia Database (``cudb``) and
MIT-BIH DS1 (``../shared``), all PhysioNet, ODC-By 1.0.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, SHARED_DATA

COMMAND = "python -m training vf"
FLUTTER_RHYTHMS = ("(VF", "(VFL", "(VFIB")  # the rhythm labels of vfdb and mitdb
# Where the external databases were found (a search tool's fetch of a public repository that
# carries PhysioNet's files unchanged); a later session brings them the same way.
SOURCES = {
    "vfdb": "PhysioNet's vfdb (Greenwald 1986), 22 records of 35 min, 2 leads at 250 Hz",
    "cudb": "PhysioNet's cudb (Nolle et al. 1986), 35 records of 8.5 min, 1 lead at 250 Hz",
    "mitdb": "MIT-BIH Arrhythmia DS1 in ../shared (only record 207 has flutter)",
}


@dataclass
class Row:
    record: str
    duration_s: float
    vf_s: float  # the reference's flutter and fibrillation
    listed: int  # beats the beat list has inside it
    ventricular: int  # of those, called ventricular
    in_run_s: float  # seconds of it inside a ventricular run event
    unreadable_s: float  # seconds of it inside an unreadable stretch
    found_s: float = 0.0  # seconds of the flutter detector's events
    found_in_s: float = 0.0  # of those, inside the reference's flutter


def stretches(
    samples: Iterable[int], symbols: Sequence[str], notes: Sequence[str], fs: float, end_s: float,
    rhythms: Sequence[str] = FLUTTER_RHYTHMS,
) -> list[tuple[float, float]]:  # fmt: skip
    """The reference's flutter and fibrillation (s): ``[`` to ``]`` (cudb, mitdb) and the rhythm
    labels ``rhythms`` to the next rhythm label (vfdb, mitdb), merged."""
    found, start, rhythm = [], None, None
    for s, y, note in zip(samples, symbols, notes, strict=True):
        t, note = s / fs, (note or "").strip("\x00 ")
        if y == "[":
            start = t
        elif y == "]" and start is not None:
            found.append((start, t))
            start = None
        if note.startswith("("):
            if rhythm is not None:
                found.append((rhythm, t))
            rhythm = t if note in rhythms else None
    found += [(t, end_s) for t in (start, rhythm) if t is not None]
    merged: list[tuple[float, float]] = []
    for a, b in sorted(found):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def measure(path: Path, delineator) -> Row:
    """One record (``path``: its .hea) read by the app's beat list, against its reference."""
    import wfdb

    from ecgviewer.io import load
    from ecgviewer.measure.rhythm import FLUTTER, KINDS, analyse
    from training.validate.ec57 import overlap

    rec = load(path)
    ann = wfdb.rdann(str(path.with_suffix("")), "atr")
    vf = stretches(ann.sample, list(ann.symbol), list(ann.aux_note), float(ann.fs or rec.fs), rec.duration)
    beats = analyse(rec, delineator)
    inside = np.zeros(len(beats.t_s), bool)
    for a, b in vf:
        inside |= (beats.t_s >= a) & (beats.t_s <= b)
    kinds = np.array([KINDS[k] for k in beats.kind])
    events = {kind: [(e.start_s, e.end_s) for e in beats.events if e.kind == kind]
              for kind in ("ventricular run", "unreadable", FLUTTER)}  # fmt: skip
    return Row(
        path.stem, rec.duration, sum(b - a for a, b in vf), int(inside.sum()),
        int((kinds[inside] == "ventricular").sum()), overlap(vf, events["ventricular run"]),
        overlap(vf, events["unreadable"]), sum(b - a for a, b in events[FLUTTER]),
        overlap(vf, events[FLUTTER]),
    )  # fmt: skip


@dataclass
class Ordinary:
    """The beat list's flutter events on ordinary 10 s ECGs (PTB-XL, whose statements have no
    ventricular flutter or fibrillation: every event is a false one)."""

    folds: tuple[int, ...]
    records: int
    with_event: list[int]  # ecg_ids
    seconds: float


def ordinary(root: Path, folds: Sequence[int], delineator) -> Ordinary:
    """Every PTB-XL record (100 Hz) of ``folds`` read by the app's beat list."""
    from ecgviewer.io import load
    from ecgviewer.measure.rhythm import FLUTTER, analyse
    from training.data.datasets import load_labels, ptbxl_record

    labels = load_labels(root)
    ids = [int(i) for i, f in zip(labels.ecg_id, labels.fold, strict=True) if f in folds]
    found, seconds, read = [], 0.0, 0
    for ecg_id in ids:
        path = ptbxl_record(root, ecg_id).with_suffix(".hea")
        if not path.is_file():
            continue
        events = [e for e in analyse(load(path), delineator).events if e.kind == FLUTTER]
        read += 1
        seconds += sum(e.end_s - e.start_s for e in events)
        found += [ecg_id] if events else []
    return Ordinary(tuple(folds), read, found, seconds)


def report(by_db: dict[str, list[Row]], command: str, plain: Ordinary | None = None) -> str:
    lines = [
        f"# Ventricular flutter and fibrillation in the beat list (generated by `{command}`)",
        "",
        "Do not edit by hand: run the command again. Every record of each database read by the app's "
        "beat list (its reader, `measure.rhythm.analyse`, the beat list's delineator, the bundled classifier "
        "and flutter detector), against the reference's ventricular flutter and fibrillation "
        "(`[` to `]`, and the "
        f"rhythm labels {', '.join(f'`{r}`' for r in FLUTTER_RHYTHMS)}; `training/validate/vf.py`).",
        "",
        "## The flutter detector's events",
        "",
        "Duration sensitivity (the reference's flutter inside an event) and positive predictivity (an "
        "event's seconds inside the reference's flutter), gross, with 95 % intervals by a bootstrap "
        "over records; the events' seconds outside flutter, per hour of recording.",
        "",
        "| database | records (with flutter) | hours | flutter (s) | found (s) | Se % | +P % "
        "| found outside flutter (s per hour) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_found_row(db, rows) for db, rows in by_db.items()]
    lines += [
        "",
        "## What the beat list lists inside flutter",
        "",
        "| database | records (with flutter) | hours | flutter (s) | beats listed in it (per min) "
        "| called ventricular | in a ventricular run (s) | unreadable (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_db_row(db, rows) for db, rows in by_db.items()]
    lines += ["", "Databases: " + "; ".join(f"`{db}`: {SOURCES.get(db, db)}" for db in by_db) + ". The "
              "bundled classifier was fitted on MIT-BIH DS1, record 207 included, and the flutter detector "
              "on vfdb: those rows are not out of sample (EC57.md has 207 cross-validated, the detector's "
              "card its vfdb figures cross-validated).", "",
              "Per record with flutter (its seconds, seconds found, beats listed, called ventricular, "
              "seconds in a ventricular run):", ""]  # fmt: skip
    for db, rows in by_db.items():
        cells = [f"{r.record} {r.vf_s:.0f}/{r.found_in_s:.0f}/{r.listed}/{r.ventricular}/{r.in_run_s:.0f}"
                 for r in rows if r.vf_s]  # fmt: skip
        lines.append(f"- {db}: " + ("; ".join(cells) if cells else "none"))
    if plain is not None:
        folds = ", ".join(map(str, plain.folds))
        lines += ["", "## Ordinary 12-lead ECGs", "",
                  f"PTB-XL fold(s) {folds} (10 s, 100 Hz; no statement of ventricular flutter or "
                  "fibrillation: "
                  f"every event is a false one): {plain.records} records read by the beat list, "
                  f"{len(plain.with_event)} with a flutter event ({plain.seconds:.0f} s)"
                  + (f": ecg_id {', '.join(map(str, plain.with_event[:20]))}" if plain.with_event else "")
                  + "."]  # fmt: skip
    cells = [f"{r.record} {r.found_s - r.found_in_s:.0f}" for rows in by_db.values() for r in rows
             if r.found_s - r.found_in_s >= 1]  # fmt: skip
    lines += [
        "",
        "Seconds found outside the reference's flutter, per record: " + (", ".join(cells) or "none"),
    ]
    return "\n".join(lines) + "\n"


def _ratio(rows: Sequence[Row], num: str, den: str, draws: int = 2000, seed: int = 0) -> str:
    """sum(num) / sum(den) over the records (%), with a 95 % interval by a bootstrap over records;
    "-" where the denominator is nothing, and no interval where one record holds all of it."""
    a = np.array([getattr(r, num) for r in rows])
    b = np.array([getattr(r, den) for r in rows])
    if b.sum() <= 0:
        return "-"
    if (b > 0).sum() < 2:
        return f"{100 * a.sum() / b.sum():.1f} (one record)"
    idx = np.random.default_rng(seed).integers(0, len(rows), (draws, len(rows)))
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = 100 * a[idx].sum(axis=1) / b[idx].sum(axis=1)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return f"{100 * a.sum() / b.sum():.1f} [{lo:.1f}, {hi:.1f}]"


def _found_row(db: str, rows: Sequence[Row]) -> str:
    hours = sum(r.duration_s for r in rows) / 3600
    outside = sum(r.found_s - r.found_in_s for r in rows)
    return (
        f"| {db} | {len(rows)} ({sum(r.vf_s > 0 for r in rows)}) | {hours:.1f} "
        f"| {sum(r.vf_s for r in rows):.0f} "
        f"| {sum(r.found_s for r in rows):.0f} | {_ratio(rows, 'found_in_s', 'vf_s')} "
        f"| {_ratio(rows, 'found_in_s', 'found_s')} | {outside / hours:.1f} |"
    )


def _db_row(db: str, rows: Sequence[Row]) -> str:
    vf_s = sum(r.vf_s for r in rows)
    listed, ventricular = sum(r.listed for r in rows), sum(r.ventricular for r in rows)

    def seconds(s: float) -> str:
        return f"{s:.0f} ({100 * s / vf_s:.1f} %)" if vf_s else f"{s:.0f}"

    hours = sum(r.duration_s for r in rows) / 3600
    return (
        f"| {db} | {len(rows)} ({sum(r.vf_s > 0 for r in rows)}) | {hours:.1f} "
        f"| {vf_s:.0f} | {listed}" + (f" ({60 * listed / vf_s:.0f})" if vf_s else "")
        + f" | {f'{100 * ventricular / listed:.1f} %' if listed else '-'} "
        f"| {seconds(sum(r.in_run_s for r in rows))} | {seconds(sum(r.unreadable_s for r in rows))} |"
    )  # fmt: skip


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, nargs="+", default=[SHARED_DATA / "mitdb"],
                   help="WFDB database folders (.hea .dat .atr), named as PhysioNet names them")  # fmt: skip
    p.add_argument("--records", nargs="*", default=None, help="only these records (of every database)")
    p.add_argument("--ptbxl", type=Path, default=None,
                   help="PTB-XL (records100/, labels) as ordinary ECGs, without flutter")  # fmt: skip
    p.add_argument("--folds", type=int, nargs="+", default=[9], help="PTB-XL folds read (never 10 here)")
    p.add_argument("--out", type=Path, default=REPORTS / "VF.md")


def command(args: argparse.Namespace) -> None:
    """The beat list in ventricular flutter and fibrillation, per database (VF.md)."""
    from ecgviewer.measure.rhythm import bundled_delineator

    delineator = bundled_delineator()
    by_db: dict[str, list[Row]] = {}
    for db in args.db:
        if not db.is_dir():
            raise SystemExit(f"{db}: no such database folder")
        heads = sorted(p for p in db.glob("*.hea") if p.with_suffix(".atr").is_file())
        heads = [p for p in heads if args.records is None or p.stem in args.records]
        by_db[db.name] = [measure(p, delineator) for p in heads]
        print(f"{db.name}: {len(heads)} records", flush=True)
    records = [f"--records {' '.join(args.records)}"] if args.records else []
    plain = None
    if args.ptbxl is not None:
        if 10 in args.folds:
            raise SystemExit("fold 10 is PTB-XL's test fold: this command does not read it")
        plain = ordinary(args.ptbxl, args.folds, delineator)
        records += ["--ptbxl", args.ptbxl.name, "--folds", *map(str, args.folds)]
    text = report(by_db, " ".join([COMMAND, "--db", *(d.name for d in args.db), *records]), plain)
    atomic_write_bytes(args.out, text.encode())
    print(f"wrote {args.out}")
