"""The report's pages on A4 or Letter landscape, painted with QPainter: a vector PDF through Qt's
own PDF writer, or PNG images. One unit of page geometry is one paper millimetre, so the ECG
sheet is at true scale (25 mm/s is 25 mm of paper per second) on any device.

Page one: header (recording, measurements, AI findings, attribution summary) over the ECG sheet.
Page two (when the model ran): the same sheet with each beat shaded by its attribution, the lead
bars and the territories. Then the rest of a long recording, page by page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ecgviewer import NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.ml.placement import BeatScores, beat_scores
from ecgviewer.render.layout import Page, column_ticks, label_position, pulse_polyline
from ecgviewer.render.options import MM_PER_INCH, THEMES, ViewOptions
from ecgviewer.render.painting import colours, grid_lines, paint_grid, panel_fills, row_image
from ecgviewer.render.traces import page_traces
from ecgviewer.report.content import Block, Report, Share
from ecgviewer.storage import atomic_write_bytes

PAPERS = {"a4": QtGui.QPageSize.PageSizeId.A4, "letter": QtGui.QPageSize.PageSizeId.Letter}
MARGIN_MM = 6.0
FOOTER_MM = 8.0
MIN_HEADER_MM = 30.0
TITLE_MM = 4.5
GAP_MM = 3.0
FONT_PT = 6.5
PDF_DPI = 1200  # PDF user-space resolution: placement to 0.02 mm
GRID_MM = (0.08, 0.16)  # minor, major line widths
TRACE_MM = 0.25
SHADE_OPACITY = 0.6
INK = QtGui.QColor("#000000")
THEME = THEMES["light"]  # print is on white paper whatever the screen's theme


def default_paper() -> str:
    """Letter where the locale measures in US units, A4 elsewhere."""
    us = QtCore.QLocale.system().measurementSystem() == QtCore.QLocale.MeasurementSystem.ImperialUSSystem
    return "letter" if us else "a4"


def paper_mm(paper: str) -> tuple[float, float]:
    """Landscape width and height of ``paper`` in mm."""
    if paper not in PAPERS:
        raise EcgError(f"paper {paper!r}: choose {' or '.join(PAPERS)}")
    size = QtGui.QPageSize(PAPERS[paper]).size(QtGui.QPageSize.Unit.Millimeter)
    return max(size.width(), size.height()), min(size.width(), size.height())


def check_fits(page: Page, paper: str, options: ViewOptions) -> None:
    """Refuse a sheet that cannot be printed at true scale on ``paper`` (never shrink it)."""
    width, height = paper_mm(paper)
    room_w = width - 2 * 4.0
    room_h = height - 2 * MARGIN_MM - FOOTER_MM - MIN_HEADER_MM
    if page.width > room_w or page.height > room_h:
        raise EcgError(
            f"a {options.layout} page at {options.scale_label()} is {page.width:.0f} x {page.height:.0f} mm; "
            f"{paper.upper()} landscape holds {room_w:.0f} x {room_h:.0f} mm under the header at true scale "
            "(choose 3x4+1 or 3x4, or 5 mm/mV for 6x2 and 3x4+3)"
        )


@dataclass
class Canvas:
    """A painter with millimetre placement (y down from the paper's top-left corner)."""

    painter: QtGui.QPainter
    px_per_mm: float

    def font(self, pt: float = FONT_PT, bold: bool = False) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPointSizeF(pt)
        font.setBold(bold)
        return font

    def line_mm(self, pt: float = FONT_PT) -> float:
        return pt * 1.2 / 72 * MM_PER_INCH

    def text(
        self,
        x: float,
        y: float,
        width: float,
        text: str,
        pt: float = FONT_PT,
        bold: bool = False,
        right=False,
    ) -> None:
        """One line with its top-left at (x, y) mm, elided to ``width`` mm (the cut is shown)."""
        k, p = self.px_per_mm, self.painter
        font = self.font(pt, bold)
        p.setFont(font)
        p.setPen(INK)
        shown = QtGui.QFontMetricsF(font, p.device()).elidedText(
            text, QtCore.Qt.TextElideMode.ElideRight, width * k
        )
        flags = QtCore.Qt.AlignmentFlag.AlignRight if right else QtCore.Qt.AlignmentFlag.AlignLeft
        rect = QtCore.QRectF(x * k, y * k, width * k, self.line_mm(pt) * k)
        p.drawText(rect, flags | QtCore.Qt.AlignmentFlag.AlignTop, shown)

    def block(self, x: float, y: float, width: float, height: float, block: Block) -> None:
        """A titled column of lines; what does not fit ends in a line saying how many were left out."""
        step = self.line_mm()
        self.text(x, y, width, block.title, bold=True)
        room = int((height - step) // step)
        lines = list(block.lines)
        if len(lines) > room:
            lines = [*lines[: room - 1], f"\u2026 {len(lines) - room + 1} more lines (see the viewer)"]
        for i, line in enumerate(lines):
            self.text(x, y + (i + 1) * step, width, line)

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
    for trace in page_traces(page, report.source, report.options.filter):
        if trace.y.size:
            p.drawPath(pg.arrayToQPath(trace.x, trace.y, connect="finite"))
    p.drawPath(pg.arrayToQPath(*(np.array(v) for v in pulse_polyline(page)), connect="finite"))
    tx, ty = column_ticks(page)
    if tx:
        p.drawPath(pg.arrayToQPath(np.array(tx), np.array(ty), connect="pairs"))
    p.restore()
    for panel in page.panels:
        x, y = label_position(page, panel)
        text = panel.label if panel.available else f"{panel.label} (not recorded)"
        c.text(x0 + x, y0 + page.height - y, 40.0, text, pt=8.0, bold=True)


def _bars(
    c: Canvas, x: float, y: float, width: float, height: float, title: str, items: tuple[Share, ...]
) -> None:
    """Signed horizontal bars of shares (red raises the logit, blue lowers it), with their numbers."""
    step = c.line_mm()
    c.text(x, y, width, title, bold=True)
    if not items:
        return
    label_w, number_w = 16.0, 10.0
    bar_w = width - label_w - number_w
    row = min(step, (height - step) / len(items))
    limit = max(abs(s.share) for s in items) or 1.0
    rgba = colours(np.array([s.share for s in items]), limit, True, 1.0)
    zero = x + label_w + bar_w / 2
    k, p = c.px_per_mm, c.painter
    for i, (s, col) in enumerate(zip(items, rgba, strict=True)):
        top = y + step + i * row
        c.text(x, top, label_w - 1, s.name)
        length = bar_w / 2 * abs(s.share) / limit
        left = zero if s.share >= 0 else zero - length
        p.fillRect(
            QtCore.QRectF(left * k, (top + 0.3) * k, length * k, (row - 0.6) * k), QtGui.QColor(*col[:3])
        )
        c.text(x + label_w + bar_w, top, number_w, f"{100 * s.share:+.0f} %", right=True)
    p.setPen(_pen("#808080", 0.1))
    p.drawLine(QtCore.QLineF(zero * k, (y + step) * k, zero * k, (y + step + len(items) * row) * k))


def _legend(c: Canvas, x: float, y: float, width: float, scores: BeatScores) -> None:
    """The shading's colour ramp from -limit (lowers) to +limit (raises)."""
    k = c.px_per_mm
    ramp = np.linspace(-scores.limit, scores.limit, 256)
    image = row_image(colours(ramp, scores.limit, True, SHADE_OPACITY))
    c.painter.drawImage(QtCore.QRectF(x * k, y * k, width * k, 2.5 * k), image)
    c.text(x, y + 2.8, width, f"{-scores.limit:+.3g} lowers the logit", pt=FONT_PT)
    c.text(x, y + 2.8, width, f"raises {scores.limit:+.3g}", pt=FONT_PT, right=True)


class Layout:
    """Where the parts of a page go on the paper (mm)."""

    def __init__(self, report: Report, paper: str) -> None:
        self.width, self.height = paper_mm(paper)
        page = report.pages[0]
        check_fits(page, paper, report.options)
        self.sheet_x = (self.width - page.width) / 2
        self.sheet_y = self.height - MARGIN_MM - FOOTER_MM - page.height
        self.header_y = MARGIN_MM + TITLE_MM
        self.header_h = self.sheet_y - 1.0 - self.header_y
        self.left, self.right = self.sheet_x, self.sheet_x + page.width

    def columns(self, fractions: tuple[float, ...]) -> list[tuple[float, float]]:
        """(x, width) of header columns splitting the sheet's width by ``fractions``."""
        room = self.right - self.left - GAP_MM * (len(fractions) - 1)
        out, x = [], self.left
        for f in fractions:
            out.append((x, room * f))
            x += room * f + GAP_MM
        return out


def paint_page(c: Canvas, report: Report, index: int, paper: str) -> None:
    """Page ``index`` (0-based) of ``report``."""
    lay = Layout(report, paper)
    rec, ai, ecg = report.rec, report.ai, report.pages
    has_ai_page = ai is not None
    recorded = f"{sum(lead not in rec.derived for lead in rec.leads)}-lead ECG"  # derived leads not counted
    if index == 0:
        page, title = ecg[0], recorded
    elif ai is not None and index == 1:
        page, title = ecg[0], f"Attribution of {ai.target}"
    else:
        page = ecg[index - (1 if has_ai_page else 0)]
        title = f"{recorded}, continued"
    width = lay.right - lay.left
    c.text(lay.left, MARGIN_MM, width * 0.6, f"{title}   {rec.name}", pt=9.0, bold=True)
    c.text(lay.left + width * 0.6, MARGIN_MM, width * 0.4, NOTICE, pt=9.0, bold=True, right=True)
    if index == 0:
        cols = lay.columns((0.24, 0.25, 0.25, 0.26))
        for (x, w), block in zip(cols, report.blocks, strict=False):
            c.block(x, lay.header_y, w, lay.header_h, block)
        (x, w), below = cols[0], (len(report.blocks[0].lines) + 1.5) * c.line_mm()
        for extra in (report.statements, report.beats):  # under the recording's few lines
            if extra is not None and below < lay.header_h - 2 * c.line_mm():
                c.block(x, lay.header_y + below, w, lay.header_h - below, extra)
                below += (len(extra.lines) + 1.5) * c.line_mm()
        paint_sheet(c, lay.sheet_x, lay.sheet_y, report, page)
    elif ai is not None and index == 1:
        result = ai.result
        tokens, e = result.analysis.tokens, result.explanation
        scores = beat_scores(tokens, e.beats, None, result.offset_s, True, "attribution")
        (x1, w1), (x2, w2), (x3, w3) = lay.columns((0.4, 0.3, 0.3))
        legend_h = 6.5
        c.block(x1, lay.header_y, w1, lay.header_h - legend_h, ai.explained)
        _legend(c, x1, lay.header_y + lay.header_h - legend_h, w1, scores)
        _bars(c, x2, lay.header_y, w2, lay.header_h, "Leads (share of |attribution|)", ai.leads)
        _bars(c, x3, lay.header_y, w3, lay.header_h, "Territories", ai.territories)
        paint_sheet(c, lay.sheet_x, lay.sheet_y, report, page, scores)
    else:
        paint_sheet(c, lay.sheet_x, lay.sheet_y, report, page)
    footer_y = lay.sheet_y + page.height + 1.0
    c.text(lay.left, footer_y, width * 0.85, report.page_footer(page), pt=7.0, bold=True)
    c.text(
        lay.left + width * 0.85,
        footer_y,
        width * 0.15,
        f"Page {index + 1} of {report.n_pages}",
        pt=7.0,
        right=True,
    )
    stamp = report.stamp()
    if index == report.n_pages - 1 and report.omitted:
        stamp = f"{report.omitted}   {stamp}"
    c.text(lay.left, footer_y + c.line_mm(7.0), width, stamp)


def pdf_bytes(report: Report, paper: str) -> bytes:
    """The whole report as a PDF (vector: grid and traces stay sharp at any zoom)."""
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buf)
    writer.setResolution(PDF_DPI)
    layout = QtGui.QPageLayout(
        QtGui.QPageSize(PAPERS[paper]), QtGui.QPageLayout.Orientation.Landscape, QtCore.QMarginsF(0, 0, 0, 0)
    )
    writer.setPageLayout(layout)
    writer.setTitle(f"ECG report: {report.rec.name}")
    writer.setCreator("ecgviewer")
    painter = QtGui.QPainter()
    if not painter.begin(writer):
        raise EcgError("cannot start the PDF writer")
    try:
        canvas = Canvas(painter, PDF_DPI / MM_PER_INCH)
        for i in range(report.n_pages):
            if i and not writer.newPage():
                raise EcgError("the PDF writer refused a new page")
            paint_page(canvas, report, i, paper)
    finally:
        painter.end()
    buf.close()
    return bytes(buf.data().data())


def page_image(report: Report, index: int, paper: str, dpi: float) -> QtGui.QImage:
    """One page as an image at ``dpi`` (its physical size is recorded in the image)."""
    w, h = paper_mm(paper)
    k = dpi / MM_PER_INCH
    image = QtGui.QImage(round(w * k), round(h * k), QtGui.QImage.Format.Format_RGB32)
    dots_per_m = round(dpi / 0.0254)
    image.setDotsPerMeterX(dots_per_m)
    image.setDotsPerMeterY(dots_per_m)
    image.fill(QtGui.QColor("#ffffff"))
    painter = QtGui.QPainter(image)
    try:
        paint_page(Canvas(painter, k), report, index, paper)
    finally:
        painter.end()
    return image


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
        out = png_paths(path, report.n_pages)
        for i, p in enumerate(out):
            save_image(page_image(report, i, paper, dpi), p)
        return out
    raise EcgError(f"{path.name}: a report is written as .pdf or .png")
