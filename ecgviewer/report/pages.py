"""The report's pages on A4 or Letter landscape, painted with QPainter: a vector PDF through Qt's
own PDF writer, or PNG images. One unit of page geometry is one paper millimetre, so the ECG
sheet is at true scale (25 mm/s is 25 mm of paper per second) on any device.

Page one: header (recording, measurements, AI findings, attribution summary) over the ECG sheet;
what its header columns cannot hold goes on over pages of text right after it, so nothing is cut
(``flow`` wraps every line). Page two (when the model ran): the same sheet with each beat shaded
by its attribution, the lead bars and the territories. Then the rest of a long recording, page by
page. Each page's text is placed first (``plan``), then painted (``paint``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ecgviewer.errors import EcgError
from ecgviewer.ml.placement import BeatScores, beat_scores
from ecgviewer.ml.wording import percent
from ecgviewer.render.layout import Page, column_ticks, label_position, pulse_polyline
from ecgviewer.render.options import MM_PER_INCH, THEMES
from ecgviewer.render.painting import colours, grid_lines, paint_grid, panel_fills, row_image
from ecgviewer.render.traces import page_traces
from ecgviewer.report.content import Report, Share
from ecgviewer.report.flow import HANG_MM, Frame, Text, Typesetter, bottom
from ecgviewer.report.plan import FOOTER_MM as FOOTER_MM
from ecgviewer.report.plan import LEADS_TITLE, PAPERS, TERRITORIES_TITLE, PagePlan, paper_mm, plan
from ecgviewer.report.plan import MARGIN_MM as MARGIN_MM
from ecgviewer.report.plan import check_fits as check_fits
from ecgviewer.report.plan import default_paper as default_paper
from ecgviewer.storage import atomic_write_bytes

PDF_DPI = 1200  # PDF user-space resolution: placement to 0.02 mm
GRID_MM = (0.08, 0.16)  # minor, major line widths
TRACE_MM = 0.25
SHADE_OPACITY = 0.6
INK = QtGui.QColor("#000000")
THEME = THEMES["light"]  # print is on white paper whatever the screen's theme
LABEL_PT = 8.0  # lead labels on the printed page


@dataclass
class Canvas:
    """A painter with millimetre placement (y down from the paper's top-left corner), and the
    typesetter that measured the text on the same kind of device."""

    painter: QtGui.QPainter
    ts: Typesetter

    @property
    def px_per_mm(self) -> float:
        return self.ts.px_per_mm

    def draw(self, t: Text) -> None:
        """One line, as laid out (never wrapped or clipped again here)."""
        k, p = self.px_per_mm, self.painter
        p.setFont(self.ts.font(t.pt, t.bold))
        p.setPen(INK)
        flags = (
            QtCore.Qt.AlignmentFlag.AlignLeft
            | QtCore.Qt.AlignmentFlag.AlignTop
            | QtCore.Qt.TextFlag.TextSingleLine
            | QtCore.Qt.TextFlag.TextDontClip
        )
        p.drawText(QtCore.QRectF(t.x * k, t.y * k, t.width * k, t.height * k), flags, t.text)

    def paragraph(self, x: float, y: float, width: float, text: str, bold: bool = False) -> float:
        """``text`` wrapped to ``width`` mm at (x, y); returns where it ends (mm down the page)."""
        lines = [t.moved(x, y) for t in self.ts.wrap(text, width, bold=bold, hang=HANG_MM)]
        for t in lines:
            self.draw(t)
        return bottom(lines)

    def mm_transform(self, x0: float, y0: float, height: float) -> QtGui.QTransform:
        """Page geometry (mm, y up, origin at the sheet's bottom-left) onto the device."""
        k = self.px_per_mm
        return QtGui.QTransform(k, 0, 0, -k, x0 * k, (y0 + height) * k)


def _pen(color: QtGui.QColor | str, width_mm: float) -> QtGui.QPen:
    pen = QtGui.QPen(QtGui.QColor(color), width_mm)
    pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(QtCore.Qt.PenJoinStyle.RoundJoin)
    return pen


def paint_sheet(
    c: Canvas, x0: float, y0: float, report: Report, page: Page, scores: BeatScores | None = None
) -> None:
    """The ECG paper at (x0, y0) mm: grid, beat shading, traces, calibration pulses and labels."""
    p = c.painter
    p.save()
    p.setTransform(c.mm_transform(x0, y0, page.height))
    rect = QtCore.QRectF(0, 0, page.width, page.height)
    minor, major = (
        grid_lines(page.width, page.height, 1.0, 5.0),
        grid_lines(page.width, page.height, 5.0, None),
    )
    paint_grid(p, rect, (THEME.paper, THEME.minor, THEME.major), minor, major, GRID_MM)
    if scores is not None:
        for panel in page.panels:
            if panel.available:
                for _k, fill, colour in panel_fills(page, panel, scores, SHADE_OPACITY)[1]:
                    p.fillRect(fill, colour)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
    p.setPen(_pen(INK, TRACE_MM))
    traces = page_traces(page, report.source, report.options.filter)
    for trace in traces:
        if trace.y.size:
            p.drawPath(pg.arrayToQPath(trace.x, trace.y, connect="finite"))
    p.drawPath(pg.arrayToQPath(*(np.array(v) for v in pulse_polyline(page)), connect="finite"))
    tx, ty = column_ticks(page)
    if tx:
        p.drawPath(pg.arrayToQPath(np.array(tx), np.array(ty), connect="pairs"))
    p.restore()
    drawn = {id(t.panel): (t.x, t.y) for t in traces}
    for panel in page.panels:
        text = panel.label if panel.available else f"{panel.label} (not recorded)"
        size = (c.ts.advance(text, LABEL_PT, bold=True), c.ts.line_mm(LABEL_PT))
        x, y = label_position(page, panel, size, drawn.get(id(panel)))
        c.draw(c.ts.line(x0 + x, y0 + page.height - y, text, pt=LABEL_PT, bold=True))


def _bars(c: Canvas, frame: Frame, title: str, items: tuple[Share, ...]) -> None:
    """Signed horizontal bars of shares (red raises the logit, blue lowers it), with their numbers."""
    x, width = frame.x, frame.width
    first = c.paragraph(x, frame.y, width, title, bold=True)
    if not items:
        return
    label_w, number_w = 16.0, 10.0
    bar_w = width - label_w - number_w
    row = min(c.ts.line_mm(), (frame.y + frame.height - first) / len(items))
    limit = max(abs(s.share) for s in items) or 1.0
    rgba = colours(np.array([s.share for s in items]), limit, True, 1.0)
    zero = x + label_w + bar_w / 2
    k, p = c.px_per_mm, c.painter
    for i, (s, col) in enumerate(zip(items, rgba, strict=True)):
        top = first + i * row
        c.draw(c.ts.line(x, top, s.name))
        length = bar_w / 2 * abs(s.share) / limit
        left = zero if s.share >= 0 else zero - length
        p.fillRect(
            QtCore.QRectF(left * k, (top + 0.3) * k, length * k, (row - 0.6) * k), QtGui.QColor(*col[:3])
        )
        c.draw(c.ts.line(x + width, top, percent(s.share, True), right=True))
    p.setPen(_pen("#808080", 0.1))
    p.drawLine(QtCore.QLineF(zero * k, first * k, zero * k, (first + len(items) * row) * k))


def _legend(c: Canvas, frame: Frame, scores: BeatScores) -> None:
    """The shading's colour ramp from -limit (lowers) to +limit (raises)."""
    k, x, y = c.px_per_mm, frame.x, frame.y
    ramp = np.linspace(-scores.limit, scores.limit, 256)
    image = row_image(colours(ramp, scores.limit, True, SHADE_OPACITY))
    c.painter.drawImage(QtCore.QRectF(x * k, y * k, frame.width * k, 2.5 * k), image)
    c.draw(c.ts.line(x, y + 2.8, f"{-scores.limit:+.3g} lowers the logit"))
    c.draw(c.ts.line(x + frame.width, y + 2.8, f"raises {scores.limit:+.3g}", right=True))


def paint(c: Canvas, report: Report, page: PagePlan) -> None:
    """One planned page, in reading order (the order a PDF's text is extracted in): the title and
    the header, the attribution's legend and bars, the sheet, the footer."""
    for _, lines in page.boxes:
        for t in lines:
            c.draw(t)
    sheet, ai = page.sheet, report.ai
    if sheet is not None:
        scores = None
        if sheet.shaded and ai is not None:
            result = ai.result
            e = result.explanation
            scores = beat_scores(result.analysis.tokens, e.beats, None, result.offset_s, True, "attribution")
        if scores is not None and ai is not None and len(page.extras) == 3:
            legend, leads, territories = page.extras
            _legend(c, legend, scores)
            _bars(c, leads, LEADS_TITLE, ai.leads)
            _bars(c, territories, TERRITORIES_TITLE, ai.territories)
        paint_sheet(c, sheet.box.x, sheet.box.y, report, sheet.page, scores)
    for _, lines in page.footer:
        for t in lines:
            c.draw(t)


def _writer(buf: QtCore.QBuffer, report: Report, paper: str) -> QtGui.QPdfWriter:
    writer = QtGui.QPdfWriter(buf)
    writer.setResolution(PDF_DPI)
    layout = QtGui.QPageLayout(
        QtGui.QPageSize(PAPERS[paper]), QtGui.QPageLayout.Orientation.Landscape, QtCore.QMarginsF(0, 0, 0, 0)
    )
    writer.setPageLayout(layout)
    writer.setTitle(f"ECG report: {report.rec.name}")
    writer.setCreator("ecgviewer")
    return writer


def typeset_pdf(report: Report, paper: str) -> tuple[bytes, list[PagePlan]]:
    """The whole report as a PDF (vector: grid and traces stay sharp at any zoom), with the plan of
    its pages (where each line of text went: the tests check it)."""
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = _writer(buf, report, paper)
    painter = QtGui.QPainter()
    if not painter.begin(writer):
        raise EcgError("cannot start the PDF writer")
    try:
        canvas = Canvas(painter, Typesetter(writer, PDF_DPI / MM_PER_INCH))
        plans = plan(report, paper, canvas.ts)
        for i, page in enumerate(plans):
            if i and not writer.newPage():
                raise EcgError("the PDF writer refused a new page")
            paint(canvas, report, page)
    finally:
        painter.end()
    buf.close()
    return bytes(buf.data().data()), plans


def pdf_bytes(report: Report, paper: str) -> bytes:
    """The whole report as a PDF."""
    return typeset_pdf(report, paper)[0]


def page_count(report: Report, paper: str) -> int:
    """How many pages the report takes on ``paper``: its ECG pages, the attribution page and the
    pages of text that page one's header goes on over (it needs the PDF writer's font metrics)."""
    buf = QtCore.QBuffer()
    return len(plan(report, paper, Typesetter(_writer(buf, report, paper), PDF_DPI / MM_PER_INCH)))


def _image(paper: str, dpi: float) -> QtGui.QImage:
    """A white page at ``dpi`` (its physical size is recorded in the image)."""
    w, h = paper_mm(paper)
    k = dpi / MM_PER_INCH
    image = QtGui.QImage(round(w * k), round(h * k), QtGui.QImage.Format.Format_RGB32)
    dots_per_m = round(dpi / 0.0254)
    image.setDotsPerMeterX(dots_per_m)
    image.setDotsPerMeterY(dots_per_m)
    image.fill(QtGui.QColor("#ffffff"))
    return image


def _painted(report: Report, page: PagePlan, paper: str, ts: Typesetter) -> QtGui.QImage:
    image = _image(paper, ts.px_per_mm * MM_PER_INCH)
    painter = QtGui.QPainter(image)
    try:
        paint(Canvas(painter, ts), report, page)
    finally:
        painter.end()
    return image


def image_plan(report: Report, paper: str, dpi: float) -> tuple[Typesetter, list[PagePlan]]:
    """The pages laid out for images at ``dpi`` (text measured as it is drawn there: at a low dpi
    hinted glyphs are wider, and a page may break earlier than the PDF's)."""
    ts = Typesetter(_image(paper, dpi), dpi / MM_PER_INCH)
    return ts, plan(report, paper, ts)


def page_image(report: Report, index: int, paper: str, dpi: float) -> QtGui.QImage:
    """One page as an image at ``dpi``."""
    ts, plans = image_plan(report, paper, dpi)
    return _painted(report, plans[index], paper, ts)


def png_paths(path: Path, n: int) -> list[Path]:
    """``report.png`` for page one, ``report-2.png``... for the others."""
    return [path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(n)]


def write(report: Report, path: str | os.PathLike[str], paper: str, dpi: float = 300.0) -> list[Path]:
    """Write ``report`` as PDF or PNG (by the suffix), atomically; returns the files written."""
    from ecgviewer.render.painting import save_image

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        atomic_write_bytes(path, pdf_bytes(report, paper))
        return [path]
    if suffix == ".png":
        ts, plans = image_plan(report, paper, dpi)
        out = png_paths(path, len(plans))
        for page, p in zip(plans, out, strict=True):
            save_image(_painted(report, page, paper, ts), p)
        return out
    raise EcgError(f"{path.name}: a report is written as .pdf or .png")
