"""The serial comparison tab: the two ECGs' median beats overlaid per lead (the earlier one under
ours, R on R, in its own ink) across the top, where they are read; under them this ECG and the
same patient's earlier one on one paper scale (one above the other, or side by side where that
draws them larger), and what changed: our measurements and the model's probabilities, earlier,
now and the difference. Each part says the scale it is drawn at. The pairing and the deltas come
from ``library.serial``; this module only shows them."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

from ecgviewer.analysis import Findings
from ecgviewer.gui.median_view import EARLIER_INK, MedianView
from ecgviewer.gui.paper import PaperView
from ecgviewer.library import serial
from ecgviewer.measure.intervals import DEFAULT_QTC
from ecgviewer.measurements import MEASUREMENTS
from ecgviewer.recording import Recording
from ecgviewer.render.options import ViewOptions

MAX_FINDINGS = 8  # the findings whose probability changed most
RIGHT = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
CELL_PADDING = 8  # px a table cell adds around its text (the style's margins, about)
# The median beats take the height their width lets them use (up to true scale), but at most
# MEDIAN_SHARE of the tab, unless that would draw them under MIN_MEDIAN_ZOOM of true scale: the
# overlaid complexes are what a serial comparison reads; the two pages under them are its context.
MEDIAN_SHARE = 0.5
MIN_MEDIAN_ZOOM = 0.5


@dataclass(frozen=True)
class Side:
    """One of the two ECGs: the recording, what the pipeline found on it, when it was taken."""

    rec: Recording
    found: Findings
    acquired: str


def measured(found: Findings) -> dict[str, float]:
    """The vocabulary's measurements of ``found`` (QTc by the default formula)."""
    m = found.measurements
    if m is None:
        return {}
    out = {}
    for key in MEASUREMENTS:
        v = m.values.get(f"qtc_{DEFAULT_QTC.lower()}" if key == "qtc" else key)
        if v is not None and v.value is not None:
            out[key] = float(v.value)
    return out


def probabilities(found: Findings) -> tuple[dict[str, float], list[str]]:
    """Each class's probability, and the classes the model surfaces (superclasses first)."""
    preds = found.predictions
    if preds is None:
        return {}, []
    probs: dict[str, float] = {}
    surfaced: list[str] = []
    for classes in preds.tasks.values():
        for c in classes:
            if c.code not in probs:
                probs[c.code] = float(c.probability)
                if c.surfaced:
                    surfaced.append(c.code)
    return probs, surfaced


def _number(v: float | None, signed: bool = False) -> str:
    return "" if v is None else (f"{v:+.0f}" if signed else f"{v:.0f}")


def _values(d: serial.Delta) -> tuple[str, str, str]:
    return _number(d.before), _number(d.after), _number(d.change, True)


class _Splitter(QtWidgets.QSplitter):
    """A splitter that says when it has been resized (after laying out its children)."""

    resized = QtCore.Signal()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class _Room(QtWidgets.QWidget):
    """A container that says when it has been resized."""

    resized = QtCore.Signal()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class SerialView(QtWidgets.QWidget):
    """Two ECGs of one patient, compared."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.this_label = QtWidgets.QLabel()
        self.earlier_label = QtWidgets.QLabel()
        self.earlier_label.setStyleSheet(f"color: {EARLIER_INK}")
        for label in (self.this_label, self.earlier_label):  # wrapped: a narrow centre shrinks the pages
            label.setWordWrap(True)
        self.this_paper, self.earlier_paper = PaperView(), PaperView()
        self.median = MedianView()
        self.median.calipers = False  # edits belong to the Median beats tab; here two ECGs are read
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["", "earlier", "this", "change"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.papers = papers = _Room()
        self.arrange = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.Direction.TopToBottom, papers)
        self.arrange.setContentsMargins(0, 0, 0, 0)
        for label, paper in ((self.this_label, self.this_paper), (self.earlier_label, self.earlier_paper)):
            column = QtWidgets.QVBoxLayout()
            column.addWidget(label, 0)
            column.addWidget(paper, 1)
            self.arrange.addLayout(column, 1)
        papers.resized.connect(self._arrange_pages)
        self.lower = lower = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        lower.addWidget(papers)
        lower.addWidget(self.table)
        lower.setChildrenCollapsible(False)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        self.split = split = _Splitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.median)
        split.addWidget(lower)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(1, 1)  # a taller tab grows the pages; the beats are sized below
        self._user_split = False  # the reader dragged the splitter: their heights are kept
        split.splitterMoved.connect(self._split_moved)
        split.resized.connect(self._share_height)  # the tab shown, the window resized: share again
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)
        self.pair: tuple[Side, Side] | None = None
        for paper in (self.this_paper, self.earlier_paper):
            paper.vb.sigResized.connect(self._same_scale)
            paper.zoomChanged.connect(self._say_scales)

    def set_view(self, options: ViewOptions, px_per_mm: float) -> None:
        """The window's paper settings, for both ECGs and their median beats."""
        for paper in (self.this_paper, self.earlier_paper):
            paper.set_px_per_mm(px_per_mm)
            paper.set_options(options)
        self.median.set_view(options, px_per_mm)
        self._share_height()
        self._same_scale()

    def set_pair(self, this: Side, earlier: Side) -> None:
        self.pair = (this, earlier)
        self.this_paper.set_recording(this.rec)
        self.earlier_paper.set_recording(earlier.rec)
        self.median.set_earlier(earlier.found.measurements)
        self.median.set_measurements(this.found.measurements)
        self._fill_table(this.found, earlier.found)
        self._share_height()
        self._arrange_pages()
        self._same_scale()

    def _split_moved(self, *_args: object) -> None:
        self._user_split = True

    def _share_height(self) -> None:
        """The median beats' height (``MEDIAN_SHARE``, ``MIN_MEDIAN_ZOOM``), until the reader
        moves the splitter; the pages and the deltas take the rest."""
        m = self.median
        total = sum(self.split.sizes())
        if self._user_split or m.page is None or total <= 0:
            return
        chrome = 2 * m.frameWidth()  # the view's frame around its page (its scene's size lags)
        can = m.height_for(m.zoom_for(self.split.width() - chrome, float("inf"))) + chrome
        floor = m.height_for(MIN_MEDIAN_ZOOM) + chrome
        h = min(can, max(floor, MEDIAN_SHARE * total), total - self.lower.minimumSizeHint().height())
        self.split.setSizes([round(h), total - round(h)])

    def _arrange_pages(self) -> None:
        """This ECG above the earlier one, or beside it where that draws both pages larger (a
        wide, low room under the median beats)."""
        page = self.this_paper.page or self.earlier_paper.page
        if page is None or self.papers.width() <= 0 or self.papers.height() <= 0:
            return
        labels = (self.this_label, self.earlier_label)
        gap = self.arrange.spacing()

        def fit(width: float, height: float) -> float:  # a page's zoom in one label-and-page column
            text = max(label.heightForWidth(int(width)) for label in labels)
            return min(width / (page.width + 4), (height - text - gap) / (page.height + 4))  # as fit_zoom

        w, h = self.papers.width(), self.papers.height()
        beside = fit((w - gap) / 2, h) > fit(w, (h - gap) / 2)
        direction = QtWidgets.QBoxLayout.Direction
        self.arrange.setDirection(direction.LeftToRight if beside else direction.TopToBottom)
        text = max(label.heightForWidth(int((w - gap) / 2)) for label in labels) if beside else 0
        for label in labels:  # side by side, the pages level however their labels wrap
            label.setMinimumHeight(text)

    def _same_scale(self, *_args: object) -> None:
        """Both ECGs at one magnification: true scale when both pages fit, else the smaller fit."""
        fits = [z for z in (self.this_paper.fit_zoom(), self.earlier_paper.fit_zoom()) if z is not None]
        if fits:
            zoom = min(1.0, *fits)
            for paper in (self.this_paper, self.earlier_paper):
                if abs(paper.zoom - zoom) > 1e-6:
                    paper.set_zoom(zoom)
                paper.show_top_left()
        self._say_scales()

    def _say_scales(self, *_args: object) -> None:
        """Each page's label says the scale it is drawn at, as the median beats' footer does."""
        if self.pair is None:
            return
        this, earlier = self.pair
        for label, paper, text in (
            (self.this_label, self.this_paper, f"This ECG: {this.acquired} \u00b7 {this.rec.name}"),
            (self.earlier_label, self.earlier_paper,
             f"Earlier ECG: {earlier.acquired} \u00b7 {earlier.rec.name} (blue in the median beats)"),
        ):  # fmt: skip
            o = paper.options
            scale = "true scale" if abs(paper.zoom - 1) < 1e-6 else f"shown at \u00d7{paper.zoom:.2f}"
            label.setText(f"{text} \u00b7 {o.speed:g} mm/s, {o.gain:g} mm/mV ({scale})")

    def _fill_table(self, this: Findings, earlier: Findings) -> None:
        rows: list[tuple[str, str, str, str]] = []
        for d in serial.measurement_deltas(measured(earlier), measured(this)):
            rows.append((f"{d.label} ({d.unit})", *_values(d)))
        before, shown_before = probabilities(earlier)
        after, shown_after = probabilities(this)
        codes = list(dict.fromkeys([*shown_after, *shown_before]))
        deltas = serial.finding_deltas(before, after, codes)[:MAX_FINDINGS]
        if deltas:
            rows.append(("Model findings (research use; probability, %)", "", "", ""))
            rows += [(d.label, *_values(d)) for d in deltas]
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(RIGHT)
                self.table.setItem(r, c, item)
        self._keep_table_readable(rows)

    def _keep_table_readable(self, rows: list[tuple[str, str, str, str]]) -> None:
        """The deltas keep the width their table needs (the longest measurement name and the three
        value columns), and the pages at least as much: a narrow centre (both docks open on a small
        screen) narrows the docks first, then shares what is left."""
        t = self.table
        names = max((t.fontMetrics().horizontalAdvance(r[0]) for r in rows if r[1]), default=0)
        values = sum(max(t.sizeHintForColumn(c), t.horizontalHeader().sectionSizeHint(c)) for c in (1, 2, 3))
        scroll = t.verticalScrollBar().sizeHint().width()
        need = names + values + scroll + 2 * t.frameWidth() + 3 * CELL_PADDING
        self.table.setMinimumWidth(need)
        self.papers.setMinimumWidth(need)
