"""The model's part of an analysis (``ecgviewer.analysis.analyse`` chooses the span and crops
it): predictions, the attribution of one label and the attention maps of a segment, in
cancellable steps with progress. Plain Python (no Qt)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ecgviewer.errors import Cancelled, EcgError
from ecgviewer.ml.attention import AttentionMaps, attend
from ecgviewer.ml.consistency import contradictions
from ecgviewer.ml.explain import DEFAULT_STEPS, METHODS, Explanation, Target, choose_target, explain
from ecgviewer.ml.infer import SUPER_TASK, Analysis, Analyzer
from ecgviewer.ml.reading import Reading, reading
from ecgviewer.ml.wording import Worded, describe
from ecgviewer.recording import Recording

if TYPE_CHECKING:
    from ecgviewer.measure.intervals import Measurements


@dataclass(frozen=True)
class Request:
    """What to analyse: the label (None: the most probable surfaced class of ``task``) and how
    (``method`` None: the model card's choice, ``reference.Settings``)."""

    task: str = SUPER_TASK
    code: str | None = None
    method: str | None = None
    n_steps: int = DEFAULT_STEPS
    attention: bool = True

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
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
    worded: Worded  # the explanation in words, with the benchmark's agreement
    timings: dict[str, float] = field(default_factory=dict)  # ms per step
    source: tuple[int, tuple[float, float]] = (0, (0.0, 0.0))  # (``Recording.uid``, span) it belongs to
    reading: Reading | None = None  # which beats and seconds the model read, and what not and why

    @property
    def offset_s(self) -> float:
        """Add to the tokens' and the tree's times to place them on the shown recording."""
        return self.span[0]


def run(
    analyzer: Analyzer,
    segment: Recording,
    request: Request,
    span: tuple[float, float],
    whole: bool,
    progress: Callable[[float], bool] = lambda _f: True,
    shown: Recording | None = None,
    limits: tuple[float, float] = (60.0, 30.0),
    measured: Measurements | None = None,
) -> Result:
    """Predict, explain and attend ``segment``, the ``span`` of the ``shown`` recording (by default
    the segment itself); ``limits``: ``analysis.analyse``'s whole-recording and span seconds;
    ``measured``: the span's measurements, where they are made, so the words heed them.

    ``progress(fraction)`` returning False cancels between steps (``Cancelled`` is raised).
    """
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
    method = request.method or analyzer.explain_settings.method
    explanation = explain(analyzer, segment, analysis, target, method, request.n_steps)
    done("explain", 0.9)
    attention = attend(analyzer, segment, analysis) if request.attention else None
    done("attention", 1.0)
    preds = analysis.predictions
    finding = preds.get(target.task, target.code)
    worded = describe(
        explanation, analysis.tokens, analyzer.loaded.card, finding, contradictions(finding, preds, measured)
    )
    if not preds.positive():
        worded = replace(
            worded, text=f"No positive finding. {worded.text}", lines=("No positive finding", *worded.lines)
        )
    shown = shown or segment
    counted, noisy = (None, ()) if measured is None else (len(measured.r_times), measured.too_noisy)
    read = reading(analysis.tokens, span, shown.duration, *limits, counted, noisy)
    return Result(request, span, whole, segment, analysis, target, explanation, attention, worded, timings,
                  (shown.uid, span), read)  # fmt: skip
