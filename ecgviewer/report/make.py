"""A report from a recording: analyse and measure what the caller has not (the CLI has nothing
yet; the viewer passes its own results, the user's edits included), then ``content.build``.

Plain Python: the CLI calls it, the viewer runs it on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ecgviewer.measure.intervals import DEFAULT_QTC
from ecgviewer.recording import Recording
from ecgviewer.render.options import ViewOptions
from ecgviewer.report import content

if TYPE_CHECKING:
    from ecgviewer.library.relabels import Relabels
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.measure.rhythm import BeatList
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.ml.session import Request, Result
    from ecgviewer.overread import Overread


def model_id(analyzer: Analyzer) -> str:
    """The model as the report names it: its name and the start of its weights' SHA-256."""
    return f"{analyzer.name} (sha256 {analyzer.sha256[:12]})"


def make(
    rec: Recording,
    options: ViewOptions,
    *,
    t0: float = 0.0,
    analyzer: Analyzer | None = None,
    request: Request | None = None,
    result: Result | None = None,
    delineator: Delineator | None = None,
    measurements: Measurements | None = None,
    beats: BeatList | None = None,
    formula: str = DEFAULT_QTC,
    identifiers: bool = False,
    max_pages: int = content.MAX_PAGES,
    progress: Callable[[float], bool] = lambda _f: True,
    overread: Overread | None = None,
    relabels: Relabels = (),
) -> content.Report:
    """The report of ``rec`` from ``t0``; without an analyzer (and no ``result``) it has no AI part,
    without a delineator (and no ``measurements``) no measurements, each saying why."""
    from ecgviewer.analysis import MAX_WHOLE_S, analyse

    ai_note, measure_note = "AI analysis off", "Measurements off"
    missing_ai = analyzer if result is None else None
    missing_measure = delineator if measurements is None else None
    if missing_ai is not None and request is None:
        from ecgviewer.ml.session import Request

        request = Request(attention=False)
    # A long recording's report lists its beats (a Holter's summary); a 10 s ECG's median beat says it all.
    list_beats = beats is None and delineator is not None and rec.duration > MAX_WHOLE_S
    if missing_ai is not None or missing_measure is not None or list_beats:
        start = t0 if result is None else result.span[0]  # measure what the AI analysed
        found = analyse(rec, analyzer=missing_ai, request=request, delineator=missing_measure, t0=start,
                        progress=progress, previous=result, keep_going=True,
                        rhythm=list_beats)  # fmt: skip
        result = result or found.ai
        measurements = measurements or found.measurements
        beats = beats or found.rhythm
    if beats is not None and relabels and not beats.relabels:  # the reader's, kept in the library
        from ecgviewer.measure.templates import replay

        beats = replay(beats, relabels)
        ai_note = found.notes.get("ai", ai_note)
        measure_note = found.notes.get("measure", measure_note)
    return content.build(
        rec,
        options,
        t0=t0,
        result=result,
        model=model_id(analyzer) if analyzer is not None and result is not None else "",
        measurements=measurements,
        formula=formula,
        identifiers=identifiers,
        ai_note=ai_note,
        measure_note=measure_note,
        max_pages=max_pages,
        beats=beats,
        bands=analyzer.bands if analyzer is not None else None,
        overread=overread,
    )
