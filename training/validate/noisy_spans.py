"""``python -m training noisy-spans``: the 10 s measurement over noise, with and without counting
the QRS complexes found in it.

The measurement's rate, its premature beats and the median beat rest on the QRS complexes found in
the span. A few seconds of muscle noise make complexes of their own, and a page of a Holter with a
burst in it read a tachycardia with premature beats and a long QTc where the trace ran at 67 bpm
(session 98). Two rules leave such complexes uncounted: ``quality.noisy_stretches`` finds bursts
of high-frequency noise (standing 4x above the span's quiet seconds in enough leads to make beats),
whose complexes count only where the leads the noise spares read them, and the beat list's second
opinion (``confirm.not_beats_in``) judges detections with no QRS for the motion-taught delineator
and unlike the beats around them no beats (electrode motion). Three checks, each paired with the
same measurement counting every complex (``measure(read_noise=True)``): every 10 s span of MIT-BIH
records (the reference beats: missed and invented within EC57's 150 ms, and the heart rate
against the reference beats' own), bursts of muscle-like noise and of synthetic electrode motion
added to the bundled 12-lead PTB-XL sample (the rate against the clean recording's), and LUDB's
records under the measurement validation's conditions (the records whose beats changed). No
setting was chosen on these."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPORTS
from training.validate import heading

COMMAND = "python -m training noisy-spans"
SPAN_S = 10.0
MATCH_S = 0.15  # EC57's matching window
EDGE_S = 0.2  # beats this near a span's ends are not scored (a QRS cut by the end is no beat)
FAR_BPM = 10.0
SAMPLE = Path(__file__).parents[2] / "resources/samples/ptbxl/records500/00000/00003_hr.hea"  # 12 leads
NOISES = ("muscle", "motion")
RMS_MV = (0.1, 0.2, 0.4)
BURSTS_S = ((2.0, 5.0), (4.5, 7.5), (6.5, 9.5))


@dataclass(frozen=True)
class Span:
    """One span's figures, counting every complex (``_all``) and not those in noise."""

    where: str  # record, or the synthetic burst
    start_s: float
    beats: int  # reference beats scored
    hr_ref: float | None
    hr_all: float | None
    hr: float | None
    missed_all: int
    missed: int
    invented_all: int
    invented: int
    unread_s: float  # seconds no lead could read
    read_through: int  # stretches read in the leads the noise spared
    judged: int  # detections the second opinion judged no beats (electrode motion)
    noisy: bool  # a noisy stretch was found

    @property
    def differs(self) -> bool:
        return (self.hr_all, self.missed_all, self.invented_all) != (self.hr, self.missed, self.invented)


def _scored(t: np.ndarray, ref: np.ndarray) -> tuple[int, int]:
    """Reference beats missed and detections invented, within MATCH_S."""
    if len(t) == 0 or len(ref) == 0:
        return len(ref), len(t)
    near = np.abs(t[:, None] - ref[None, :]) <= MATCH_S
    return int((~near.any(axis=0)).sum()), int((~near.any(axis=1)).sum())


def _span(
    where: str,
    signals: np.ndarray,
    fs: float,
    leads,
    start_s: float,
    ref: np.ndarray,
    hr_ref: float | None,
    delineator,
) -> Span:
    from ecgviewer.measure.pipeline import SECOND_OPINION, measure

    both = [measure(signals, fs, leads, delineator, start_s, read_noise=r) for r in (True, False)]
    inner = lambda t: t[(t > start_s + EDGE_S) & (t < start_s + SPAN_S - EDGE_S)]  # noqa: E731
    (missed_all, invented_all), (missed, invented) = (_scored(inner(m.r_times), inner(ref)) for m in both)
    every, m = both
    return Span(
        where=where,
        start_s=round(start_s, 2),
        beats=len(inner(ref)),
        hr_ref=hr_ref,
        hr_all=every.values["hr"].value,
        hr=m.values["hr"].value,
        missed_all=missed_all,
        missed=missed,
        invented_all=invented_all,
        invented=invented,
        unread_s=round(sum(b - a for a, b in m.too_noisy), 2),
        read_through=sum("read in the other leads" in n for n in m.notes),
        judged=sum(int(n.split()[0]) for n in m.notes if SECOND_OPINION in n),
        noisy=bool(m.too_noisy) or any("read in the other leads" in n for n in m.notes),
    )


def mitdb_spans(path: Path, delineator, minutes: float | None = None) -> list[Span]:
    """Every 10 s span of the record at ``path`` (.hea)."""
    import wfdb

    from ecgviewer.io import load
    from training.validate.ec57 import AAMI

    rec = load(path)
    ann = wfdb.rdann(str(path.with_suffix("")), "atr")
    beats = np.array([s for s, y in zip(ann.sample, ann.symbol, strict=True) if y in AAMI]) / rec.fs
    n = round(SPAN_S * rec.fs)
    last = rec.n_samples if minutes is None else min(rec.n_samples, round(minutes * 60 * rec.fs))
    out = []
    for k in range(0, last - n + 1, n):
        t0 = k / rec.fs
        mine = beats[(beats >= t0) & (beats < t0 + SPAN_S)]
        hr_ref = float(60.0 / np.diff(mine).mean()) if len(mine) > 1 else None
        out.append(
            _span(path.stem, rec.signals[:, k : k + n], rec.fs, rec.leads, t0, mine, hr_ref, delineator)
        )
    return out


def bursts(sample: Path, delineator, noises=NOISES, rms_mv=RMS_MV, bursts_s=BURSTS_S) -> list[Span]:
    """The 10 s ``sample`` with a burst of each noise, size and place in every lead, against the
    clean recording's beats and rate."""
    from scipy.signal import butter, sosfiltfilt

    from ecgviewer.io import load
    from ecgviewer.measure.pipeline import measure
    from training.validate.motion import motion_noise

    rec = load(sample)
    clean = measure(rec.signals, rec.fs, rec.leads, delineator)
    out = []
    for noise in noises:
        for rms in rms_mv:
            for a_s, b_s in bursts_s:
                a, b = round(a_s * rec.fs), round(b_s * rec.fs)
                if noise == "motion":
                    x = motion_noise(b - a, rec.fs, len(rec.leads), seed=3)
                else:
                    band = butter(4, (20, 100), "bandpass", fs=rec.fs, output="sos")
                    x = sosfiltfilt(band, np.random.default_rng(3).normal(0, 1, (len(rec.leads), b - a)))
                noisy = rec.signals.astype(np.float64)
                noisy[:, a:b] += rms * x / x.std()
                where = f"{noise} {rms:g} mV {a_s:g}-{b_s:g} s"
                out.append(
                    _span(
                        where,
                        noisy,
                        rec.fs,
                        rec.leads,
                        0.0,
                        clean.r_times,
                        clean.values["hr"].value,
                        delineator,
                    )
                )
    return out


def ludb_changes(root: Path, delineator, conditions: tuple[str, ...] | None = None) -> dict[str, list]:
    """LUDB's records whose measurement finds fewer beats for not counting those in noise, under
    each of the measurement validation's conditions (``measurements.conditioned``: its noises,
    fewer leads, lower rates): (record, detections not counted) by condition."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.measure.pipeline import measure
    from training.data import ludb
    from training.validate.measurements import CONDITIONS, conditioned

    out: dict[str, list] = {}
    for cond in conditions or CONDITIONS:
        out[cond] = []
        for number in ludb.records(root):
            x, fs, idx = conditioned(ludb.load(root, number), cond)
            leads = [STANDARD_LEADS[i] for i in idx]
            every, m = (measure(x, fs, leads, delineator, read_noise=r) for r in (True, False))
            if len(m.r_times) != len(every.r_times) or m.too_noisy:
                out[cond].append((number, len(every.r_times) - len(m.r_times)))
    return out


def _error(s: Span, hr: float | None) -> float | None:
    return None if hr is None or s.hr_ref is None else abs(hr - s.hr_ref)


def summary(spans: list[Span], draws: int = 2000, seed: int = 0) -> dict:
    """Totals, |HR error| before and after, and the paired change's 95 % interval (bootstrap over
    the ``where`` groups: a record, the unit that varies)."""
    both = [(s, _error(s, s.hr_all), _error(s, s.hr)) for s in spans]
    both = [(s, e0, e1) for s, e0, e1 in both if e0 is not None and e1 is not None]
    out: dict = {
        f: sum(getattr(s, f) for s in spans)
        for f in ("beats", "missed_all", "missed", "invented_all", "invented", "unread_s", "read_through")
    }
    out |= {"spans": len(spans), "rated": len(both)}
    if not both:
        return out
    e0, e1 = (np.array([b[k] for b in both]) for k in (1, 2))
    out |= {
        "median_all": float(np.median(e0)),
        "median": float(np.median(e1)),
        "mean_all": float(e0.mean()),
        "mean": float(e1.mean()),
        "far_all": int((e0 > FAR_BPM).sum()),
        "far": int((e1 > FAR_BPM).sum()),
        "better": int((e1 < e0).sum()),
        "worse": int((e1 > e0).sum()),
    }
    groups = np.array([b[0].where for b in both])
    names = np.unique(groups)
    rng = np.random.default_rng(seed)
    change = e1 - e0
    draws_ = [
        change[np.concatenate([np.flatnonzero(groups == g) for g in rng.choice(names, len(names))])].mean()
        for _ in range(draws)
    ]
    out |= {
        "change": float(change.mean()),
        "interval": [float(np.percentile(draws_, q)) for q in (2.5, 97.5)],
        "groups": len(names),
    }
    return out


def _summary_row(name: str, s: dict) -> str:
    if not s.get("rated"):
        return (
            f"| {name} | {s['spans']} | {s['beats']} | {s['missed_all']} -> {s['missed']} | "
            f"{s['invented_all']} -> {s['invented']} | | | | |"
        )
    lo, hi = s["interval"]
    return (
        f"| {name} | {s['spans']} | {s['beats']} | {s['missed_all']} -> {s['missed']} | "
        f"{s['invented_all']} -> {s['invented']} | {s['median_all']:.1f} -> {s['median']:.1f} | "
        f"{s['mean_all']:.1f} -> {s['mean']:.1f} | {s['far_all']} -> {s['far']} | "
        f"{s['change']:+.1f} [{lo:+.1f}, {hi:+.1f}] ({s['better']} better, {s['worse']} worse) |"
    )


def report(mit: list[Span], synthetic: list[Span], ludb: dict[str, list[int]] | None, command: str) -> str:
    lines = [
        *heading("The 10 s measurement over noise", command, __doc__),
        "",
        "Each figure is counting every complex -> not counting those in noise. |HR error|: bpm against "
        "the reference (MIT-BIH: the reference beats' mean RR over the span; the sample: the clean "
        f"recording's rate); far: over {FAR_BPM:g} bpm off; the change in |HR error| is paired by span, "
        "its 95 % interval by a bootstrap over records (MIT-BIH) or bursts (the sample).",
        "",
        "| spans | n | reference beats | missed | invented | median abs HR error | mean | far | "
        "mean change [95 %] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    if mit:
        lines.append(_summary_row("MIT-BIH, every 10 s span", summary(mit)))
        for name, mine in (
            ("with a noisy stretch", [s for s in mit if s.noisy]),
            ("with detections the second opinion judged", [s for s in mit if s.judged]),
        ):
            lines.append(_summary_row(f"MIT-BIH, the spans {name}", summary(mine)))
    for noise in NOISES:
        mine = [s for s in synthetic if s.where.startswith(noise)]
        if mine:
            lines.append(_summary_row(f"the PTB-XL sample, {noise} bursts", summary(mine)))
    if mit:
        seconds = sum(s.unread_s for s in mit)
        lines += [
            "",
            f"MIT-BIH: {seconds:.1f} s unread (no lead could read them) over {len(mit)} spans; "
            f"{sum(s.read_through for s in mit)} stretches read in the leads the noise spared; "
            f"{sum(s.judged for s in mit)} detections judged no beats by the second opinion.",
        ]
    if ludb is not None:
        found = "; ".join(
            f"{c}: {len(n)}" + f" ({', '.join(f'{r}: {k}' for r, k in n)})" * bool(n) for c, n in ludb.items()
        )
        lines += [
            "",
            "LUDB, the records whose measurement changed (record: detections not counted), by the "
            f"measurement validation's condition: {found}.",
        ]
    fields = (
        "beats",
        "hr_ref",
        "hr_all",
        "hr",
        "missed_all",
        "missed",
        "invented_all",
        "invented",
        "unread_s",
        "read_through",
        "judged",
    )
    lines += [
        "",
        "Every span where the two differ or a stretch or a judgement was found, and every burst:",
        "",
        "| span | from (s) | beats | reference HR | HR, every complex | HR | missed, every complex | "
        "missed | invented, every complex | invented | unread (s) | read in other leads | judged no beats |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    show = lambda v: "-" if v is None else f"{v:.0f}" if isinstance(v, float) and v > 20 else f"{v:g}"  # noqa: E731
    lines += [
        f"| {s.where} | {s.start_s:g} | " + " | ".join(show(getattr(s, f)) for f in fields) + " |"
        for s in [*(s for s in mit if s.differs or s.noisy or s.judged), *synthetic]
    ]
    return "\n".join(lines) + "\n"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH records (.hea and .atr)")
    p.add_argument("--records", nargs="+", default=None, help="these MIT-BIH records only")
    p.add_argument("--minutes", type=float, default=None, help="each record's first minutes only")
    p.add_argument("--ludb", type=Path, default=None, help="LUDB (training.data.ludb's layout)")
    p.add_argument("--sample", type=Path, default=SAMPLE, help="a 10 s recording")
    p.add_argument("--out", type=Path, default=REPORTS / "NOISY_SPANS.md")
    p.add_argument("--spans", type=Path, default=None, help="every span's figures to this JSON")


def command(args: argparse.Namespace) -> None:
    """The 10 s measurement over bursts of noise, paired with counting every complex (NOISY_SPANS.md)."""
    from ecgviewer.measure.delineate import Delineator

    delineator = Delineator.bundled()
    mit: list[Span] = []
    if args.mitdb is not None:
        names = args.records or sorted(p.stem for p in args.mitdb.glob("*.atr"))
        for name in names:
            mit += mitdb_spans(args.mitdb / f"{name}.hea", delineator, args.minutes)
    synthetic = bursts(args.sample, delineator)
    ludb = None if args.ludb is None else ludb_changes(args.ludb, delineator)
    options = [f"--{o} {getattr(args, o)}" for o in ("mitdb", "minutes", "ludb", "spans") if getattr(args, o)]
    options += [f"--records {' '.join(args.records)}"] if args.records else []
    if args.spans is not None:
        atomic_write_bytes(args.spans, json.dumps([asdict(s) for s in [*mit, *synthetic]], indent=1).encode())
    atomic_write_bytes(args.out, report(mit, synthetic, ludb, " ".join([COMMAND, *options])).encode())
    print(
        json.dumps(
            {"mitdb": summary(mit) if mit else None, "synthetic": summary(synthetic), "report": str(args.out)}
        )
    )
