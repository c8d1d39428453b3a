"""``python -m training lead-quality``: does the measurement leave out a lead that is pure noise,
flat or clipped, and only that lead? LUDB records, clean and with one lead corrupted, measured on
the app's route (``ecgviewer.measure.pipeline.measure``); writes ``LEAD_QUALITY.md``.

Synthetic corruptions, because no shared recording has leads marked as detached or saturated:
white noise and muscle noise where the ECG was (a detached electrode picking up noise), a loose
electrode (slow swings, mains hum and a little noise), a flat lead, and a lead clipped at 60 % of
its range (every taller wave on the rail). The corrupted lead is drawn per record.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training import REPORTS, RUNS
from training.data import ludb, noise
from training.validate.xai_scores import wilson

Corruption = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _loose(x: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(len(x)) / fs
    swing = 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))
    return swing + noise.mains((len(x),), fs, 0.2, 50.0, rng) + rng.normal(0, 0.02, len(x))


CORRUPTIONS: dict[str, Corruption] = {
    "white noise, 0.2 mV RMS": lambda x, fs, rng: rng.normal(0, 0.2, len(x)),
    "muscle noise (20-100 Hz), 0.3 mV RMS": lambda x, fs, rng: noise.muscle((len(x),), fs, 0.3, rng),
    "loose electrode (0.3 Hz swing 0.3 mV, 50 Hz 0.2 mV, 20 uV noise)": _loose,
    "flat (0 mV)": lambda x, fs, rng: np.zeros_like(x),
    "clipped at 60 % of its range": lambda x, fs, rng: np.minimum(x, x.min() + 0.6 * np.ptp(x)),
}
COMPARED = ("qrs", "qt", "hr")


def run(root: Path, out_jsonl: Path, limit: int | None = None) -> list[dict]:
    """Measure every record clean and under each corruption of one drawn lead; one JSON line per
    record and condition (the lead, the leads left out and the values compared)."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure

    delineator = Delineator.bundled()

    def rows_of(rec: ludb.LudbRecord) -> list[dict]:
        rng = np.random.default_rng(rec.number)
        lead = int(rng.integers(len(STANDARD_LEADS)))
        rows = []
        for name, corrupt in {"clean": None, **CORRUPTIONS}.items():
            x = rec.signals.astype(np.float64)
            if corrupt is not None:
                x = x.copy()
                x[lead] = corrupt(x[lead], rec.fs, rng)
            m = measure(x, rec.fs, STANDARD_LEADS, delineator)
            rows.append({"record": rec.number, "condition": name,
                         "lead": None if corrupt is None else STANDARD_LEADS[lead], "left_out": m.left_out,
                         "values": {k: m.values[k].value for k in COMPARED}})  # fmt: skip
        return rows

    return ludb.each_record(root, out_jsonl, rows_of, limit)


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.2f} [{lo:.2f}-{hi:.2f}]"


def _median_abs(a: list[float]) -> str:
    return f"{np.median(np.abs(a)):.1f}" if a else "-"


def table(rows: list[dict]) -> list[str]:
    """Per condition: the corrupted lead left out, any other lead left out beyond those of the
    clean recording, and how far the measurements moved from the clean recording's."""
    clean = {r["record"]: r for r in rows if r["condition"] == "clean"}
    lines = ["| condition | records | corrupted lead left out [95 %] | another lead left out [95 %] | "
             "median abs change QRS / QT (ms), HR (bpm) |", "|---|---|---|---|---|"]  # fmt: skip
    for name in ("clean", *CORRUPTIONS):
        sel = [r for r in rows if r["condition"] == name]
        base = {r["record"]: set(clean[r["record"]]["left_out"]) for r in sel}
        if name == "clean":
            others = sum(bool(r["left_out"]) for r in sel)
            lines.append(f"| clean | {len(sel)} | - | {_rate(others, len(sel))} | - |")
            continue
        hit = sum(r["lead"] in r["left_out"] for r in sel)
        extra = sum(bool(set(r["left_out"]) - {r["lead"]} - base[r["record"]]) for r in sel)
        moved = []
        for k in COMPARED:
            d = [r["values"][k] - clean[r["record"]]["values"][k] for r in sel
                 if r["values"][k] is not None and clean[r["record"]]["values"][k] is not None]  # fmt: skip
            moved.append(_median_abs(d))
        lines.append(f"| {name} | {len(sel)} | {_rate(hit, len(sel))} | {_rate(extra, len(sel))} | "
                     f"{moved[0]} / {moved[1]}, {moved[2]} |")  # fmt: skip
    return lines


def write(rows: list[dict], out: Path, command: str) -> Path:
    clean = [r for r in rows if r["condition"] == "clean" and r["left_out"]]
    listed = "; ".join(f"record {r['record']}: " + ", ".join(f"{k} ({v})" for k, v in r["left_out"].items())
                       for r in clean) or "none"  # fmt: skip
    lines = ["# Leads left out of the measurements", "",
             f"Generated by `{command}`; do not edit by hand. Each LUDB record is measured on the "
             "app's route clean, then with one lead (drawn per record) replaced or corrupted. "
             "Corrupted lead left out: the measurement names it with its reason; another lead "
             "left out: any lead beyond those of the clean recording; the change is against the "
             "clean recording's values. Wilson 95 % intervals. The bundled delineator was trained "
             "on all of LUDB: this judges the leads, not the delineation (the statistics and their "
             "limits in `ecgviewer/measure/quality.py` are not learned).", "",
             *table(rows), "", f"Leads left out of the clean recordings: {listed}.", ""]  # fmt: skip
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    return out


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``lead-quality`` command's options."""
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--run-dir", type=Path, default=RUNS / "lead_quality")
    p.add_argument("--limit", type=int, default=None, help="only the first N LUDB records (tests)")
    p.add_argument("--out", type=Path, default=REPORTS / "LEAD_QUALITY.md")


def command(args: argparse.Namespace) -> None:
    """Leads left out (noise, flat, clipped) on LUDB; writes LEAD_QUALITY.md."""
    from training.supervised.export import command_line

    rows = run(args.data_root / "ludb", args.run_dir / "lead_quality.jsonl", args.limit)
    print(write(rows, args.out, " ".join(command_line())))
