"""Writing the report once the analysis is done: painting both PDF pages, and one page as a 300 dpi
PNG (the analysis itself is timed by ml.py)."""

from __future__ import annotations

from pathlib import Path

from formats import _median_ms


def bench_report(sample: Path, repeats: int) -> dict:
    from ecgviewer.analysis import analyse
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.ml import session
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.render.options import ViewOptions
    from ecgviewer.render.painting import ensure_app
    from ecgviewer.report import make, pages

    ensure_app()
    rec = load(sample)
    analyzer = Analyzer(device="cpu")
    result = analyse(rec, analyzer=analyzer, request=session.Request(attention=False)).ai
    measured = measure_recording(result.segment, Delineator.bundled(), result.offset_s)
    report = make.make(rec, ViewOptions(), result=result, analyzer=analyzer, measurements=measured)
    pdf = pages.pdf_bytes(report, "a4")  # the first paint loads fonts: not timed
    return {
        "pdf_ms": _median_ms(lambda: pages.pdf_bytes(report, "a4"), repeats),
        "png_page_300dpi_ms": _median_ms(lambda: pages.page_image(report, 0, "a4", 300.0), repeats),
        "pages": pages.page_count(report, "a4"),
        "pdf_kib": round(len(pdf) / 1024, 1),
        "repeats": repeats,
    }
