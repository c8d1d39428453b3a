"""The beat list under noise, as EC57's noise stress test has it (Moody, Muldrow, Mark, Computers in
Cardiology 1984;11:381; the MIT-BIH Noise Stress Test Database): records 118 and 119 with noise
added from 5 min on, in alternating 2 min stretches (noisy, clean, ...), at signal-to-noise ratios
from 24 dB down to -6 dB, scored by EC57's rules (``ec57.score_list``): from 5 min on, after the
learning period, so every scored minute but the clean stretches' is noisy.

The signal's power is the mean squared peak-to-peak amplitude of the reference beats' QRS (R +- 50
ms) over 8 (a sinusoid's power from its peak-to-peak amplitude), per lead; the noise's is its mean
square once its mean is taken off. EC57 uses the electrode-motion record ``em``; ``../shared`` has
the muscle (``ma``) and baseline-wander (``bw``) records only, so those stand in for it (said in
the report), their second halves only: the beat classifier learnt from noise of their first
halves (``beat_classifier``). Each record is classed by the bundled classifier's settings fitted
without it (as in ``ec57``'s cross-validation): both are DS1 records.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, SHARED_DATA
from training.validate.ec57 import Counts, stats

COMMAND = "python -m training noise-stress"
OUT = REPORTS / "NOISE_STRESS.md"
RECORDS = ("118", "119")
SNR_DB = (24, 18, 12, 6, 0, -6)
NOISES = ("ma", "bw")
FIRST_S, STRETCH_S = 300.0, 120.0  # noise from 5 min on, 2 min on and 2 min off


def noisy_stretches(duration_s: float) -> list[tuple[float, float]]:
    """Where the noise is added: from FIRST_S on, every other STRETCH_S."""
    starts = np.arange(FIRST_S, duration_s, 2 * STRETCH_S)
    return [(float(a), float(min(a + STRETCH_S, duration_s))) for a in starts]


def noise_half(mitdb: Path, kind: str, half: int) -> np.ndarray:
    """One half (0: the first 15 min, 1: the last) of a noise record, (2, samples): training's
    augmentation takes the first, this test the second, so that no noise is both learnt and tested."""
    import wfdb

    x = wfdb.rdrecord(str(mitdb / kind)).p_signal.T
    mid = x.shape[1] // 2
    return x[:, :mid] if half == 0 else x[:, mid:]


def mixed(
    signal: np.ndarray, noise: np.ndarray, fs: float, r: np.ndarray, snr_db: float, everywhere: bool = False
) -> np.ndarray:
    """``signal`` (leads, n) with ``noise`` (leads, any length: repeated as needed) scaled per lead
    to ``snr_db`` and added in the noisy stretches only (``everywhere``: throughout)."""
    half = round(0.05 * fs)
    r = r[(r >= half) & (r < signal.shape[1] - half)]
    out = signal.astype(np.float64).copy()
    on = np.full(signal.shape[1], everywhere)
    for a, b in [] if everywhere else noisy_stretches(signal.shape[1] / fs):
        on[round(a * fs) : round(b * fs)] = True
    for lead in range(len(signal)):
        ptp = np.array([np.ptp(signal[lead, c - half : c + half]) for c in r])
        power = float(np.mean(ptp**2) / 8)
        n = np.resize(noise[lead % len(noise)].astype(np.float64), signal.shape[1])
        n = n - n.mean()
        gain = np.sqrt(power / (np.mean(n**2) * 10 ** (snr_db / 10)))
        out[lead, on] += gain * n[on]
    return out


def run(
    mitdb: Path, records: Sequence[str], noises: Sequence[str], snrs: Sequence[float], bundled: bool = False
) -> list[dict]:
    """Every record under every noise at every SNR, classed by the classifier fitted without the
    record (``bundled``: the bundled one, fitted with it, for a quick look)."""
    import wfdb

    from ecgviewer.io import load
    from ecgviewer.measure.beat_classes import BeatClassifier
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource
    from training.supervised.beat_classifier import without
    from training.validate.ec57 import score_list

    delineator = Delineator.bundled()
    rows = []
    for name in records:
        classifier = BeatClassifier.bundled() if bundled else without(name, mitdb)
        rec = load(mitdb / f"{name}.hea")
        clean = np.asarray(rec.read(0, rec.n_samples))
        ann = wfdb.rdann(str(mitdb / name), "atr")
        beats = np.asarray(ann.sample)[[s in "NLRejAaJSVEF/fQ" for s in ann.symbol]]
        for kind in noises:
            noise = noise_half(mitdb, kind, 1)
            for snr in snrs:
                x = mixed(clean, noise, rec.fs, beats, snr).astype(np.float32)
                noisy = make_recording(None, ArraySource(x), rec.fs, list(rec.leads), f"{name}+{kind}")
                listed = analyse(noisy, delineator, classifier=classifier)
                c = score_list(name, mitdb, listed)
                invented = _invented(listed.t_s, np.asarray(ann.sample), rec.fs, listed.duration_s)
                rows.append(
                    {"record": name, "noise": kind, "snr_db": snr, "counts": c, "invented_in_noise": invented}
                )
                print(f"noise-stress {name} {kind} {snr:+d} dB", flush=True)
    return rows


def _invented(t_s: np.ndarray, ref: np.ndarray, fs: float, duration: float) -> int:
    """Listed beats in the noisy stretches with no reference beat within 150 ms."""
    from training.validate.rpeaks import MITDB_TOLERANCE_S, pairs

    det = np.round(t_s * fs).astype(np.int64)
    matched = {k for _, k in pairs(ref, det, round(MITDB_TOLERANCE_S * fs))}
    on = np.zeros(len(det), bool)
    for a, b in noisy_stretches(duration):
        on |= (t_s >= a) & (t_s < b)
    return int(sum(1 for k in np.flatnonzero(on) if k not in matched))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def report(rows: Sequence[dict], bundled: bool = False) -> str:
    lines = [
        f"# The beat list under noise: EC57's noise stress test (generated by `{COMMAND}`)",
        "",
        "Do not edit by hand: run the command again. Records " + ", ".join(RECORDS) + " of the MIT-BIH "
        "Arrhythmia Database with noise from 5 min on in alternating 2 min stretches, at each signal-to-"
        "noise ratio; EC57's matching from 5 min on, its learning period left out "
        "(`training/validate/noise_stress.py`). The "
        "noise is the MIT-BIH Noise Stress Test Database's muscle artefact (`ma`) and baseline wander "
        "(`bw`) records: its electrode-motion record (`em`), which EC57 prescribes, is not in `../shared`.",
        "",
        "Each record's beats classed by the bundled classifier, which was fitted on it (`--bundled`): "
        "optimistic."
        if bundled
        else "Each record's beats classed by the bundled classifier's settings "
        "fitted without it (leave one record out, as `EC57.md`).",
        "",
        "| record | noise | SNR (dB) | QRS Se | QRS +P | VEB Se | VEB +P | beats invented in noise "
        "| unreadable (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c: Counts = row["counts"]
        s = stats(c)
        figures = [_pct(s[k]) for k in ("qrs_se", "qrs_pp", "veb_se", "veb_pp")]
        cells = [row["record"], row["noise"], f"{row['snr_db']:+d}", *figures, str(row["invented_in_noise"]),
                 f"{c.unreadable_s:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mitdb", type=Path, default=SHARED_DATA / "mitdb", help="MIT-BIH records and ma, bw")
    p.add_argument("--records", nargs="*", default=list(RECORDS))
    p.add_argument("--noise", nargs="*", default=list(NOISES), choices=NOISES)
    p.add_argument("--snr", nargs="*", type=int, default=list(SNR_DB))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--bundled", action="store_true", help="the bundled classifier, not one fitted without the record"
    )


def command(args: argparse.Namespace) -> None:
    """EC57's noise stress test on the beat list (records 118 and 119, ma and bw noise): NOISE_STRESS.md."""
    if not args.mitdb.is_dir():
        raise SystemExit(f"{args.mitdb}: no MIT-BIH records there (../shared/data/mitdb)")
    rows = run(args.mitdb, args.records, args.noise, args.snr, args.bundled)
    atomic_write_bytes(args.out, report(rows, args.bundled).encode())
    print(json.dumps({"runs": len(rows), "report": str(args.out)}))
