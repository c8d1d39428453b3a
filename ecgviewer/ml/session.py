"""One analysis as the viewer runs it: which span of the recording, then predictions, the
attribution of one label and the attention maps, in cancellable steps with progress.

Plain Python (no Qt): the GUI runs ``run`` on a worker thread, the UI-stall benchmark and the
tests call it directly. Long recordings are not analysed whole: each 10 s window costs an
Integrated Gradients pass (~0.3 s on 2 CPU cores), so an hour would take minutes and hold
thousands of beats. Up to ``MAX_WHOLE_S`` the whole recording is analysed; beyond it, the
``SPAN_S`` seconds from the page on screen, and the result says which span it covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ecgviewer.errors import EcgError
from ecgviewer.ml.attention import AttentionMaps, attend
from ecgviewer.ml.explain import DEFAULT_STEPS, METHODS, Explanation, Target, choose_target, explain
from ecgviewer.ml.infer import SUPER_TASK, Analysis, Analyzer
from ecgviewer.recording import Recording, crop

MAX_WHOLE_S = 60.0  # recordings up to this long are analysed whole
SPAN_S = 30.0  # otherwise: this many seconds from the page on screen (3 windows)


class Cancelled(Exception):
    """The user cancelled; nothing is reported."""


@dataclass(frozen=True)
class Request:
    """What to analyse: the label (None: the most probable surfaced class of ``task``) and how."""

    task: str = SUPER_TASK
    code: str | None = None
    method: str = "ig"
    n_steps: int = DEFAULT_STEPS
    attention: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EcgError(f"method {self.method!r}: choose from {', '.join(METHODS)}")
        if not 1 <= self.n_steps <= 1024:
            raise EcgError(f"Integrated Gradients steps {self.n_steps}: choose 1 to 1024")


@dataclass
class Result:
    request: Request
    span: tuple[float, float]  # seconds of the shown recording that were analysed
    whole: bool  # the span is the whole recording
    segment: Recording  # what was analysed: the recording itself, or its span cropped out
    analysis: Analysis
    target: Target
    explanation: Explanation
    attention: AttentionMaps | None
    timings: dict[str, float] = field(default_factory=dict)  # ms per step

    @property
    def offset_s(self) -> float:
        """Add to the tokens' and the tree's times to place them on the shown recording."""
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


def run(
    analyzer: Analyzer,
    rec: Recording,
    request: Request,
    t0: float = 0.0,
    progress: Callable[[float], bool] = lambda _f: True,
    previous: Result | None = None,
    max_whole_s: float = MAX_WHOLE_S,
    span_s: float = SPAN_S,
) -> Result:
    """Predict, explain and attend ``rec`` (or the span of it ``analysed_span`` chooses).

    ``progress(fraction)`` returning False cancels between steps (``Cancelled`` is raised).
    ``previous``: an earlier result for the same recording; when it covers the same span its
    cropped segment is reused, so the analyzer's per-recording cache hits when only the label
    or the method changes.
    """
    span = analysed_span(rec, t0, max_whole_s, span_s)
    whole = span == (0.0, rec.duration)
    if whole:
        segment = rec
    elif previous is not None and previous.span == span:
        segment = previous.segment
    else:
        segment = crop(rec, *span)
    if not progress(0.05):
        raise Cancelled
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def done(name: str, fraction: float) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[f"{name}_ms"] = (now - clock) * 1e3
        clock = now
        if not progress(fraction):
            raise Cancelled

    analysis = analyzer.analyse(segment)
    done("analyse", 0.35)
    target = choose_target(analyzer.classes, analysis.predictions, request.task, request.code)
    explanation = explain(analyzer, segment, target, request.method, request.n_steps)
    done("explain", 0.9)
    attention = attend(analyzer, segment) if request.attention else None
    done("attention", 1.0)
    return Result(request, span, whole, segment, analysis, target, explanation, attention, timings)
