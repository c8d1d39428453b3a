"""``python -m training noise-bursts``: beats invented in short bursts of noise among clean minutes.

EC57's noise stress test adds its noise in 2 min stretches, a page of the beat list or more at a
time; a Holter's artefacts are mostly shorter, seconds of muscle noise or electrode motion as the
patient moves, among clean minutes. Whatever the page's statistics make of a burst (the noise rule's
median, the pacing spikes' noise floor), none of it may become beats. This command places a burst of
noise (``synthetic_beats.drowned``: muscle-like, white noise band-passed to 20-100 Hz, and
synthetic electrode motion, ``motion.motion_noise``) of 1, 2 and 4 times the QRS's size, lasting
10, 20 and 30 s, at five places in two minutes of sinus rhythm (one across the beat list's first
page edge), and counts for each: the beats listed inside the burst that are invented
(``synthetic_beats.STRAY_S`` from every true beat), paced beats listed (there is no pacing), the
true beats inside it called supraventricular or ventricular (every true beat is normal), the true
beats inside it left unlisted, the seconds read as unreadable, and the clean beats outside it (2 s
clear of it) missed. No setting was chosen on these recordings; the muscle-like noise is not the
classifier's (the Noise Stress Test Database's), but the second opinion (``measure.confirm``) was
taught the same synthetic motion.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecgviewer.storage import atomic_write_bytes
from training import REPORTS
from training.validate import heading

COMMAND = "python -m training noise-bursts"
NOISES = ("muscle", "motion")
SIZES = (1.0, 2.0, 4.0)  # the noise's peak-to-peak over the QRS's
LENGTHS_S = (10.0, 20.0, 30.0)
STARTS_S = (15.0, 30.0, 45.0, 52.0, 70.0)  # 52: across the first page edge (rhythm.PAGE_S 60)
CLEAR_S = 2.0  # the clean beats scored lie this far from the burst


@dataclass(frozen=True)
class Case:
    noise: str
    size: float
    length_s: float
    start_s: float
    true_inside: int  # true beats inside the burst
    listed_inside: int
    invented: int
    paced: int
    ectopic: int  # true beats inside the burst called supraventricular or ventricular
    unlisted: int  # true beats inside the burst with no listed beat within STRAY_S
    unreadable_s: float
    clean_missed: int


def measure(noise: str, size: float, length_s: float, start_s: float, delineator) -> Case:
    """One burst: the beat list of its recording against the true beats."""
    from ecgviewer.measure import rhythm as R
    from training.validate.synthetic_beats import STRAY_S, drowned, invented, sample_beat

    rec, times, stretch = drowned(sample_beat(), start_s, length_s, size, noise)
    rh = R.analyse(rec, delineator)
    inside = (rh.t_s > stretch[0]) & (rh.t_s < stretch[1])
    true_in = times[(times > stretch[0]) & (times < stretch[1])]

    def apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # each of a's times from the nearest of b's
        return np.abs(a[:, None] - b[None, :]).min(axis=1) if len(b) else np.full(len(a), np.inf)

    clean = times[(times < stretch[0] - CLEAR_S) | (times > stretch[1] + CLEAR_S)]
    ectopic = np.isin(rh.kind, [R.KINDS.index("supraventricular"), R.KINDS.index("ventricular")])
    unreadable = [
        (max(e.start_s, stretch[0]), min(e.end_s, stretch[1])) for e in rh.events if e.kind == "unreadable"
    ]
    return Case(
        noise=noise, size=size, length_s=length_s, start_s=start_s, true_inside=len(true_in),
        listed_inside=int(inside.sum()), invented=invented(rh.t_s, times, stretch),
        paced=int((rh.kind[inside] == R.KINDS.index("paced")).sum()),
        ectopic=int((inside & ectopic & (apart(rh.t_s, times) < STRAY_S)).sum()),
        unlisted=int((apart(true_in, rh.t_s) >= STRAY_S).sum()),
        unreadable_s=round(sum(max(0.0, b - a) for a, b in unreadable), 1),
        clean_missed=int((apart(clean, rh.t_s) >= 0.05).sum()),
    )  # fmt: skip


def run(delineator, noises=NOISES, sizes=SIZES, lengths=LENGTHS_S, starts=STARTS_S) -> list[Case]:
    return [measure(k, s, n, a, delineator) for k in noises for s in sizes for n in lengths for a in starts]


def _total(cases: list[Case], field: str) -> float:
    return sum(getattr(c, field) for c in cases)


def report(cases: list[Case], command: str, against: list[Case] | None = None) -> str:
    """NOISE_BURSTS.md: totals by the noise's kind and size, and each case (beside ``against``'s,
    paired)."""
    from ecgviewer.measure.rhythm import PAGE_S

    lines = [
        *heading(
            "Beats invented in bursts of noise", command, __doc__, f" The beat list's page: {PAGE_S:g} s."
        ),
        "",
        "| noise | size (x QRS) | bursts | true beats inside | invented | paced listed | true beats called "
        "ectopic | true beats unlisted | unreadable (s of the bursts') | clean beats missed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for noise, size in sorted({(c.noise, c.size) for c in cases}, key=lambda k: (NOISES.index(k[0]), k[1])):
        mine = [c for c in cases if (c.noise, c.size) == (noise, size)]
        counts = [_total(mine, f) for f in ("true_inside", "invented", "paced", "ectopic", "unlisted")]
        lines.append(
            f"| {noise} | {size:g} | {len(mine)} | {' | '.join(f'{n:.0f}' for n in counts)} | "
            f"{_total(mine, 'unreadable_s'):.0f} of {_total(mine, 'length_s'):.0f} | "
            f"{_total(mine, 'clean_missed'):.0f} |"
        )
    if against is not None:
        key = lambda c: (c.noise, c.size, c.length_s, c.start_s)  # noqa: E731
        before = {key(c): c for c in against}
        now = [c for c in cases if key(c) in before]
        then = [before[key(c)] for c in now]
        moved = ", ".join(
            f"{name} {_total(then, f):.0f} -> {_total(now, f):.0f}"
            for name, f in (
                ("invented", "invented"),
                ("paced listed", "paced"),
                ("true beats called ectopic", "ectopic"),
                ("clean beats missed", "clean_missed"),
            )
        )
        fewer = sum(c.invented < b.invented for c, b in zip(now, then, strict=True))
        more = sum(c.invented > b.invented for c, b in zip(now, then, strict=True))
        lines += ["", f"Paired with the `--against` run, case by case ({len(now)} cases): {moved}; "
                  f"cases with fewer invented beats {fewer}, with more {more}."]  # fmt: skip
    lines += [
        "",
        "| noise | size (x QRS) | length (s) | from (s) | true beats inside | listed inside | invented | "
        "paced | ectopic | unlisted | unreadable (s) | clean missed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    fields = ("size", "length_s", "start_s", "true_inside", "listed_inside", "invented", "paced", "ectopic",
              "unlisted", "unreadable_s", "clean_missed")  # fmt: skip
    lines += [f"| {c.noise} | " + " | ".join(f"{getattr(c, f):g}" for f in fields) + " |" for c in cases]
    return "\n".join(lines) + "\n"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=REPORTS / "NOISE_BURSTS.md")
    p.add_argument("--counts", type=Path, default=None, help="each case's counts to this JSON")
    p.add_argument("--against", type=Path, default=None, help="another run's --counts JSON, paired by case")
    p.add_argument("--noises", nargs="+", default=list(NOISES), choices=NOISES)
    p.add_argument("--sizes", type=float, nargs="+", default=list(SIZES), help="noise over the QRS's size")
    p.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS_S))
    p.add_argument("--starts", type=float, nargs="+", default=list(STARTS_S))


def command(args: argparse.Namespace) -> None:
    """Beats invented in bursts of noise among clean minutes (NOISE_BURSTS.md)."""
    from ecgviewer.measure.rhythm import bundled_delineator

    against = None if args.against is None else [Case(**c) for c in json.loads(args.against.read_text())]
    cases = run(bundled_delineator(), args.noises, args.sizes, args.lengths, args.starts)
    options = [f"--{o} {getattr(args, o).name}" for o in ("counts", "against") if getattr(args, o)]
    grid = {"noises": NOISES, "sizes": SIZES, "lengths": LENGTHS_S, "starts": STARTS_S}
    options += [
        f"--{o} {' '.join(map(str, getattr(args, o)))}"
        for o, v in grid.items()
        if tuple(getattr(args, o)) != v
    ]
    if args.counts is not None:
        atomic_write_bytes(args.counts, json.dumps([asdict(c) for c in cases], indent=1).encode())
    atomic_write_bytes(args.out, report(cases, " ".join([COMMAND, *options]), against).encode())
    print(json.dumps({"cases": len(cases), "invented": _total(cases, "invented"), "report": str(args.out)}))
