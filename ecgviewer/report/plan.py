"""Where everything on the report's pages goes (mm, y down from the paper's top-left corner): the
sheet centred above the footer, the title at the top, the header's columns between; the text that
page one's header (or the attribution column) cannot hold goes on over pages of text right after
it, each cut column saying on which page it continues. Nothing is painted here (``pages`` paints
the plan), so the tests can check where every line went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from PySide6 import QtCore, QtGui

from ecgviewer import NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.render.layout import Page
from ecgviewer.render.options import ViewOptions
from ecgviewer.report.content import Block, Report
from ecgviewer.report.flow import HANG_MM, Frame, Pending, Text, Typesetter, bottom, queue

PAPERS = {"a4": QtGui.QPageSize.PageSizeId.A4, "letter": QtGui.QPageSize.PageSizeId.Letter}
MARGIN_MM = 6.0
FOOTER_MM = 8.0  # at least; a footer whose lines wrap takes more, the sheet moving up
MIN_HEADER_MM = 30.0
TITLE_PT = 9.0
TITLE_GAP_MM = 0.7
CAPTION_PT = 7.0
GAP_MM = 3.0
HEADER_COLUMNS = (0.24, 0.25, 0.25, 0.26)  # recording, measurements, AI findings, attribution
ATTRIBUTION_COLUMNS = (0.4, 0.3, 0.3)  # attribution and legend, leads, territories
TEXT_COLUMNS = (0.25, 0.25, 0.25, 0.25)  # a page of text continued
LEGEND_MM = 6.5
LEADS_TITLE, TERRITORIES_TITLE = "Leads (share of |attribution|)", "Territories"
PAGE_NUMBER_SHARE = 0.15  # of the footer's first line, at its right


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


Box = tuple[Frame, tuple[Text, ...]]  # a frame and the lines laid in it


@dataclass(frozen=True)
class Sheet:
    """The ECG on a page and where it lies; ``shaded``: by the attribution, with its bars."""

    page: Page
    box: Frame
    shaded: bool = False


@dataclass(frozen=True)
class PagePlan:
    """One page with its text laid out, each line with the frame it lies in (title, header
    columns, footer), and the sheet painted under it (None on a page of text continued)."""

    boxes: tuple[Box, ...]  # the title, the header's columns
    sheet: Sheet | None = None
    extras: tuple[Frame, ...] = ()  # the attribution page's legend, lead bars and territory bars
    footer: tuple[Box, ...] = ()  # the caption, the page number and the stamp

    def texts(self) -> list[Text]:
        return [t for _, lines in (*self.boxes, *self.footer) for t in lines]


class Layout:
    """Where the parts of every page go on the paper (mm): the sheet centred across the paper above
    a footer tall enough for its wrapped lines, the title at the top, text columns between."""

    def __init__(self, report: Report, paper: str, ts: Typesetter) -> None:
        self.ts = ts
        self.width, self.height = paper_mm(paper)
        first = report.pages[0]
        check_fits(first, paper, report.options)
        self.left, self.right = (self.width - first.width) / 2, (self.width + first.width) / 2
        stamp = f"{report.omitted}   {report.stamp()}" if report.omitted else report.stamp()
        need = 1.0 + bottom(self.footer(report.page_footer(first), stamp, 0.0))
        self.bottom = self.height - MARGIN_MM - max(FOOTER_MM, need)  # the sheet's, and text columns'
        self.sheet = Frame(self.left, self.bottom - first.height, first.width, first.height)

    def columns(self, fractions: Sequence[float], top: float, bottom: float) -> list[Frame]:
        """Columns splitting the sheet's width by ``fractions``, from ``top`` to ``bottom`` mm."""
        room = self.right - self.left - GAP_MM * (len(fractions) - 1)
        out, x = [], self.left
        for f in fractions:
            out.append(Frame(x, top, room * f, bottom - top))
            x += room * f + GAP_MM
        return out

    def title(self, text: str) -> Box:
        """The title line (what the page shows, the recording, the patient when asked for) at the
        left, the notice at the right; the title wraps in what the notice leaves."""
        ts, width = self.ts, self.right - self.left
        notice = ts.wrap(NOTICE, width * 0.4, TITLE_PT, True)
        room = width - max(t.width for t in notice) - 2 * GAP_MM
        lines = [t.moved(self.left, MARGIN_MM) for t in ts.wrap(text, room, TITLE_PT, True, HANG_MM)]
        lines += [t.moved(self.right - t.width, MARGIN_MM) for t in notice]
        return Frame(self.left, MARGIN_MM, width, bottom(lines) - MARGIN_MM), tuple(lines)

    def footer(self, caption: str, stamp: str, top: float) -> list[Text]:
        """The caption (beside the page number) over the stamp, wrapped, from ``top`` mm down."""
        ts, width = self.ts, self.right - self.left
        lines = ts.wrap(caption, width * (1 - PAGE_NUMBER_SHARE), CAPTION_PT, True, HANG_MM)
        lines += [t.moved(0.0, bottom(lines)) for t in ts.wrap(stamp, width, hang=HANG_MM)]
        return [t.moved(self.left, top) for t in lines]

    def footer_box(self, caption: str, stamp: str, number: str) -> Box:
        """The footer under the sheet, "Page k of n" at the right of its first line."""
        top = self.bottom + 1.0
        lines = [
            *self.footer(caption, stamp, top),
            self.ts.line(self.right, top, number, CAPTION_PT, right=True),
        ]
        return Frame(self.left, top, self.right - self.left, self.height - MARGIN_MM - top), tuple(lines)


class _Planner:
    """Lays the pages out in order. What a header column cannot hold goes on in the header's free
    columns, then over pages of text right after the page; each cut column ends saying where."""

    def __init__(self, report: Report, paper: str, ts: Typesetter) -> None:
        self.report, self.ts, self.lay = report, ts, Layout(report, paper, ts)
        rec = report.rec
        self.recorded = f"{sum(lead not in rec.derived for lead in rec.leads)}-lead ECG"  # not derived
        self.pages: list[tuple[PagePlan, str]] = []  # each with its footer's caption

    def title(self, text: str) -> tuple[Box, float]:
        """The page's title box, and where the text under it may start (mm)."""
        box = self.lay.title(f"{text}   {self.report.identity()}")
        return box, box[0].y + box[0].height + TITLE_GAP_MM

    def marker(self, frame: Frame, lines: list[Text], y: float | None, where: str) -> Box:
        """A column's box, with its last line saying where its text goes on when it was cut."""
        if y is not None:
            lines = [*lines, self.ts.line(frame.x, y, f"(continued {where})")]
        return frame, tuple(lines)

    def spread(
        self, frames: Sequence[Frame], left: list[Pending], page: int
    ) -> tuple[list[Box], list[Pending]]:
        """``left`` flowed through ``frames`` one after the other (a column that goes on in the
        next starts with the block's title marked continued); the last one goes on on ``page``."""
        boxes = []
        for i, frame in enumerate(frames):
            lines, left, cut = self.ts.fill(frame, left, reserve=i == len(frames) - 1)
            boxes.append(self.marker(frame, lines, cut, f"on page {page}"))
        return boxes, left

    def add(
        self,
        title: Box,
        sheet: Sheet,
        frames: Sequence[Frame] = (),
        streams: Sequence[Sequence[Block | None]] = (),
        extras: tuple[Frame, ...] = (),
    ) -> None:
        """A page with an ECG sheet, its first header columns filled from ``streams``, one each;
        what they cannot hold goes on in the columns left over, then on the next page."""
        number = len(self.pages) + 1
        cuts, left = [], list[Pending]()
        for frame, blocks in zip(frames, streams, strict=False):
            lines, rest, y = self.ts.fill(frame, queue(blocks), reserve=True)
            cuts.append((frame, lines, y, rest[0] if rest else None))
            left += rest
        spare, left_after = self.spread(frames[len(streams) :], left, number + 1)
        boxes = [title]
        for frame, lines, y, first_left in cuts:  # untouched by the spare columns: on the next page
            where = f"on page {number + 1}" if first_left in left_after else "at right"
            boxes.append(self.marker(frame, lines, y, where))
        self.pages.append((PagePlan((*boxes, *spare), sheet, extras), self.report.page_footer(sheet.page)))
        while left_after:
            left_after = self.text_page(left_after, number)

    def text_page(self, left: list[Pending], origin: int) -> list[Pending]:
        """A page of the text from page ``origin`` that did not fit there, column after column."""
        title, top = self.title(f"{self.recorded}: text of page {origin} continued")
        frames = self.lay.columns(TEXT_COLUMNS, top, self.lay.bottom)
        boxes, rest = self.spread(frames, left, len(self.pages) + 2)
        if rest == left:  # nothing went on: a column cannot hold a title and one line
            raise EcgError("the report's text does not fit an empty page")
        self.pages.append((PagePlan((title, *boxes)), f"Text of page {origin} continued"))
        return rest

    def numbered(self) -> list[PagePlan]:
        """The pages with their footers: the caption, "Page k of n", the stamp (and on the last
        page what a long recording's report leaves out)."""
        n, report, out = len(self.pages), self.report, []
        for i, (page, caption) in enumerate(self.pages):
            last = report.omitted and i == n - 1
            stamp = f"{report.omitted}   {report.stamp()}" if last else report.stamp()
            footer = self.lay.footer_box(caption, stamp, f"Page {i + 1} of {n}")
            out.append(replace(page, footer=(footer,)))
        return out


def bars_frame(ts: Typesetter, frame: Frame, title: str, n: int) -> Frame:
    """The top of ``frame`` that ``n`` bars take under their title, a line each (all of it, the bars
    closer together, when they are more than its lines)."""
    need = bottom(ts.wrap(title, frame.width, bold=True, hang=HANG_MM)) + n * ts.line_mm()
    return replace(frame, height=min(frame.height, need))


def plan(report: Report, paper: str, ts: Typesetter) -> list[PagePlan]:
    """Every page of ``report`` with its text placed for the device ``ts`` measures on."""
    p = _Planner(report, paper, ts)
    lay, ai, first = p.lay, report.ai, report.pages[0]
    title, top = p.title(p.recorded)
    columns = lay.columns(HEADER_COLUMNS, top, lay.sheet.y - 1.0)
    # the interpretation first, as on a cart's printout; the beat list's counts and events before
    # the statements not made (a pause outranks a QTc withheld); what stands behind it may go overleaf
    first_column = (report.interpretation, report.computer, report.blocks[0], report.beats,
                    report.statements, report.evidence)  # fmt: skip
    streams = [first_column, *((b,) for b in report.blocks[1:])]
    p.add(title, Sheet(first, lay.sheet), columns, streams)
    if ai is not None:
        title, top = p.title(f"Attribution of {ai.target}")
        text, leads, territories = lay.columns(ATTRIBUTION_COLUMNS, top, lay.sheet.y - 1.0)
        explained = replace(text, height=text.height - LEGEND_MM)
        legend = replace(text, y=explained.y + explained.height, height=LEGEND_MM)
        bars = bars_frame(ts, territories, TERRITORIES_TITLE, len(ai.territories))
        under = replace(
            territories, y=bars.y + bars.height + GAP_MM, height=territories.height - bars.height - GAP_MM
        )
        spare = [under] if under.height >= 3 * ts.line_mm() else []  # the attribution's words go on there
        shaded = Sheet(first, lay.sheet, shaded=True)
        p.add(title, shaded, [explained, *spare], [(ai.explained, ai.unreported)], (legend, leads, bars))
    for page in report.pages[1:]:
        box = replace(lay.sheet, width=page.width, height=page.height)
        p.add(p.title(f"{p.recorded}, continued")[0], Sheet(page, box))
    return p.numbered()
