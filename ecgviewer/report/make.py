"""A report from a recording: analyse and measure what the caller has not (the CLI has nothing
yet; the viewer passes its own results, the user's edits included), then ``content.build``.

Plain Python: the CLI calls it, the viewer runs it on a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ecgviewer.errors import EcgError
from ecgviewer.recording import Recording, crop
from ecgviewer.render.options import ViewOptions
from ecgviewer.report import content

if TYPE_CHECKING:
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.ml.session import Request, Result


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
    formula: str = "Bazett",
    identifiers: bool = False,
    max_pages: int = content.MAX_PAGES,
    progress: Callable[[float], bool] = lambda _f: True,
) -> content.Report:
    """The report of ``rec`` from ``t0``; without an analyzer (and no ``result``) it has no AI part,
    without a delineator (and no ``measurements``) no measurements, each saying why."""
    from ecgviewer.ml import session

    ai_note, measure_note = "AI analysis off", "Measurements off"
    if result is None and analyzer is not None:
        try:
            result = session.run(analyzer, rec, request or session.Request(attention=False), t0, progress)
        except (ValueError, RuntimeError, EcgError) as exc:  # a library failing on an odd signal
            ai_note = f"AI analysis failed: {exc}"
    if measurements is None and delineator is not None:
        from ecgviewer.measure.pipeline import measure_recording

        if result is not None:
            segment, offset = result.segment, result.offset_s
        else:
            span = session.analysed_span(rec, t0)
            segment, offset = (rec if span == (0.0, rec.duration) else crop(rec, *span)), span[0]
        try:
            measurements = measure_recording(segment, delineator, offset)
        except (ValueError, RuntimeError) as exc:
            measure_note = f"Measurements failed: {exc}"
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
    )
