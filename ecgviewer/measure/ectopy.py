"""Ectopic beats as a Holter summary counts them, from the beat list's kinds and RR series: single
beats, couplets (two in a row), runs (three or more: a triplet is already a brief run), and the
episodes of bigeminy (every other beat ectopic: normal, ectopic, normal, ectopic...) and trigeminy
(every third: normal, normal, ectopic...), each for one class of ectopic beat (ventricular or
supraventricular) against the normal beats.

A stretch of unknown RR (an unreadable stretch between two beats) ends a run and a pattern: the
beats on either side are not known to be consecutive. Plain Python over the kinds: ``rhythm``
turns the runs and episodes into its events and the counts into its summary.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from ecgviewer.dsp.runs import runs

RUN_BEATS = 3  # three or more ectopic beats in a row are a run (two are a couplet)
PATTERN_CYCLES = 3  # bigeminy or trigeminy: at least three cycles of the pattern in a row
PATTERNS = {"bigeminy": 2, "trigeminy": 3}  # the pattern's name -> one ectopic beat in this many


@dataclass(frozen=True)
class Ectopy:
    """One class of ectopic beats, counted: ``single`` + 2 ``couplets`` + the runs' beats = ``beats``
    (a beat of a bigeminal or trigeminal cycle is also a single one)."""

    beats: int
    single: int
    couplets: int
    runs: int
    longest: int  # beats of the longest run (0: none)
    fastest_bpm: float | None  # the fastest run's rate (None: no run)
    bigeminy: int  # episodes
    trigeminy: int
    pattern_s: float  # seconds in either pattern

    @property
    def patterned(self) -> bool:
        """Couplets, runs, bigeminy or trigeminy: more than single beats here and there."""
        return self.beats > self.single or self.bigeminy + self.trigeminy > 0

    def words(self, name: str) -> str:
        """``name`` (the class) and its counts, the ones that are not zero, for a column."""
        parts = [f"{self.single} single"] + ([_count(self.couplets, "couplet")] if self.couplets else [])
        if self.runs:
            fastest = f"fastest {self.fastest_bpm:.0f} bpm"
            parts.append(f"{_count(self.runs, 'run')} (longest {self.longest} beats, {fastest})")
        patterns = [f"{n} {p}" for p, n in (("bigeminy", self.bigeminy), ("trigeminy", self.trigeminy)) if n]
        if patterns:
            seconds = self.pattern_s
            spent = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
            parts.append(f"{'an episode' if self.bigeminy + self.trigeminy == 1 else 'episodes'} of "
                         f"{' and '.join(patterns)} ({spent})")  # fmt: skip
        return f"{name}: " + ", ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _stretches(rr: np.ndarray) -> list[tuple[int, int]]:
    """Beat index ranges [a, b) whose beats follow each other with a known RR (unknown RR cuts)."""
    n = len(rr)
    cuts = [0, *(1 + np.flatnonzero(~np.isfinite(rr[1:]))), n]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def runs_of(kind: np.ndarray, rr: np.ndarray, which: int) -> list[tuple[int, int]]:
    """Every unbroken row [a, b) of ``which`` beats: single beats, couplets and runs alike."""
    out = []
    for s, e in _stretches(rr):
        a, b = runs(kind[s:e] == which)
        out += [(s + int(i), s + int(j)) for i, j in zip(a, b, strict=True)]
    return out


def episodes(kind: np.ndarray, rr: np.ndarray, which: int, normal: int, every: int) -> list[tuple[int, int]]:
    """Beat index ranges [a, b) of at least ``PATTERN_CYCLES`` cycles in a row of ``every - 1``
    normal beats and one ``which`` beat (bigeminy: every 2; trigeminy: every 3)."""
    cycle = "N" * (every - 1) + "X"
    pattern = re.compile(f"(?:{cycle}){{{PATTERN_CYCLES},}}")
    out = []
    for s, e in _stretches(rr):
        text = "".join("X" if k == which else "N" if k == normal else "." for k in kind[s:e])
        out += [(s + m.start(), s + m.end()) for m in pattern.finditer(text)]
    return out


def _rate(t: np.ndarray, a: int, b: int) -> float:
    """The rate (bpm) of beats [a, b): their intervals' mean."""
    return 60.0 * (b - a - 1) / max(float(t[b - 1] - t[a]), 1e-9)


def count(t: np.ndarray, kind: np.ndarray, rr: np.ndarray, which: int, normal: int) -> Ectopy:
    """``which`` beats counted as a Holter summary has them."""
    rows = runs_of(kind, rr, which)
    lengths = np.array([b - a for a, b in rows], dtype=int)
    long = [(a, b) for a, b in rows if b - a >= RUN_BEATS]
    rates = [_rate(t, a, b) for a, b in long]
    found = {p: episodes(kind, rr, which, normal, every) for p, every in PATTERNS.items()}
    return Ectopy(
        beats=int(lengths.sum()),
        single=int((lengths == 1).sum()),
        couplets=int((lengths == 2).sum()),
        runs=len(long),
        longest=int(lengths.max()) if len(long) else 0,
        fastest_bpm=max(rates) if rates else None,
        bigeminy=len(found["bigeminy"]),
        trigeminy=len(found["trigeminy"]),
        pattern_s=float(sum(t[b - 1] - t[a] for eps in found.values() for a, b in eps)),
    )


def events(
    t: np.ndarray, kind: np.ndarray, rr: np.ndarray, which: int, normal: int, name: str
) -> list[tuple[str, float, float, str]]:
    """The runs and pattern episodes of ``which`` beats as (event kind, start s, end s, detail):
    "``name`` run", "``name`` bigeminy", "``name`` trigeminy"."""
    out = []
    for a, b in runs_of(kind, rr, which):
        if b - a >= RUN_BEATS:
            detail = f"{b - a} beats at {_rate(t, a, b):.0f} bpm"
            out.append((f"{name} run", float(t[a]), float(t[b - 1]), detail))
    for p, every in PATTERNS.items():
        for a, b in episodes(kind, rr, which, normal, every):
            detail = f"{(b - a) // every} cycles, {float(t[b - 1] - t[a]):.0f} s"
            out.append((f"{name} {p}", float(t[a]), float(t[b - 1]), detail))
    return out
