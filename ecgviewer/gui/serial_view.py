"""The serial comparison tab: this ECG above the same patient's earlier one on one paper scale,
their median beats overlaid per lead (the earlier one under ours, R on R, in its own ink), and
what changed: our measurements and the model's probabilities, earlier, now and the difference.
The pairing and the deltas come from ``library.serial``; this module only shows them."""

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
        self.papers = papers = QtWidgets.QWidget()
        left = QtWidgets.QVBoxLayout(papers)
        left.setContentsMargins(0, 0, 0, 0)
        for widget, stretch in ((self.this_label, 0), (self.this_paper, 1), (self.earlier_label, 0),
                                (self.earlier_paper, 1)):  # fmt: skip
            left.addWidget(widget, stretch)
        self.side = side = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        side.addWidget(self.median)
        side.addWidget(self.table)
        side.setStretchFactor(0, 3)
        side.setStretchFactor(1, 2)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(papers)
        split.addWidget(side)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)
        self.pair: tuple[Side, Side] | None = None
        for paper in (self.this_paper, self.earlier_paper):
            paper.vb.sigResized.connect(self._same_scale)

    def set_view(self, options: ViewOptions, px_per_mm: float) -> None:
        """The window's paper settings, for both ECGs and their median beats."""
        for paper in (self.this_paper, self.earlier_paper):
            paper.set_px_per_mm(px_per_mm)
            paper.set_options(options)
        self.median.set_view(options, px_per_mm)
        self._same_scale()

    def set_pair(self, this: Side, earlier: Side) -> None:
        self.pair = (this, earlier)
        self.this_label.setText(f"This ECG: {this.acquired} \u00b7 {this.rec.name}")
        self.earlier_label.setText(
            f"Earlier ECG: {earlier.acquired} \u00b7 {earlier.rec.name} (blue in the median beats)"
        )
        self.this_paper.set_recording(this.rec)
        self.earlier_paper.set_recording(earlier.rec)
        self.median.set_earlier(earlier.found.measurements)
        self.median.set_measurements(this.found.measurements)
        self._fill_table(this.found, earlier.found)
        self._same_scale()

    def _same_scale(self, *_args: object) -> None:
        """Both ECGs at one magnification: true scale when both pages fit, else the smaller fit."""
        fits = [z for z in (self.this_paper.fit_zoom(), self.earlier_paper.fit_zoom()) if z is not None]
        if fits:
            zoom = min(1.0, *fits)
            for paper in (self.this_paper, self.earlier_paper):
                if abs(paper.zoom - zoom) > 1e-6:
                    paper.set_zoom(zoom)
                paper.show_top_left()

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
        """The median beats and deltas keep the width their table needs (the longest measurement
        name and the three value columns), and the pages at least as much: a narrow centre (both
        docks open on a small screen) narrows the docks first, then shares what is left."""
        t = self.table
        names = max((t.fontMetrics().horizontalAdvance(r[0]) for r in rows if r[1]), default=0)
        values = sum(max(t.sizeHintForColumn(c), t.horizontalHeader().sectionSizeHint(c)) for c in (1, 2, 3))
        scroll = t.verticalScrollBar().sizeHint().width()
        need = names + values + scroll + 2 * t.frameWidth() + 3 * CELL_PADDING
        self.side.setMinimumWidth(need)
        self.papers.setMinimumWidth(need)
