"""The beat list under noise, as EC57's noise stress test has it (Moody, Muldrow, Mark, Computers in
Cardiology 1984;11:381; the MIT-BIH Noise Stress Test Database): records 118 and 119 with noise
added from 5 min on, in alternating 2 min stretches (noisy, clean, ...), at signal-to-noise ratios
from 24 dB down to -6 dB, scored by EC57's rules (``ec57.score_list``): from 5 min on, after the
learning period, so every scored minute but the clean stretches' is noisy.

The signal's power is the mean squared peak-to-peak amplitude of the reference beats' QRS (R +- 50
ms) over 8 (a sinusoid's power from its peak-to-peak amplitude), per lead; the noise's is its mean
square once its mean is taken off. ``../shared`` has the muscle (``ma``) and baseline-wander
(``bw``) records, used by their second halves only: the beat classifier learnt from noise of their
first halves and from synthetic electrode motion (``beat_classifier``, ``motion``), never from
``em``. EC57 prescribes the electrode-motion record ``em``, which is
not in ``../shared``; the Noise Stress Test Database's own test records carry it, so where one of
record 118's is at hand (``--nstdb``: ``118e12``, made by ``nst`` from 118 and ``em`` at 12 dB) the
noise it added is recovered (the test record minus 118, each noisy stretch's mean taken off) and
scaled as ``nst`` scales it: by 10^(-SNR/20), and for record 119 by the ratio of its QRS amplitude
to 118's (``em_noise``, ``with_em``). For 118 this remakes the database's own test records; a
second one (``118e24``) checks it. Each record is classed by the bundled classifier's settings
fitted without it (as in ``ec57``'s cross-validation): both are DS1 records.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, SHARED_DATA
from training.validate.ec57 import Counts, stats

COMMAND = "python -m training noise-stress"
OUT = REPORTS / "NOISE_STRESS.md"
RECORDS = ("118", "119")
SNR_DB = (24, 18, 12, 6, 0, -6)
NOISES = ("ma", "bw", "em")
EM_SOURCE, EM_CHECK = "118e12", "118e24"  # the nstdb test records em is recovered from and checked on
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


def training_noise(mitdb: Path, kind: str, shape: tuple[int, int], fs: float, record: str) -> np.ndarray:
    """The noise a training copy of ``record`` (``shape``: its leads and samples) gets: a record's
    first half (``noise_half``), or synthetic electrode motion (``motion``), seeded by the record."""
    if kind != "motion":
        return noise_half(mitdb, kind, 0)
    from training.validate.motion import motion_noise

    return motion_noise(shape[1], fs, shape[0], seed=int(hashlib.sha256(record.encode()).hexdigest()[:8], 16))


def qrs_power(signal: np.ndarray, fs: float, r: np.ndarray) -> np.ndarray:
    """Per lead, the signal's power as EC57 has it: the mean squared peak-to-peak amplitude of the
    QRS (R +- 50 ms) over 8."""
    half = round(0.05 * fs)
    r = r[(r >= half) & (r < signal.shape[1] - half)]
    ptp = np.array([[np.ptp(row[c - half : c + half]) for c in r] for row in signal])
    return np.mean(ptp**2, axis=1) / 8


def _stretches_on(n: int, fs: float) -> np.ndarray:
    on = np.zeros(n, bool)
    for a, b in noisy_stretches(n / fs):
        on[round(a * fs) : round(b * fs)] = True
    return on


def mixed(
    signal: np.ndarray, noise: np.ndarray, fs: float, r: np.ndarray, snr_db: float, everywhere: bool = False
) -> np.ndarray:
    """``signal`` (leads, n) with ``noise`` (leads, any length: repeated as needed) scaled per lead
    to ``snr_db`` and added in the noisy stretches only (``everywhere``: throughout)."""
    out = signal.astype(np.float64).copy()
    on = np.ones(signal.shape[1], bool) if everywhere else _stretches_on(signal.shape[1], fs)
    for lead, power in enumerate(qrs_power(signal, fs, r)):
        n = np.resize(noise[lead % len(noise)].astype(np.float64), signal.shape[1])
        n = n - n.mean()
        gain = np.sqrt(power / (np.mean(n**2) * 10 ** (snr_db / 10)))
        out[lead, on] += gain * n[on]
    return out


@dataclass(frozen=True)
class Em:
    """The electrode-motion noise ``nst`` added to record 118 in one of its test records."""

    noise: np.ndarray  # (2, n) mV, on the record's clock, zero outside the noisy stretches
    snr_db: float  # the test record's
    power: np.ndarray  # 118's QRS power per lead (``qrs_power``)


def em_noise(nstdb: Path, mitdb: Path, name: str = EM_SOURCE) -> Em:
    """The noise of the nstdb test record ``name`` (118 with em): it minus 118, each noisy
    stretch's mean taken off (``nst`` shifts the stored samples' zero)."""
    import wfdb

    test = wfdb.rdrecord(str(nstdb / name))
    clean = wfdb.rdrecord(str(mitdb / "118")).p_signal.T
    d = test.p_signal.T - clean
    noise = np.zeros_like(d)
    for a, b in noisy_stretches(d.shape[1] / test.fs):
        i, j = round(a * test.fs), round(b * test.fs)
        noise[:, i:j] = d[:, i:j] - d[:, i:j].mean(axis=1, keepdims=True)
    ann = wfdb.rdann(str(mitdb / "118"), "atr")
    return Em(noise, _snr_of(test.comments), qrs_power(clean, test.fs, _beats(ann)))


def _snr_of(comments: Sequence[str]) -> float:
    """The SNR ``nst`` notes in the header's comment ("... (SNR = 12 dB)")."""
    import re

    for line in comments:
        if m := re.search(r"SNR = (-?\d+(?:\.\d+)?) dB", line):
            return float(m.group(1))
    raise ValueError("no SNR in the record's header")


def with_em(signal: np.ndarray, em: Em, fs: float, r: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` with ``em``'s noise at ``snr_db``, as ``nst`` scales it: by 10^(-SNR/20) from the
    test record's SNR, and by the ratio of this record's QRS amplitude to 118's."""
    gain = 10 ** ((em.snr_db - snr_db) / 20) * np.sqrt(qrs_power(signal, fs, r) / em.power)
    return signal.astype(np.float64) + gain[:, None] * em.noise[:, : signal.shape[1]]


def _beats(ann) -> np.ndarray:
    return np.asarray(ann.sample)[[s in "NLRejAaJSVEF/fQ" for s in ann.symbol]]


def run(
    mitdb: Path, records: Sequence[str], noises: Sequence[str], snrs: Sequence[float], bundled: bool = False,
    em: Em | None = None, classifier: Path | None = None, delineator_file: Path | None = None,
    rate: float | None = None, each_lead: bool = False,
) -> list[dict]:  # fmt: skip
    """Every record under every noise at every SNR, classed by the bundled classifier's settings
    (``classifier``: that one's) fitted without the record (``bundled``: the bundled one, fitted
    with it, for a quick look); ``em`` for "em"; ``delineator_file``: beats found by another
    delineator than the beat list's own (its classifier fitted on that one's beats); ``rate``: each
    noisy record resampled to it (the app's resampler), as a recorder at that rate would keep it;
    ``each_lead``: the noise in one lead at a time, the other left clean (``in_one_lead``)."""
    import wfdb

    from ecgviewer.dsp.resample import to_rate
    from ecgviewer.io import load
    from ecgviewer.measure.beat_classes import BeatClassifier
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse, bundled_delineator
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource
    from training.supervised.beat_classifier import without
    from training.validate.ec57 import score_list

    delineator = bundled_delineator() if delineator_file is None else Delineator.load(delineator_file)
    rows = []
    for name in records:
        model = (
            BeatClassifier.bundled()
            if bundled
            else without(name, mitdb, classifier=classifier, delineator_file=delineator_file)
        )
        rec = load(mitdb / f"{name}.hea")
        clean = np.asarray(rec.read(0, rec.n_samples))
        ann = wfdb.rdann(str(mitdb / name), "atr")
        beats = _beats(ann)
        for kind in noises:
            noise = None if kind == "em" else noise_half(mitdb, kind, 1)
            for snr, lead in itertools.product(snrs, range(len(rec.leads)) if each_lead else [None]):
                if noise is None:
                    if em is None:
                        raise ValueError("em noise needs a test record of the Noise Stress Test Database")
                    x = with_em(clean, em, rec.fs, beats, snr)
                else:
                    x = mixed(clean, noise, rec.fs, beats, snr)
                x = (x if lead is None else in_one_lead(x, clean, lead)).astype(np.float32)
                fs = rate or rec.fs
                x = x if fs == rec.fs else to_rate(x, rec.fs, fs)
                noisy = make_recording(None, ArraySource(x), fs, list(rec.leads), f"{name}+{kind}")
                listed = analyse(noisy, delineator, classifier=model)
                c = score_list(name, mitdb, listed)
                invented = _invented(listed.t_s, np.asarray(ann.sample), rec.fs, listed.duration_s)
                where = None if lead is None else rec.leads[lead]
                rows.append({"record": name, "noise": kind, "snr_db": snr, "counts": c,
                             "invented_in_noise": invented, "lead": where})  # fmt: skip
                print(f"noise-stress {name} {kind}{f' in {where}' if where else ''} {snr:+d} dB", flush=True)
    return rows


def in_one_lead(noisy: np.ndarray, clean: np.ndarray, lead: int) -> np.ndarray:
    """``noisy`` in ``lead`` only, every other lead ``clean``: one electrode moving or one lead's
    muscle, which the other leads must carry the beats through (issue 74 part 6)."""
    out = np.asarray(clean, dtype=np.float64).copy()
    out[lead] = noisy[lead]
    return out


def em_check(nstdb: Path, mitdb: Path, em: Em, name: str = EM_CHECK) -> str:
    """How well ``em`` remakes another of the database's test records of 118 (a sentence)."""
    import wfdb

    if not (nstdb / f"{name}.hea").is_file():
        return f"(`{name}` is not at hand to check it on.)"
    other = em_noise(nstdb, mitdb, name)
    clean = wfdb.rdrecord(str(mitdb / "118")).p_signal.T
    made = with_em(clean, em, 360.0, _beats(wfdb.rdann(str(mitdb / "118"), "atr")), other.snr_db) - clean
    on = np.abs(other.noise).sum(axis=0) > 0
    r = [np.corrcoef(made[k, on], other.noise[k, on])[0, 1] for k in range(len(made))]
    ratio = np.sqrt((made[:, on] ** 2).mean(axis=1) / (other.noise[:, on] ** 2).mean(axis=1))
    return (
        f"Checked on `{name}` ({other.snr_db:g} dB): the noise remade from `{EM_SOURCE}` correlates "
        + " and ".join(f"{v:.4f}" for v in r) + " with the noise in it (per lead), at "
        + " and ".join(f"{v:.3f}" for v in ratio) + " times its RMS."
    )  # fmt: skip


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


def _noise(row: dict) -> str:
    """A row's noise as the tables name it: the kind, and the lead where it is in one only."""
    return row["noise"] + (f" in {row['lead']} only" if row.get("lead") else "")


def _key(row: dict) -> tuple:
    """A row's place in a run, to pair it with another run's."""
    return row["record"], row["noise"], row["snr_db"], row.get("lead")


def save_counts(path: Path, rows: Sequence[dict]) -> None:
    """Each row's counts as JSON, for a comparison with another run (``load_counts``, ``--against``)."""
    out = [
        {k: v for k, v in row.items() if k != "counts"} | {"counts": asdict(row["counts"])} for row in rows
    ]
    atomic_write_bytes(Path(path), (json.dumps(out, indent=0) + "\n").encode())


def load_counts(path: Path) -> list[dict]:
    """A run's rows as ``save_counts`` wrote them."""
    return [row | {"counts": Counts(**row["counts"])} for row in json.loads(Path(path).read_text())]


SUMMED = ("beats", "found", "invented", "ventricular", "ventricular found", "false ventricular",
          "unreadable s")  # fmt: skip


def _sums(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Per noise (``_noise``), summed over records and SNRs: reference beats, those found, beats
    invented in noise, reference ventricular beats and those called so, beats called ventricular
    that are not (EC57's VEB +P denominator less its true ones), unreadable seconds."""
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        c: Counts = row["counts"]
        s = out.setdefault(_noise(row), dict.fromkeys(SUMMED, 0.0))
        for k, v in zip(SUMMED, (c.ref_beats, c.matched, row["invented_in_noise"], c.ref_v, c.tp_v,
                                 c.det_v - c.fp_not_v - c.tp_v, c.unreadable_s), strict=True):  # fmt: skip
            s[k] += v
    return out


def _summary(rows: Sequence[dict], against: Sequence[dict] | None) -> list[str]:
    """The sums per noise (``_sums``); with ``against`` (another run's rows), theirs before ours
    on the rows both runs have."""
    before: dict[str, dict[str, float]] | None = None
    if against is None:
        intro, mine = "Summed over the records and SNRs, per noise:", _sums(rows)
    else:
        theirs = {_key(r): r for r in against}
        both = [r for r in rows if _key(r) in theirs]
        intro = (f"Summed over the records and SNRs, per noise, on the rows both runs have ({len(both)}): "
                 "the `--against` run's figure, then this run's:")  # fmt: skip
        before, mine = _sums([theirs[_key(r)] for r in both]), _sums(both)
    lines = [intro, "", "| noise | " + " | ".join(SUMMED) + " |", "|---" * (len(SUMMED) + 1) + "|"]
    for noise, s in mine.items():
        cells = (f"{s[k]:.0f}" if before is None else f"{before[noise][k]:.0f} -> {s[k]:.0f}" for k in SUMMED)
        lines.append(f"| {noise} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def report(
    rows: Sequence[dict], bundled: bool = False, em: str | None = None, command: str = COMMAND,
    classifier: str | None = None, delineator: str | None = None, rate: float | None = None,
    against: Sequence[dict] | None = None,
) -> str:  # fmt: skip
    """The table; ``em``: how the electrode-motion noise was had and checked (None: not used);
    ``classifier``: the file whose settings class the beats (None: the bundled one's);
    ``delineator``: the file that finds them (None: the beat list's own); ``rate``: the rate each noisy
    record was resampled to (None: its own); a row with a ``lead`` had the noise in that lead only;
    ``against``: another run's rows (``load_counts``), whose sums are set beside these."""
    source = (
        "the MIT-BIH Noise Stress Test Database's muscle artefact (`ma`) and baseline wander (`bw`) "
        "records (their second halves), and its electrode-motion noise (`em`), which EC57 prescribes: "
        f"the `em` record is not in `../shared`, so the noise `nst` added to record 118 in the "
        f"database's test record `{EM_SOURCE}` is recovered (it minus 118) and scaled as `nst` scales "
        "it (by 10^(-SNR/20), and for 119 by its QRS amplitude over 118's). " + em
        if em is not None
        else "the MIT-BIH Noise Stress Test Database's muscle artefact (`ma`) and baseline wander (`bw`) "
        "records: its electrode-motion record (`em`), which EC57 prescribes, is not in `../shared` "
        "(`--nstdb` with one of the database's test records of 118 brings it)."
    )
    lines = [
        f"# The beat list under noise: EC57's noise stress test (generated by `{command}`)",
        "",
        "Do not edit by hand: run the command again. Records " + ", ".join(RECORDS) + " of the MIT-BIH "
        "Arrhythmia Database with noise from 5 min on in alternating 2 min stretches, at each signal-to-"
        "noise ratio; EC57's matching from 5 min on, its learning period left out "
        f"(`training/validate/noise_stress.py`). The noise is {source}",
        "",
        *(
            [
                "The noise in one lead at a time (the `noise` column names it), the other lead left clean "
                "(`--each-lead`): one electrode moving, or one lead's muscle; the clean lead should carry "
                "the beats. The SNR is against that lead's own QRS.",
                "",
            ]
            if any(row.get("lead") for row in rows)
            else []
        ),
        *(
            [
                f"Each noisy record resampled to {rate:g} Hz by the app's resampler (`dsp.resample.to_rate`) "
                "before the beat list reads it, as a Holter recorder at that rate would keep it.",
                "",
            ]
            if rate
            else []
        ),
        "Each record's beats classed by the bundled classifier, which was fitted on it (`--bundled`): "
        "optimistic."
        if bundled
        else f"Each record's beats classed by {classifier or 'the bundled classifier'}'s settings "
        "fitted without it (leave one record out, as `EC57.md`)"
        + (
            f", on the beats the delineator {delineator} finds (a comparison, not the beat list's own)."
            if delineator
            else "."
        ),
        "",
        *_summary(rows, against),
        "| record | noise | SNR (dB) | QRS Se | QRS +P | VEB Se | VEB +P | SVEB Se | SVEB +P "
        "| beats invented in noise | unreadable (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c: Counts = row["counts"]
        s = stats(c)
        figures = [_pct(s[k]) for k in ("qrs_se", "qrs_pp", "veb_se", "veb_pp", "sveb_se", "sveb_pp")]
        cells = [row["record"], _noise(row), f"{row['snr_db']:+d}", *figures, str(row["invented_in_noise"]),
                 f"{c.unreadable_s:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mitdb", type=Path, default=SHARED_DATA / "mitdb", help="MIT-BIH records and ma, bw")
    p.add_argument("--records", nargs="*", default=list(RECORDS))
    p.add_argument(
        "--noise", nargs="*", default=None, choices=NOISES, help="default: ma, bw, and em with --nstdb"
    )
    p.add_argument("--nstdb", type=Path, default=None,
                   help=f"a folder with the nstdb test record {EM_SOURCE} (and {EM_CHECK})")  # fmt: skip
    p.add_argument("--snr", nargs="*", type=int, default=list(SNR_DB))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--bundled", action="store_true", help="the bundled classifier, not one fitted without the record"
    )
    p.add_argument("--classifier", type=Path, default=None,
                   help="fit its settings without each record, not the bundled one's")  # fmt: skip
    p.add_argument("--delineator", type=Path, default=None,
                   help="find the beats with this delineator (a comparison)")  # fmt: skip
    p.add_argument("--rate", type=float, default=None,
                   help="resample each noisy record to this rate (Hz) before reading it")  # fmt: skip
    p.add_argument("--each-lead", action="store_true",
                   help="the noise in one lead at a time, the other left clean")  # fmt: skip
    p.add_argument("--counts", type=Path, default=None, help="each row's counts to this JSON")
    p.add_argument("--against", type=Path, default=None,
                   help="another run's --counts JSON: its sums per noise beside these")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """EC57's noise stress test on the beat list (118 and 119; ma, bw and em noise): NOISE_STRESS.md."""
    if not args.mitdb.is_dir():
        raise SystemExit(f"{args.mitdb}: no MIT-BIH records there (../shared/data/mitdb)")
    if args.against is not None and not args.against.is_file():  # before the minutes of reading
        raise SystemExit(f"--against {args.against}: no such counts file")
    noises = args.noise or [n for n in NOISES if n != "em" or args.nstdb is not None]
    em = em_text = None
    if "em" in noises:
        if args.nstdb is None or not (args.nstdb / f"{EM_SOURCE}.hea").is_file():
            raise SystemExit(f"em noise: --nstdb must name a folder with the database's {EM_SOURCE}")
        em = em_noise(args.nstdb, args.mitdb)
        em_text = em_check(args.nstdb, args.mitdb, em)
    rows = run(args.mitdb, args.records, noises, args.snr, args.bundled, em, args.classifier, args.delineator,
               args.rate, args.each_lead)  # fmt: skip
    options = [f"--nstdb {args.nstdb.name}"] if em is not None else []
    options += ["--bundled"] if args.bundled else []
    options += [f"--{o} {getattr(args, o).name}" for o in ("classifier", "delineator") if getattr(args, o)]
    options += [f"--rate {args.rate:g}"] if args.rate else []
    options += ["--each-lead"] if args.each_lead else []
    options += [f"--{o} {getattr(args, o).name}" for o in ("counts", "against") if getattr(args, o)]
    command = " ".join([COMMAND, *options])
    named = None if args.classifier is None else f"`{args.classifier.name}`"
    finder = None if args.delineator is None else f"`{args.delineator.name}`"
    against = None if args.against is None else load_counts(args.against)
    text = report(rows, args.bundled, em_text, command, named, finder, args.rate, against)
    if args.counts is not None:
        save_counts(args.counts, rows)
    atomic_write_bytes(args.out, text.encode())
    print(json.dumps({"runs": len(rows), "report": str(args.out)}))
