"""Beat templates as Holter software shows them: one box per group of beats of one QRS shape
(``measure.templates``), its median drawn over a few of its beats, with its kind and count; the
reader picks a box and relabels all its beats at once (N, S, V, P for paced or A for artefact), and
the beat list, its counts and its events follow. Every box has the same millivolt scale, with a 1 mV
bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.measure import templates as T
from ecgviewer.measure.rhythm import SHAPE_MS

if TYPE_CHECKING:
    from ecgviewer.measure.rhythm import BeatList

KEYS = {label: label[0].upper() for label in T.RELABELS}  # N, S, V, P, A: each its own key
MEMBERS_DRAWN = 12  # faint beats behind each median: how alike the group is
BOX_PX = 190  # a box's least width: the columns follow from the view's width
BOX_HEIGHT_PX = 120  # a box's least height (title and traces): more rows than fit scroll
GAP = 0.15  # between leads, as a share of one lead's window
INK = {"normal": "#202020", "supraventricular": "#1f5fbf", "ventricular": "#c0392b", "paced": "#6a3d9a",
       "unreadable": "#7f7f7f"}  # fmt: skip
SELECTED = "#fff2b3"


class TemplatesView(QtWidgets.QWidget):
    """The templates of the beat list on screen; ``relabelRequested(members, label)`` asks the
    beat list's owner to relabel, ``jumpRequested(t)`` to show a beat on the paper."""

    relabelRequested = QtCore.Signal(object, str)
    jumpRequested = QtCore.Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.beats: BeatList | None = None
        self.groups: list[T.Template] = []
        self.selected = 0
        self.header = QtWidgets.QLabel("")
        self.header.setWordWrap(True)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        row = QtWidgets.QHBoxLayout()
        for label, key in KEYS.items():
            b = QtWidgets.QPushButton(f"{label.capitalize()} ({key})")
            left_out = " (left out of the list)" * (label == "artefact")
            b.setToolTip(f"Every beat of the chosen group becomes {label}{left_out}")
            b.clicked.connect(lambda _=False, label=label: self.relabel(label))
            row.addWidget(b)
            self.buttons[label] = b
        self.show_button = QtWidgets.QPushButton("Show a beat")
        self.show_button.setToolTip("The paper at the chosen group's next beat (Enter)")
        self.show_button.clicked.connect(self.show_next)
        row.addWidget(self.show_button)
        row.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.scroll = QtWidgets.QScrollArea()  # boxes keep a readable height; more groups scroll
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.graphics)
        bar = QtWidgets.QWidget()
        bar.setLayout(row)
        # the bar never widens the tabs it shares the window's centre with (the serial comparison's)
        bar.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(self.header)
        box.addWidget(bar)
        box.addWidget(self.scroll, 1)
        here = QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut
        for label, key in KEYS.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self, context=here)
            shortcut.activated.connect(lambda label=label: self.relabel(label))
        for key in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            QtGui.QShortcut(QtGui.QKeySequence(key), self, context=here).activated.connect(self.show_next)
        self._next: dict[int, int] = {}
        self.plots: list[pg.PlotItem] = []
        self._columns = 0
        self.set_beats(None, "The beat templates appear with the beat list (Beats).")

    def set_beats(
        self, beats: BeatList | None, note: str = "", groups: list[T.Template] | None = None
    ) -> None:
        """Show the templates of ``beats`` (``groups`` when already made off the UI thread)."""
        self.beats = beats
        self.groups = groups if groups is not None else (T.cluster(beats) if beats is not None else [])
        self.selected = min(self.selected, max(0, len(self.groups) - 1))
        self._next = {}
        if beats is None or not self.groups:
            self.header.setText(note or "No beats to group.")
        else:
            counts = beats.summary()[1]
            relabelled = f" {beats.relabelled()}." if beats.relabels else ""
            self.header.setText(
                f"{len(self.groups)} groups of {len(beats.t_s):,} beats by QRS shape ({counts}).{relabelled} "
                f"Each box: R {SHAPE_MS[0]:+.0f} to {SHAPE_MS[1]:+.0f} ms of each lead "
                f"({', '.join(beats.leads)}), "
                "the median over up to a dozen of its beats, the same mV scale in every box (bar: 1 mV). "
                f"Click a group, then {', '.join(list(KEYS.values())[:-1])} or {list(KEYS.values())[-1]} "
                "to relabel all its beats."
            )
        for b in (*self.buttons.values(), self.show_button):
            b.setEnabled(bool(self.groups))
        self._draw()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._columns != self._fit_columns():
            self._draw()

    def _fit_columns(self) -> int:
        return max(1, self.scroll.viewport().width() // BOX_PX)

    def _draw(self) -> None:
        self.graphics.clear()
        self.plots = []
        self._columns = self._fit_columns()
        rows = -(-len(self.groups) // self._columns)
        self.graphics.setMinimumHeight(rows * BOX_HEIGHT_PX)
        if self.beats is None or self.beats.shapes is None or not self.groups:
            return
        shapes = self.beats.shapes
        n_leads, n = shapes.shape[1], shapes.shape[2]
        # every beat group's median whole; noise (unreadable, pooled shapes) may be cut at the box's edge
        scaled = [g for g in self.groups if not g.pooled and g.kind != "unreadable"] or self.groups
        span = max(max(float(np.abs(g.median).max()) for g in scaled), 0.5)
        step = n * (1 + GAP)
        x = np.arange(n, dtype=float)
        for k, group in enumerate(self.groups):
            plot = self.graphics.addPlot(row=k // self._columns, col=k % self._columns)
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            ink = INK["normal"] if group.pooled else INK.get(group.kind, INK["normal"])
            mixed = ", ".join(f"{c} {kind}" for kind, c in group.counts.items() if kind != group.kind)
            also = f"<br><small>of them {mixed}</small>" if mixed else ""
            plot.setTitle(f"{k + 1}. {group.title()}{also}", color=ink, size="9pt")
            drawn = T.spread(len(group.members), MEMBERS_DRAWN)
            late = np.zeros(len(drawn)) if group.shifts is None else group.shifts[drawn]
            for lead in range(n_leads):
                xs = x + lead * step
                for m, d in zip(group.members[drawn], late, strict=True):  # each where it matches the median
                    plot.plot(xs - d, shapes[m, lead].astype(float), pen=pg.mkPen("#b8b8b8", width=1))
                plot.plot(xs, group.median[lead], pen=pg.mkPen(ink, width=2))
            plot.plot([-0.08 * n, -0.08 * n], [-0.5, 0.5], pen=pg.mkPen("#000000", width=2))  # 1 mV
            plot.setXRange(-0.12 * n, n_leads * step - GAP * n, padding=0)
            plot.setYRange(-span, span, padding=0.05)
            self.plots.append(plot)
        self._highlight()

    def _highlight(self) -> None:
        for k, plot in enumerate(self.plots):
            plot.getViewBox().setBackgroundColor(SELECTED if k == self.selected else None)

    def _clicked(self, event) -> None:
        pos = event.scenePos()
        for k, plot in enumerate(self.plots):
            if plot.sceneBoundingRect().contains(pos):
                self.select(k)
                return

    def select(self, k: int) -> None:
        if 0 <= k < len(self.groups):
            self.selected = k
            self._highlight()
            self.graphics.setFocus()

    def relabel(self, label: str) -> None:
        if self.groups and self.beats is not None:
            self.relabelRequested.emit(self.groups[self.selected].members, label)

    def show_next(self) -> None:
        """The paper at the chosen group's next beat (round and round its members)."""
        if not self.groups or self.beats is None:
            return
        members = self.groups[self.selected].members
        i = self._next.get(self.selected, 0) % len(members)
        self._next[self.selected] = i + 1
        self.jumpRequested.emit(float(self.beats.t_s[members[i]]))
