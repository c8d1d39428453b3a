"""What the model read of a recording, and exactly which seconds it did not read and why (issue 71):
the panel, ``analyze``'s JSON and the report say the same, from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ecgviewer.ml import contract

LONG = (
    "not analysed: recordings over {max_s:g} s are analysed {span_s:g} s at a time, around the page on screen"
)
PSEUDO = "no R peaks found: evenly spaced pseudo-beats were read instead of beats"
OFF_SCAFFOLD = "{n} detected beats read as samples only (a patch-token model's scaffold holds 15 a tile)"
MISSED = (
    "the measurements found {measured} beats where the model's R-peak detector found {found}{where}: "
    "some beats may not have been read"
)
EXTRA = (
    "the model's R-peak detector found {found} beats{where} where the measurements found {measured}: "
    "it may have read T waves or noise as beats"
)
# a stretch the measurements found too noisy to read (``intervals.TOO_NOISY``), where the model read beats
IN_NOISE = "too noisy to read for the measurements: the model read {n} beat{s} there that may be noise"


@dataclass(frozen=True)
class Unread:
    start_s: float  # seconds of the shown recording
    stop_s: float
    reason: str
    verb: str = "not read"  # or "disputed": read, but not only beats
    beats: int = 0  # beats the model read there that the measurements dispute (noise, extra ones)

    @property
    def text(self) -> str:
        return f"{self.start_s:.1f}\u2013{self.stop_s:.1f} s: {self.reason}"


@dataclass(frozen=True)
class Reading:
    span: tuple[float, float]  # seconds of the shown recording analysed
    beats_detected: int  # R peaks found in the span
    beats_read: int  # of them, beat tokens the model read (pseudo-beats not counted)
    windows: int
    unread: tuple[Unread, ...]
    missing_leads: tuple[str, ...]

    @property
    def every_beat(self) -> bool:
        """Every second of the recording analysed and every beat found in it read as a beat."""
        return not self.unread and self.beats_read == self.beats_detected

    @property
    def text(self) -> str:
        """One sentence for the panel and the report."""
        a, b = self.span
        head = (
            f"Read: all {self.beats_read} beats of {a:.1f}\u2013{b:.1f} s"
            if self.beats_read == self.beats_detected
            else f"Read: {self.beats_read} of {self.beats_detected} beats of {a:.1f}\u2013{b:.1f} s"
        )
        head += f" ({self.windows} window{'s' if self.windows != 1 else ''})"
        parts = [head, *(f"{u.verb} {u.text}" for u in self.unread)]
        if self.missing_leads:
            parts.append(f"no signal in {', '.join(self.missing_leads)} (not read)")
        return "; ".join(parts) + "."

    def to_json(self) -> dict:
        return {**asdict(self), "every_beat": self.every_beat, "text": self.text}


def reading(
    tokens: contract.Tokens,
    span: tuple[float, float],
    duration: float,
    max_whole_s: float,
    span_s: float,
    measured_beats: int | None = None,
    too_noisy: Sequence[tuple[float, float]] = (),
) -> Reading:
    """What ``tokens`` (of the ``span`` of a recording ``duration`` seconds long) read;
    ``measured_beats``: the beats the measurements found on the same span, an independent count
    (a detector that misses beats, as at a paced or a very fast rhythm, is then said);
    ``too_noisy``: the stretches (s) the measurements found too noisy to read, where the beats the
    model read are said disputed with their count (its R-peak detector finds "beats" in noise)."""
    fs, (a, b) = tokens.source_fs, span
    unread = []
    if a > 1e-6:
        unread.append(Unread(0.0, a, LONG.format(max_s=max_whole_s, span_s=span_s)))
    for w in np.flatnonzero(tokens.fallback):
        unread.append(Unread(a + tokens.window_start[w] / fs, a + tokens.window_stop[w] / fs, PSEUDO))
    if b < duration - 1e-6:
        unread.append(Unread(b, duration, LONG.format(max_s=max_whole_s, span_s=span_s)))
    real = (tokens.rpeaks >= 0) & ~tokens.fallback[:, None]
    read = int(real.sum())
    detected = tokens.detected
    if read < detected and not tokens.fallback.any():
        unread.append(Unread(a, b, OFF_SCAFFOLD.format(n=detected - read)))
    beat_s = a + np.unique(tokens.rpeaks[real]) / fs
    in_noise = 0
    for lo, hi in too_noisy:
        if (n := int(((beat_s >= lo) & (beat_s <= hi)).sum())) > 0:
            unread.append(Unread(lo, hi, IN_NOISE.format(n=n, s="s" * (n != 1)), "disputed", n))
            in_noise += n
    found = detected - in_noise  # the measurements count no beat in noise: like against like
    if measured_beats is not None and abs(measured_beats - found) > max(1, 0.1 * measured_beats):
        counts = {"measured": measured_beats, "found": found, "where": " outside the noise" * (in_noise > 0)}
        if found < measured_beats:
            unread.append(Unread(a, b, MISSED.format(**counts)))
        else:  # more: the detector took other waves for beats (tall T waves, noise)
            unread.append(Unread(a, b, EXTRA.format(**counts), "disputed", found - measured_beats))
    return Reading(span, detected, read, tokens.n_windows, tuple(sorted(unread, key=lambda u: u.start_s)),
                   tokens.missing_leads)  # fmt: skip
