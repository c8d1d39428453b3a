"""Where each beat token sits on the shown recording's time axis, in seconds: computed here
once, from the tokens' spans and R-peaks, for the window, the report, the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ecgviewer.ml import contract


@dataclass(frozen=True)
class TokenTimes:
    """Seconds on the shown recording of every beat slot: (W, 15) spans and R peaks (NaN where a
    window has no beat in that slot) and the (W,) window starts."""

    start_s: np.ndarray
    stop_s: np.ndarray
    r_s: np.ndarray
    window_start_s: np.ndarray


def token_times(tokens: contract.Tokens, offset_s: float = 0.0) -> TokenTimes:
    """Where the tokens of a recording (or of a span cropped from one, starting ``offset_s``
    seconds in) sit on the shown recording: the one conversion from source samples to seconds."""
    fs, empty = tokens.source_fs, tokens.rpeaks < 0
    start, stop = (np.where(empty, np.nan, tokens.spans[..., k] / fs + offset_s) for k in (0, 1))
    r = np.where(empty, np.nan, tokens.rpeaks / fs + offset_s)
    return TokenTimes(start, stop, r, tokens.window_start / fs + offset_s)


@dataclass(frozen=True)
class BeatScores:
    """One score per beat on the shown recording's time axis (seconds), and optionally one per
    sample (sample j of a beat sits at ``r_s + (j - 48) / 100`` s)."""

    lead: np.ndarray  # (N,) str
    window: np.ndarray  # (N,) the 10 s window and the beat slot (0-14) the beat came from
    beat: np.ndarray
    start_s: np.ndarray  # (N,)
    stop_s: np.ndarray
    r_s: np.ndarray
    score: np.ndarray
    samples: np.ndarray | None  # (N, 96) or None
    signed: bool  # diverging colours around 0; else 0..max
    label: str  # what the colour means, for the legend

    @cached_property
    def limit(self) -> float:
        """The colour scale's end: the largest magnitude (1 when everything is 0)."""
        m = float(np.max(np.abs(self.score))) if self.score.size else 0.0
        return m if m > 0 else 1.0

    @cached_property
    def sample_limit(self) -> float:
        """The strip's scale: the 99th percentile of |sample score| (IG concentrates on a few
        QRS samples; scaled to the maximum, the rest of the beat would be invisible)."""
        s = self.samples
        m = float(np.percentile(np.abs(s), 99)) if s is not None and s.size else 0.0
        return m if m > 0 else 1.0

    def at(self, lead: str, t: float) -> int | None:
        """The beat of ``lead`` whose span holds ``t`` seconds (the first window's, where the
        last window of a long record overlaps the one before)."""
        hit = np.flatnonzero((self.lead == lead) & (self.start_s <= t) & (t < self.stop_s))
        return int(hit[0]) if hit.size else None

    @cached_property
    def _where(self) -> dict[tuple[str, int, int], int]:
        keys = zip(self.lead.tolist(), self.window.tolist(), self.beat.tolist(), strict=True)
        return {key: k for k, key in enumerate(keys)}

    def sample_times(self, beats: np.ndarray) -> np.ndarray:
        """(m, 96) seconds of each sample of ``beats`` on the shown recording's axis."""
        offsets = (np.arange(contract.TOKEN_LEN) - contract.R_INDEX) / contract.FS
        return self.r_s[beats, None] + offsets

    def find(self, lead: str, window: int, beat: int) -> int | None:
        """The index of a beat given by its lead, window and slot (as the tree names it)."""
        return self._where.get((lead, window, beat))


def beat_scores(
    tokens: contract.Tokens,
    beats: np.ndarray,
    samples: np.ndarray | None,
    offset_s: float,
    signed: bool,
    label: str,
) -> BeatScores:
    """Flatten (W, 12, 15) ``beats`` (and (W, 12, 15, 96) ``samples``) over the real beats."""
    w, i, j = np.nonzero(~tokens.pad)
    t = token_times(tokens, offset_s)
    return BeatScores(
        lead=np.asarray(contract.LEADS)[i],
        window=w,
        beat=j,
        start_s=t.start_s[w, j],
        stop_s=t.stop_s[w, j],
        r_s=t.r_s[w, j],
        score=np.asarray(beats, dtype=np.float64)[w, i, j],
        samples=None if samples is None else np.asarray(samples, dtype=np.float64)[w, i, j],
        signed=signed,
        label=label,
    )
