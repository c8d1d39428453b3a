"""``python -m training delineator-int8``: the 8-bit form of a delineator, for the beat list.

Calibration: each quantisation point's activation range (``unet.int8_ranges``) over the
delineator's own training records (LUDB 1-200, every lead through the delineation contract),
written beside the weights (``<weights>.int8.json``, with their SHA-256) for
``Delineator.int8`` to build ``unet.Int8UNet`` from. Fitting the ranges to the training data is
what calibration is; the effect is then measured on recordings the delineator never saw:
MIT-BIH's records, each read by the beat list's pages (``rhythm.detect``) in both forms, beat
by beat (``DELINEATOR-INT8.md``, generated). EC57 with ``--against`` gives the classes' side.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPO, REPORTS, SHARED_DATA

BUNDLED = REPO / "resources" / "models" / "delineator-ludb.safetensors"
CALIBRATION = range(1, 201)  # LUDB's records the bundled delineator was trained on (its card)
COMMAND = "python -m training delineator-int8"
MATCH_S = 0.150  # EC57's matching window


def batches(ludb_root: Path, numbers: Sequence[int]) -> Iterator:
    """Each record's 12 leads through the contract, as network inputs (12, 2, n)."""
    import torch

    from ecgviewer.measure import signal
    from ecgviewer.measure.delineate import inputs
    from training.data import ludb

    for n in numbers:
        rec = ludb.load(ludb_root, n)
        yield torch.from_numpy(inputs(signal.prepare(rec.signals, rec.fs)))


def calibrate(weights: Path, ludb_root: Path, numbers: Sequence[int]) -> Path:
    """Write ``weights``' activation ranges beside them; returns the file."""
    from ecgviewer.measure.delineate import Delineator, int8_path
    from ecgviewer.measure.unet import INT8_ENGINE, int8_ranges
    from ecgviewer.weights import sha256

    model = Delineator.load(weights).model
    ranges = int8_ranges(model, batches(ludb_root, numbers))
    doc = {
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "engine": INT8_ENGINE,
        "calibration": f"LUDB records {_span(numbers)}, 12 leads each through the delineation contract",
        "command": COMMAND,
        "ranges": ranges,
    }
    out = int8_path(weights)
    atomic_write_bytes(out, (json.dumps(doc, indent=1) + "\n").encode())
    return out


def _span(numbers: Sequence[int]) -> str:
    n = sorted(numbers)
    return f"{n[0]}-{n[-1]}" if n == list(range(n[0], n[-1] + 1)) else ", ".join(map(str, n))


def compare(weights: Path, mitdb: Path, names: Sequence[str]) -> list[dict]:
    """Per record: the beat list's beats found by the float and the 8-bit delineator, matched
    within 150 ms (EC57's window), and the matched beats' fiducial differences (ms)."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import BEAT_FIDUCIALS, detect
    from training.validate.rpeaks import pairs

    loaded = Delineator.load(weights)
    int8_form = loaded.int8()
    if int8_form is loaded:
        raise SystemExit(f"{weights.name}: no 8-bit ranges beside it (run {COMMAND} first)")
    float_form = Delineator(loaded.model, loaded.meta)  # without the ranges: ``detect`` reads in float
    rows = []
    for name in names:
        rec = load(mitdb / f"{name}.hea")
        a, b = detect(rec, float_form), detect(rec, int8_form)
        ms = lambda t: np.round(t * 1000).astype(np.int64)  # noqa: E731
        ia, ib = np.array(pairs(ms(a.t_s), ms(b.t_s), round(MATCH_S * 1000)), dtype=int).reshape(-1, 2).T
        diffs = {}
        for k, fid in enumerate(BEAT_FIDUCIALS):  # each fiducial on the recording's clock (ms)
            fa = a.fiducials_ms[k][ia] + a.t_s[ia] * 1000
            fb = b.fiducials_ms[k][ib] + b.t_s[ib] * 1000
            both = np.isfinite(fa) & np.isfinite(fb)
            either = int((np.isfinite(fa) | np.isfinite(fb)).sum())
            moved = np.round(fb[both] - fa[both], 1).tolist()
            diffs[fid] = {"n": int(both.sum()), "either": either, "d": moved}
        n = len(ia)
        rows.append({"record": name, "float": len(a.t_s), "int8": len(b.t_s), "matched": n,
                     "fiducials": diffs})  # fmt: skip
        print(f"{name}: {len(a.t_s)} beats float, {len(b.t_s)} int8, {n} matched", flush=True)
    return rows


LUDB_CONDITIONS = ("leads=2,fs=250", "leads=2,fs=250,noise=all")  # a 2-lead Holter's, clean and noisy
N_BOOT = 2000


def against_marks(weights: Path, ludb_root: Path, numbers: Sequence[int]) -> list[dict]:
    """Per non-paced LUDB record and condition: the beat list's mean absolute error against the
    cardiologists' marks per fiducial (``per_beat.compare``), read with the float and the 8-bit
    form. The bundled delineator was trained on these records: the pair's difference is the
    point here, not the errors' level (MEASUREMENTS.md has those, from held-out fold models)."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource
    from training.data import ludb
    from training.validate.per_beat import compare as per_beat
    from training.validate.waves import condition

    loaded = Delineator.load(weights)
    forms = {"float": Delineator(loaded.model, loaded.meta), "int8": loaded}
    rows = []
    for number in numbers:
        rec = ludb.load(ludb_root, number)
        if ludb.is_paced(rec):
            continue
        for name in LUDB_CONDITIONS:
            x, fs, idx = condition(rec, name)
            row: dict = {"record": number, "condition": name}
            for form, delineator in forms.items():
                recording = make_recording(None, ArraySource(x), fs, [STANDARD_LEADS[i] for i in idx], "ludb")
                beats = analyse(recording, delineator)
                errors = per_beat(rec, idx, beats.t_s, beats.fiducials_ms)["errors"]
                row[form] = {k: float(np.mean(np.abs(v))) if v else None for k, v in errors.items()}
            rows.append(row)
    return rows


def _paired(rows: Sequence[dict], name: str, fid: str, seed: int = 0) -> tuple[float, float, float, int]:
    """The mean over records of the 8-bit form's mean absolute error minus the float form's (ms),
    with a 95 % bootstrap interval over records."""
    scored = [r for r in rows if r["condition"] == name and None not in (r["int8"][fid], r["float"][fid])]
    d = np.array([r["int8"][fid] - r["float"][fid] for r in scored])
    draws = np.random.default_rng(seed).integers(0, len(d), (N_BOOT, len(d)))
    lo, hi = np.percentile(d[draws].mean(axis=1), [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi), len(d)


def report(
    rows: Sequence[dict], marks: Sequence[dict], calibration: dict, command: str, weights: Path = BUNDLED
) -> str:
    """The report; ``weights``: the delineator compared, named where it is not the bundled one."""
    from ecgviewer.measure.rhythm import BEAT_FIDUCIALS

    which = "bundled delineator" if weights == BUNDLED else f"delineator `{weights.name}`"

    total = {k: sum(r[k] for r in rows) for k in ("float", "int8", "matched")}
    lines = [
        f"# The delineator's 8-bit form on MIT-BIH (generated by `{command}`)",
        "",
        "Do not edit by hand: run the command again. The beat list reads long recordings with the "
        f"{which}'s 8-bit form (`unet.Int8UNet`: every convolution after the first in 8-bit "
        f"integers on the `{calibration['engine']}` engine, the upsampling in float), calibrated on "
        f"{calibration['calibration']}. "
        f"Here each of {len(rows)} MIT-BIH records (never seen by the delineator) is read by the beat "
        "list's pages (`rhythm.detect`) with the float and the 8-bit form; beats are matched within "
        "150 ms and each matched beat's fiducials compared (8-bit minus float, ms; the grid is 4 ms).",
        "",
        f"Beats: {total['float']} float, {total['int8']} 8-bit, {total['matched']} matched "
        f"({100 * total['matched'] / max(1, total['float']):.2f} % of the float form's).",
        "",
        "| fiducial | both have it | one only | mean ± SD (ms) | 95 % within (ms) | moved 4 ms or more "
        "| moved 20 ms or more |",
        "|---|---|---|---|---|---|---|",
    ]
    for fid in BEAT_FIDUCIALS:
        d = np.concatenate([np.asarray(r["fiducials"][fid]["d"], float) for r in rows])
        n = len(d)
        one = sum(r["fiducials"][fid]["either"] - r["fiducials"][fid]["n"] for r in rows)
        if n == 0:
            lines.append(f"| {fid} | 0 | {one} | - | - | - | - |")
            continue
        a = np.abs(d)
        lines.append(
            f"| {fid} | {n} | {one} ({100 * one / (n + one):.2f} %) | {d.mean():+.2f} ± {d.std():.2f} | "
            f"{np.percentile(a, 95):.1f} | {100 * (a >= 4).mean():.2f} % | {100 * (a >= 20).mean():.2f} % |"
        )
    each = "; ".join(f"{r['record']} {r['matched']}/{r['float']}/{r['int8']}" for r in rows)
    lines += ["", f"Per record (matched / float / 8-bit beats): {each}.", ""]
    if marks:
        lines += [
            "## Against the cardiologists' marks (LUDB)",
            "",
            f"Each non-paced LUDB record's beat list under {' and '.join(f'`{c}`' for c in LUDB_CONDITIONS)} "
            "(`per_beat.py`'s conditions and matching), read with both forms: per record the mean absolute "
            "error of each fiducial against the marks, and the mean over records of the 8-bit form's minus "
            f"the float form's (ms), with a 95 % bootstrap interval over records. The {which} was "
            "trained on these records, so the errors' level is not the point (MEASUREMENTS.md has it, from "
            "held-out fold models): the difference is.",
            "",
            "| condition | fiducial | float MAE (ms) | 8-bit minus float (ms) [95 %] | records |",
            "|---|---|---|---|---|",
        ]
        for name in LUDB_CONDITIONS:
            for fid in BEAT_FIDUCIALS:
                mean, lo, hi, n = _paired(marks, name, fid)
                base = np.mean(
                    [r["float"][fid] for r in marks if r["condition"] == name and r["float"][fid] is not None]
                )
                lines.append(f"| {name} | {fid} | {base:.2f} | {mean:+.2f} [{lo:+.2f}, {hi:+.2f}] | {n} |")
        lines.append("")
    return "\n".join(lines)


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", type=Path, default=BUNDLED, help="the delineator (default: bundled)")
    p.add_argument("--ludb", type=Path, default=SHARED_DATA / "ludb", help="LUDB (calibration)")
    p.add_argument("--records", type=int, nargs="*", default=list(CALIBRATION), help="LUDB records")
    p.add_argument("--mitdb", type=Path, default=SHARED_DATA / "mitdb", help="MIT-BIH (the comparison)")
    p.add_argument("--compare", nargs="*", default=None, help="only these MIT-BIH records (default: all)")
    p.add_argument(
        "--marks", type=int, nargs="*", default=None, help="LUDB records scored (default: --records)"
    )
    p.add_argument("--out", type=Path, default=REPORTS / "DELINEATOR-INT8.md")


def command(args: argparse.Namespace) -> None:
    """Calibrate a delineator's 8-bit form on LUDB and compare it with the float one on MIT-BIH."""
    if not args.ludb.is_dir():
        raise SystemExit(f"{args.ludb}: no LUDB there (../shared/data/ludb)")
    ranges_file = calibrate(args.weights, args.ludb, args.records)
    print(f"wrote {ranges_file}")
    if not args.mitdb.is_dir():
        return
    names = args.compare or sorted(p.stem for p in args.mitdb.glob("*.atr"))
    rows = compare(args.weights, args.mitdb, names)
    marks = against_marks(args.weights, args.ludb, args.marks if args.marks is not None else args.records)
    options = [] if args.weights == BUNDLED else [f"--weights {args.weights.name}"]
    options += [f"--compare {' '.join(args.compare)}"] if args.compare else []
    options += [f"--marks {' '.join(map(str, args.marks))}"] if args.marks is not None else []
    calibration = json.loads(ranges_file.read_text())
    text = report(rows, marks, calibration, " ".join([COMMAND, *options]), args.weights)
    atomic_write_bytes(args.out, text.encode())
    print(f"wrote {args.out}")
