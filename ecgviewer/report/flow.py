"""Text that is never cut: every line wrapped to its column by Qt's own text layout, and blocks of
lines flowed through frames (page one's header columns, then the columns of continuation pages), so
a long list goes on over the page instead of ending in an ellipsis. Qt breaks the lines and measures
them on the device the report is painted on; only the pagination is ours.

Geometry is in paper millimetres, y down from the paper's top-left corner, as in ``pages``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from PySide6 import QtGui

from ecgviewer.render.options import MM_PER_INCH
from ecgviewer.report.content import Block, Line, Row

FONT_PT = 6.5
HANG_MM = 2.0  # continuation lines of a wrapped item start this far in: each item stands out
LEVEL_MM = 2.5  # a finer class under the superclasses
CELL_GAP_MM = 1.5  # between a row's name and its numbers, and between the numbers
BLOCK_GAP = 0.5  # lines of space between two blocks in one column
EPS_MM = 1e-6


@dataclass(frozen=True)
class Text:
    """One line as drawn: top-left at (x, y) mm, ``width`` mm wide as Qt measures it."""

    x: float
    y: float
    width: float
    height: float
    text: str
    pt: float = FONT_PT
    bold: bool = False

    def moved(self, dx: float, dy: float) -> Text:
        return replace(self, x=self.x + dx, y=self.y + dy)


@dataclass(frozen=True)
class Frame:
    """A box text is laid into: a header column, a page's title or its footer."""

    x: float
    y: float
    width: float
    height: float

    def holds(self, t: Text) -> bool:
        """Whether ``t`` lies wholly inside (the tests check every line with it)."""
        return (
            self.x - EPS_MM <= t.x
            and t.x + t.width <= self.x + self.width + EPS_MM
            and self.y - EPS_MM <= t.y
            and t.y + t.height <= self.y + self.height + EPS_MM
        )


@dataclass(frozen=True)
class Pending:
    """What of a block is still to be laid: its lines from ``start``, under its title marked as
    continued once part of it is on paper; ``head`` stands for line ``start`` when only the
    beginning of that line fitted (a line longer than a whole column)."""

    block: Block
    start: int = 0
    continued: bool = False
    head: Line | None = None

    def rest(self) -> list[Line]:
        lines = list(self.block.lines[self.start :])
        if self.head is not None and lines:
            lines[0] = self.head
        return lines


def queue(blocks: Sequence[Block | None]) -> list[Pending]:
    """The blocks to flow, in order (an absent block is skipped)."""
    return [Pending(b) for b in blocks if b is not None]


def bottom(lines: Sequence[Text]) -> float:
    return max((t.y + t.height for t in lines), default=0.0)


def one_line(text: str) -> str:
    """A device's statement may carry its own line breaks: here the column decides them."""
    return re.sub(r"[\r\n\t]+", " ", text)


class Typesetter:
    """Qt's line breaking and widths on the device the report is painted on (the PDF writer, or an
    image at its dpi), so what is measured is what is drawn."""

    def __init__(self, device: QtGui.QPaintDevice, px_per_mm: float) -> None:
        self.device = device
        self.px_per_mm = px_per_mm
        self._cells: dict[Block, list[float]] = {}

    def font(self, pt: float = FONT_PT, bold: bool = False) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPointSizeF(pt)
        font.setBold(bold)
        return font

    def line_mm(self, pt: float = FONT_PT) -> float:
        return pt * 1.2 / 72 * MM_PER_INCH

    def advance(self, text: str, pt: float = FONT_PT, bold: bool = False) -> float:
        metrics = QtGui.QFontMetricsF(self.font(pt, bold), self.device)
        return metrics.horizontalAdvance(text) / self.px_per_mm

    def line(
        self, x: float, y: float, text: str, pt: float = FONT_PT, bold: bool = False, right: bool = False
    ) -> Text:
        """One short line (a label, a number) at (x, y); with ``right``, x is where it ends."""
        width = self.advance(text, pt, bold)
        return Text(x - width if right else x, y, width, self.line_mm(pt), text, pt, bold)

    def _breaks(self, text: str, width: float, pt: float, bold: bool, hang: float) -> list[tuple[int, int]]:
        """Where Qt breaks ``text`` into lines ``width`` mm wide (later ones ``hang`` mm narrower):
        (start, end) of each, at word boundaries, or inside a word longer than a line."""
        k = self.px_per_mm
        layout = QtGui.QTextLayout(text, self.font(pt, bold), self.device)
        option = QtGui.QTextOption()
        option.setWrapMode(QtGui.QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        out: list[tuple[int, int]] = []
        layout.beginLayout()
        while (line := layout.createLine()).isValid():
            line.setLineWidth(max(width - (hang if out else 0.0), 1.0) * k)
            out.append((line.textStart(), line.textStart() + line.textLength()))
        layout.endLayout()
        return out or [(0, 0)]

    def wrap(
        self, text: str, width: float, pt: float = FONT_PT, bold: bool = False, hang: float = 0.0
    ) -> list[Text]:
        """``text`` in lines of at most ``width`` mm, continuation lines ``hang`` mm in; placed
        from (0, 0) down."""
        text = one_line(text)
        step = self.line_mm(pt)
        out = []
        for i, (a, b) in enumerate(self._breaks(text, width, pt, bold, hang)):
            piece = text[a:b].rstrip()
            out.append(
                Text(hang if i else 0.0, i * step, self.advance(piece, pt, bold), step, piece, pt, bold)
            )
        return out

    def cells(self, block: Block) -> list[float]:
        """Each cell column's width in ``block``: its widest cell, so the numbers line up from the
        first row to the last, over the page break too."""
        if block not in self._cells:
            rows = [r for r in block.lines if isinstance(r, Row)]
            n = max((len(r.cells) for r in rows), default=0)
            self._cells[block] = [
                max((self.advance(r.cells[j]) for r in rows if j < len(r.cells)), default=0.0)
                for j in range(n)
            ]
        return self._cells[block]

    def _name_room(self, row: Row, width: float, cells: Sequence[float]) -> tuple[float, float]:
        """Where a row's name starts and how wide it may be: what the level and the cells leave."""
        indent = LEVEL_MM * row.level
        return indent, max(width - indent - sum(w + CELL_GAP_MM for w in cells), width / 3)

    def item(self, line: Line, width: float, cells: Sequence[float]) -> list[Text]:
        """One line of a block, laid for a column ``width`` mm wide: a string wraps with a hanging
        indent; a row's name wraps in what its cells leave, and the cells sit on its first line."""
        if isinstance(line, str):
            return self.wrap(line, width, hang=HANG_MM)
        indent, room = self._name_room(line, width, cells)
        out = [t.moved(indent, 0.0) for t in self.wrap(line.name, room, hang=HANG_MM)]
        x = indent + room + CELL_GAP_MM
        for text, w in zip(line.cells, cells, strict=False):
            if text:
                out.append(self.line(x, 0.0, text))
            x += w + CELL_GAP_MM
        return out

    def split(
        self, line: Line, width: float, cells: Sequence[float], room: float
    ) -> tuple[Line, Line] | None:
        """A line too long for a whole column: the part that fits in ``room`` mm of height, and the
        rest (a row's rest carries no numbers: they are printed with its first part); None when
        not even its first line fits."""
        if isinstance(line, str):
            text, column = line, width
        else:
            text, column = line.name, self._name_room(line, width, cells)[1]
        text = one_line(text)
        spans = self._breaks(text, column, FONT_PT, False, HANG_MM)
        n = min(len(spans) - 1, int((room + EPS_MM) // self.line_mm()))
        if n < 1:
            return None
        cut = spans[n][0]
        if isinstance(line, str):
            return text[:cut], text[cut:]
        return replace(line, name=text[:cut]), Row(text[cut:], ("",) * len(line.cells), line.level)

    def fill(
        self, frame: Frame, pending: Sequence[Pending], reserve: bool = False
    ) -> tuple[list[Text], list[Pending], float | None]:
        """Lay ``pending`` into ``frame`` item after item; returns the lines placed, what is left
        and, with ``reserve`` and something left, the top of the frame's last line, kept free to
        say where the text goes on."""
        placed, left = self._fill(frame, pending, frame.height)
        if not (left and reserve):
            return placed, left, None
        step = self.line_mm()
        placed, left = self._fill(frame, pending, frame.height - step)
        return placed, left, frame.y + frame.height - step

    def _fill(
        self, frame: Frame, pending: Sequence[Pending], height: float
    ) -> tuple[list[Text], list[Pending]]:
        """``fill`` within ``height`` mm: an item is kept whole and a title stays with the item
        under it; an empty frame takes the beginning of an item taller than itself."""
        step = self.line_mm()
        out: list[Text] = []
        left = list(pending)
        while left:
            part = left[0]
            top = bottom(out) + (BLOCK_GAP * step if out else 0.0)
            title = part.block.title + (" (continued)" if part.continued else "")
            here = [t.moved(0.0, top) for t in self.wrap(title, frame.width, bold=True)]
            rest, cells, done = part.rest(), self.cells(part.block), 0
            for line in rest:
                y = bottom(here)
                item = self.item(line, frame.width, cells)
                if y + bottom(item) > height + EPS_MM:
                    break
                here += [t.moved(0.0, y) for t in item]
                done += 1
            if not rest and bottom(here) > height + EPS_MM:
                break
            if done == len(rest):
                out += here
                left.pop(0)
                continue
            if done == 0 and not out:  # one line longer than the whole frame: its beginning
                parts = self.split(rest[0], frame.width, cells, height - bottom(here))
                if parts is not None:
                    out += here + [
                        t.moved(0.0, bottom(here)) for t in self.item(parts[0], frame.width, cells)
                    ]
                    left[0] = replace(part, continued=True, head=parts[1])
                break
            if done:
                out += here
                left[0] = Pending(part.block, part.start + done, continued=True)
            break
        return [t.moved(frame.x, frame.y) for t in out], left
