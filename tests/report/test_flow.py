"""Issue 71, the printed report is complete: every line wraps to its column, nothing is elided,
no finding loses its probability or decision, nothing sends the reader to a screen, and what page
one cannot hold goes on over numbered pages. The text is read back from the PDF by PDFium
(pypdfium2), independently of the code that laid it out; the layout's own geometry is checked too."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pypdfium2 as pdfium
import pytest

from ecgviewer.render.options import ViewOptions
from ecgviewer.report import content, flow, make, pages
from tests.helpers import synthetic
from tests.report.reading import NOT_ON_PAPER, PT_PER_MM, flat, pdf_pages

N_FINDINGS, N_STATEMENTS, N_EVENTS = 40, 30, 120


def _finding(i: int) -> content.Row:
    p = (i * 37 % 100) / 100
    decision = "\u2265 0.50 positive" if p >= 0.5 else "< 0.50"
    name = f"Z{i:02d} complete left bundle branch block with secondary repolarisation abnormality, case {i}"
    return content.Row(name, (f"p = {p:.2f}", decision), i % 2)


def _statement(i: int) -> str:
    return (
        f"Left ventricular hypertrophy by voltage number {i} with strain pattern in the lateral leads "
        f"(Sokolow-Lyon {3.5 + i / 10:.1f} mV, Cornell {2.0 + i / 20:.2f} mV, QRS {100 + i} ms)"
    )


def _event(i: int) -> str:
    return f"{i // 60}:{i % 60:02d}.0 ventricular run: {3 + i % 5} beats at {140 + i} bpm, event {i}"


def _report(n_findings: int = N_FINDINGS, n_statements: int = N_STATEMENTS, n_events: int = N_EVENTS):
    rec = synthetic(10.0, fs=250.0)
    options = ViewOptions()
    findings = content.Block("AI findings (research use)", tuple(_finding(i) for i in range(n_findings)))
    return content.Report(
        rec=rec,
        options=options,
        pages=tuple(content.ecg_pages(rec, options, 0.0)),
        blocks=(
            content.recording_block(rec, identifiers=False),
            content.Block("Measurements", ("Measurements off",)),
            findings,
        ),
        ai=None,
        created=datetime(2025, 1, 2, 3, 4),
        identifiers=False,
        statements=content.Block("Statements", tuple(_statement(i) for i in range(n_statements))),
        beats=content.Block("1 beats in 2:00.0", tuple(_event(i) for i in range(n_events))),
    )


@pytest.fixture(scope="module")
def long_pdf(qapp, tmp_path_factory) -> tuple[content.Report, Path, list[pages.PagePlan]]:
    report = _report()
    data, plans = pages.typeset_pdf(report, "a4")
    path = tmp_path_factory.mktemp("flow") / "long.pdf"
    path.write_bytes(data)
    return report, path, plans


def test_long_content_goes_on_over_numbered_pages_and_nothing_is_cut(long_pdf):
    report, path, plans = long_pdf
    texts = [t for _, t in pdf_pages(path)]
    n = len(texts)
    assert n == len(plans) > 1 and n == pages.page_count(report, "a4")
    assert len(pdf_pages(pages.pdf_bytes(_report(2, 2, 2), "a4"))) == 1  # short: one page
    for k, text in enumerate(texts, start=1):
        assert f"Page {k} of {n}" in text
        assert flat(text).startswith("12-lead ECG") and report.rec.name in text  # the title line
        assert "Research use, not a medical device." in text
    assert "text of page 1 continued" in texts[1]
    whole = flat(" ".join(texts))
    for i in range(N_STATEMENTS):
        assert flat(_statement(i)) in whole, i
    for i in range(N_EVENTS):
        assert _event(i) in whole, i
    for i in range(N_FINDINGS):
        assert _finding(i).name in whole, i
    for word in NOT_ON_PAPER:
        assert word not in whole


def test_every_finding_keeps_its_probability_and_decision_on_its_row(long_pdf):
    """PDFium's text inside the band of each finding's first line, across its column, holds the
    finding's probability and decision."""
    _, path, plans = long_pdf
    doc = pdfium.PdfDocument(str(path))
    found = set()
    for index, plan in enumerate(plans):
        textpage = doc[index].get_textpage()
        height = doc[index].get_size()[1]
        for frame, lines in plan.boxes:
            for t in lines:
                match = re.match(r"Z(\d\d) ", t.text)
                if not match:
                    continue
                row = _finding(int(match.group(1)))
                top, low = height - t.y * PT_PER_MM, height - (t.y + t.height) * PT_PER_MM
                band = textpage.get_text_bounded(
                    frame.x * PT_PER_MM, low + 0.5, (frame.x + frame.width) * PT_PER_MM, top - 0.5
                )
                assert row.cells[0] in band and row.cells[1] in band, (row.name, band)
                found.add(row.name)
    assert len(found) == N_FINDINGS


def _overlap(a: flow.Text | flow.Frame, b: flow.Text | flow.Frame) -> bool:
    eps = 1e-6
    return (
        a.x + eps < b.x + b.width
        and b.x + eps < a.x + a.width
        and a.y + eps < b.y + b.height
        and b.y + eps < a.y + a.height
    )


def _assert_laid_out(plans: list[pages.PagePlan], paper: str) -> None:
    """Every line inside its frame, every frame inside the margins, the header above the grid and
    clear of the attribution's legend and bars, and no two lines over each other."""
    width, height = pages.paper_mm(paper)
    margins = flow.Frame(
        pages.MARGIN_MM, pages.MARGIN_MM, width - 2 * pages.MARGIN_MM, height - 2 * pages.MARGIN_MM
    )
    for plan in plans:
        for frame, lines in (*plan.boxes, *plan.footer):
            assert all(frame.holds(t) for t in lines), [t for t in lines if not frame.holds(t)]
            assert margins.holds(flow.Text(frame.x, frame.y, frame.width, frame.height, ""))
        for frame, _ in plan.boxes:
            if plan.sheet is not None:
                assert frame.y + frame.height <= plan.sheet.box.y  # the header stays above the grid
            assert not any(_overlap(frame, extra) for extra in plan.extras)
        drawn = [t for t in plan.texts() if t.text]
        assert all(t.width > 0 for t in drawn)
        for i, a in enumerate(drawn):
            assert not any(_overlap(a, b) for b in drawn[i + 1 :]), a


@pytest.mark.parametrize("device", ["pdf", "png at 100 dpi"])
def test_every_line_lies_inside_its_frame_and_none_overlap(long_pdf, device):
    """Checked on the layout itself, for the PDF writer and for an image (whose hinted text is
    measured wider)."""
    report, _, plans = long_pdf
    if device != "pdf":
        plans = pages.image_plan(report, "a4", 100.0)[1]
    _assert_laid_out(plans, "a4")


def test_the_pdfs_text_stays_inside_the_margins_and_off_the_grid(long_pdf):
    """Every character PDFium finds is on the paper inside the margins; on the ECG sheet there is
    no text but the lead labels."""
    _, path, plans = long_pdf
    doc = pdfium.PdfDocument(str(path))
    margin = (pages.MARGIN_MM - 0.5) * PT_PER_MM
    for index, plan in enumerate(plans):
        page = doc[index]
        w, h = page.get_size()
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):
            if textpage.get_text_range(i, 1).isspace():
                continue
            left, low, right, top = textpage.get_charbox(i)
            assert margin <= left and right <= w - margin and margin <= low and top <= h - margin
        if plan.sheet is not None:
            box = plan.sheet.box
            inside = textpage.get_text_bounded(
                box.x * PT_PER_MM, h - (box.y + box.height) * PT_PER_MM, (box.x + box.width) * PT_PER_MM,
                h - box.y * PT_PER_MM - 1.0,
            )  # fmt: skip
            labels = {p.label for p in plan.sheet.page.panels}
            assert set(inside.split()) <= labels


def test_a_long_attribution_goes_on_under_the_territory_bars_then_over_the_page(qapp):
    """The bundled sample's report with the model, its attribution block made long: on the
    attribution page it fills its column, goes on under the territory bars, then on the page after;
    the explanation on page one goes on over its own pages first."""
    from ecgviewer.io import load
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.ml.session import Request
    from tests.conftest import SAMPLE

    report = make.make(
        load(SAMPLE),
        ViewOptions(),
        analyzer=Analyzer(device="cpu"),
        request=Request(method="gxi", attention=False),
    )
    ai = report.ai
    assert ai is not None and report.blocks[3] == ai.explained
    notes = tuple(f"Note {i}: a long explanation of where the model looked, line {i}" for i in range(80))
    explained = replace(ai.explained, lines=(*ai.explained.lines, *notes))
    report = replace(report, ai=replace(ai, explained=explained), blocks=(*report.blocks[:3], explained))
    data, plans = pages.typeset_pdf(report, "a4")
    _assert_laid_out(plans, "a4")
    texts = [t for _, t in pdf_pages(data)]
    shaded = next(i for i, plan in enumerate(plans) if plan.sheet is not None and plan.sheet.shaded)
    assert texts[shaded].startswith(f"Attribution of {ai.target}")
    assert f"(continued on page {shaded + 2})" in texts[shaded] and "Attribution (continued)" in texts[shaded]
    assert (
        "text of page 1 continued" in texts[1] and f"text of page {shaded + 1} continued" in texts[shaded + 1]
    )
    for page in (texts[:shaded], texts[shaded:]):  # page one's copy, and the attribution page's
        whole = flat(" ".join(page))
        assert all(note in whole for note in notes)
    assert len(texts) == len(plans) == pages.page_count(report, "a4") > report.n_pages


def test_a_line_longer_than_a_whole_column_is_split_not_lost(qapp):
    words = " ".join(f"word{i:04d}" for i in range(1500))
    report = replace(_report(1, 1, 1), statements=content.Block("Statements", (words,)))
    data, plans = pages.typeset_pdf(report, "letter")
    text = " ".join(t for _, t in pdf_pages(data))
    assert re.findall(r"word\d{4}", text) == words.split()  # every word, in order, once
    assert len(plans) >= 3


def test_png_pages_go_on_over_pages_too(qapp, tmp_path):
    report = _report()
    files = pages.write(report, tmp_path / "r.png", "a4", dpi=40.0)
    assert len(files) == len(pages.image_plan(report, "a4", 40.0)[1]) > 1
    assert all(f.exists() for f in files) and files[-1].name == f"r-{len(files)}.png"


def test_a_finding_is_a_row_whose_numbers_keep_their_columns():
    def cls(threshold: float | None, decision: bool | None) -> Any:  # what ``finding`` reads of a ClassResult
        return SimpleNamespace(
            code="CLBBB", description="complete left bundle branch block", probability=0.91,
            threshold=threshold, decision=decision,
        )  # fmt: skip

    assert content.finding(cls(0.5, True)) == content.Row(
        "CLBBB complete left bundle branch block", ("p = 0.91", "\u2265 0.50 positive")
    )
    assert content.finding(cls(0.95, False), 1).cells == ("p = 0.91", "< 0.95")
    assert content.finding(cls(None, None)).cells == ("p = 0.91", "")
