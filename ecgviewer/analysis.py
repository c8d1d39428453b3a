"""The one analysis pipeline: the window's controllers, ``ecgviewer analyze``, the report and the
self-test all call ``analyse``. It chooses the span of the recording an analysis covers, crops it
once, then computes what the caller asked for: the model's predictions, attribution and attention
(``ml.session``), the measurements (``measure.pipeline``), or both, in cancellable steps.

Long recordings are not analysed whole: each 10 s window costs an Integrated Gradients pass
(~0.3 s on 2 CPU cores), so an hour would take minutes and hold thousands of beats. Up to
``MAX_WHOLE_S`` the whole recording is analysed; beyond it, the ``SPAN_S`` seconds from the page
on screen, and the findings say which span they cover.

Plain Python (no Qt, no torch at import): the parts import what they need when asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ecgviewer.errors import EcgError
from ecgviewer.recording import Recording, crop

if TYPE_CHECKING:
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.measure.rhythm import BeatList
    from ecgviewer.ml.infer import Analyzer, Predictions
    from ecgviewer.ml.session import Request, Result

MAX_WHOLE_S = 60.0  # recordings up to this long are analysed whole
SPAN_S = 30.0  # otherwise: this many seconds from the page on screen (3 windows)
FAILURES = (ValueError, RuntimeError, EcgError)  # a library failing on an odd signal


class Spanned(Protocol):
    span: tuple[float, float]
    segment: Recording


@dataclass
class Findings:
    """What one analysis found on ``segment``, the ``span`` (seconds) of the shown recording."""

    span: tuple[float, float]
    whole: bool  # the span is the whole recording
    segment: Recording
    ai: Result | None = None  # predictions, attribution, attention
    predicted: Predictions | None = None  # the predictions alone (``explain=False``)
    measurements: Measurements | None = None
    rhythm: BeatList | None = None  # every beat of the whole recording (when asked for)
    notes: dict[str, str] = field(default_factory=dict)  # "ai" / "measure" -> why it is missing
    timings: dict[str, float] = field(default_factory=dict)  # ms per step
    uid: int = 0  # ``Recording.uid`` of the shown recording these findings belong to

    @property
    def source(self) -> tuple[int, tuple[float, float]]:
        """The opening and the span these findings were computed from: a display shows them only
        while they match the recording open (``Result.source`` likewise)."""
        return self.uid, self.span

    @property
    def predictions(self) -> Predictions | None:
        """The model's predictions, explained or not."""
        return self.ai.analysis.predictions if self.ai is not None else self.predicted

    @property
    def offset_s(self) -> float:
        """Add to the tokens' and the measurements' times to place them on the shown recording."""
        return self.span[0]


def analysed_span(
    rec: Recording, t0: float = 0.0, max_whole_s: float = MAX_WHOLE_S, span_s: float = SPAN_S
) -> tuple[float, float]:
    """The seconds of ``rec`` an analysis covers: all of them up to ``max_whole_s``, otherwise
    ``span_s`` from ``t0`` (the page on screen), kept inside the recording."""
    if rec.duration <= max_whole_s:
        return 0.0, rec.duration
    start = min(max(0.0, t0), rec.duration - span_s)
    return start, start + span_s


def analyse(
    rec: Recording,
    *,
    analyzer: Analyzer | None = None,
    request: Request | None = None,
    delineator: Delineator | None = None,
    t0: float = 0.0,
    progress: Callable[[float], bool] = lambda _f: True,
    previous: Spanned | None = None,
    max_whole_s: float = MAX_WHOLE_S,
    span_s: float = SPAN_S,
    keep_going: bool = False,
    rhythm: bool = False,
    explain: bool = True,
) -> Findings:
    """The model's findings (with an ``analyzer``; ``request`` says which label and method) and
    the measurements (with a ``delineator``) on the span ``analysed_span`` chooses.

    ``progress(fraction)`` returning False cancels between steps (``session.Cancelled``).
    ``previous``: an earlier result on the same recording; when it covers the same span its
    cropped segment is reused, so the analyzer's per-recording cache hits. With ``keep_going``
    a part that fails leaves a note in ``notes`` instead of raising. With ``rhythm`` every beat of
    the whole recording is listed too (``measure.rhythm``, with its own delineator). ``explain=False``
    predicts without attributions or attention (``predicted``): a cohort's findings without the
    attribution's cost (Integrated Gradients takes some 17 times the inference, ``make bench``).
    """
    span = analysed_span(rec, t0, max_whole_s, span_s)
    whole = span == (0.0, rec.duration)
    if whole:
        segment = rec
    elif previous is not None and previous.span == span:
        segment = previous.segment
    else:
        segment = crop(rec, *span)
    found = Findings(span, whole, segment, uid=rec.uid)
    share = 0.9 if analyzer is not None and delineator is not None else 1.0
    if rhythm:
        share /= 2
    if delineator is not None:  # first: the findings' wording reads them (``ml.consistency``)
        from ecgviewer.measure.pipeline import measure_recording

        clock = time.perf_counter()
        try:
            found.measurements = measure_recording(segment, delineator, span[0])
        except FAILURES as exc:
            if not keep_going:
                raise
            found.notes["measure"] = f"Measurements failed: {exc}"
        found.timings["measure_ms"] = (time.perf_counter() - clock) * 1e3
    if analyzer is not None:
        from ecgviewer.ml import session

        try:
            if explain:
                found.ai = session.run(
                    analyzer,
                    segment,
                    request or session.Request(),
                    span,
                    whole,
                    lambda f: progress(f * share),
                    rec,
                    (max_whole_s, span_s),
                    found.measurements,
                )
                found.timings.update(found.ai.timings)
            else:
                clock = time.perf_counter()
                found.predicted = analyzer.analyse(segment).predictions
                found.timings["analyse_ms"] = (time.perf_counter() - clock) * 1e3
        except FAILURES as exc:
            if not keep_going:
                raise
            found.notes["ai"] = f"AI analysis failed: {exc}"
    if rhythm:
        from ecgviewer.measure.rhythm import analyse as beat_list

        clock = time.perf_counter()
        try:
            found.rhythm = beat_list(rec, progress=lambda f: progress(share + f * (1 - share)))
        except FAILURES as exc:
            if not keep_going:
                raise
            found.notes["rhythm"] = f"Beat list failed: {exc}"
        found.timings["rhythm_ms"] = (time.perf_counter() - clock) * 1e3
    progress(1.0)
    return found
