"""Every beat of the recording in the window: the counts of each kind, the heart-rate range and the
events (pauses, runs, atrial fibrillation, ventricular flutter or fibrillation in bold, unreadable
stretches), each a row that jumps the paper to it, and the cards of the models behind them. The
beat list itself is ``measure.rhythm``, computed off the UI thread with the status bar's progress
and Cancel; the overview strip draws its heart-rate trend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtWidgets

from ecgviewer import NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.gui.analysis import Runner
from ecgviewer.gui.templates_view import TemplatesView
from ecgviewer.gui.widgets import ElidedLabel, WrappedLabel
from ecgviewer.measure import templates as T
from ecgviewer.measurements import ALERT_EVENTS, EVENT_KINDS
from ecgviewer.recording import Recording
from ecgviewer.summary import clock

if TYPE_CHECKING:
    from ecgviewer.measure.rhythm import BeatList

COLUMNS = ("Time", "Event", "Detail")
CARDS = {
    "delineator": "Beat delineator card",
    "classifier": "Beat classifier card",
    "flutter": "Flutter detector card",
}
CONTEXT_S = 1.0  # a jump puts the event this far from the page's left edge


class BeatsPanel(QtWidgets.QWidget):
    """Counts, rate range and the event table; ``jumpRequested(t)`` asks for a page starting at t."""

    jumpRequested = QtCore.Signal(float)

    def __init__(self) -> None:
        super().__init__()
        # the beats, their classes and flutter come from learnt models: their notice and cards on one line
        # a push button: its size keeps room for the menu's arrow (a tool button's draws it over the text)
        self.cards = QtWidgets.QPushButton("Model cards")
        menu = QtWidgets.QMenu(self.cards)
        for which, name in CARDS.items():
            menu.addAction(name, lambda which=which: self.show_card(which))
        self.cards.setMenu(menu)
        self.cards.setToolTip(
            "What the beat list's delineator, the beat classifier and the flutter detector learnt from, "
            "and how well they did"
        )
        self.card_dialog: QtWidgets.QDialog | None = None
        self.summary = WrappedLabel()  # every line, however short the dock: a day's runs to five
        # the leads read and the notes: one line (whole in the tooltip), so that a laptop's short
        # dock keeps rows of the event table in view
        self.details = ElidedLabel()
        self.summary.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        for i, mode in enumerate((QtWidgets.QHeaderView.ResizeMode.ResizeToContents,) * 2):
            header.setSectionResizeMode(i, mode)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Double-click or Enter: show this event on the paper")
        self.table.itemActivated.connect(self._activated)
        self.events: list[tuple[float, str]] = []
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(self.summary)
        box.addWidget(self.details)
        box.addWidget(self.table, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel(NOTICE), 1)
        row.addWidget(self.cards)
        box.addLayout(row)
        self.set_beats(None, "The beat list appears when the measurements are on.")

    def set_beats(self, beats: BeatList | None, note: str = "") -> None:
        """Show ``beats`` (None: ``note`` instead; else a ``note`` is added)."""
        self.table.setRowCount(0)
        self.events = []
        if beats is None:
            self.summary.setText(note)
            self.details.set_full_text("")
            return
        self.summary.setText("\n".join([*beats.summary(), *([note] if note else [])]))
        self.details.set_full_text(beats.reading())
        self.table.setRowCount(len(beats.events))
        for row, e in enumerate(beats.events):
            cells = (clock(e.start_s), EVENT_KINDS[e.kind], e.detail)
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if e.kind in ALERT_EVENTS:  # life-threatening: not one row among many alike
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
            self.events.append((e.start_s, e.kind))
        if not beats.events:
            self.table.setRowCount(1)
            self.table.setItem(0, 1, QtWidgets.QTableWidgetItem("no events"))

    def show_card(self, which: str) -> None:
        """The card of one of the beat list's models (a key of CARDS), with the SHA-256 of the file
        on disk."""
        from ecgviewer import assets
        from ecgviewer.gui.diagnosis import ModelCardDialog
        from ecgviewer.weights import sha256

        path = {
            "delineator": assets.beat_delineator_path,
            "classifier": assets.beat_classifier_path,
            "flutter": assets.flutter_detector_path,
        }[which]()
        self.card_dialog = ModelCardDialog(path, sha256(path) if path.is_file() else None, self)
        self.card_dialog.open()

    def _activated(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.row() < len(self.events):
            self.jumpRequested.emit(max(0.0, self.events[item.row()][0] - CONTEXT_S))


class BeatsController(QtCore.QObject):
    """Lists the beats of the recording on screen while the measurements are on, from the
    window's first paint on (``painted``), with their templates and the reader's relabels kept in
    the library (replayed when the file is opened again); a new recording cancels the list in
    progress (a late one never reaches the panel)."""

    listed = QtCore.Signal(object)  # BeatList, or None when cleared

    def __init__(self, run: Runner, library: Callable[[], Path], parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self._run = run
        self.library = library
        self.panel = BeatsPanel()
        self.templates = TemplatesView()
        self.templates.relabelRequested.connect(self.relabel)
        self.recording: Recording | None = None
        self.enabled = False
        self.ready = False  # the window has painted: loading the delineator may compete with it now
        self.beats: BeatList | None = None
        self.sha256: str | None = None  # the recording's content: its relabels' key in the library

    def set_recording(self, rec: Recording | None) -> None:
        self.recording = rec
        self._clear()
        self.start()

    def painted(self) -> None:
        self.ready = True
        self.start()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if on:
            self.start()
        else:
            self._clear("The beat list appears when the measurements are on.")

    def start(self) -> None:
        rec, library = self.recording, self.library()
        if rec is None or not self.enabled or not self.ready or self.beats is not None:
            return

        def job(progress) -> Listed:
            from ecgviewer.library import relabels
            from ecgviewer.library.overreads import content_sha256
            from ecgviewer.measure.rhythm import analyse

            beats = analyse(rec, progress=progress)
            sha, problem = None, ""
            if rec.path is not None:  # a file: its relabels are kept (opening it makes no library)
                try:
                    sha = content_sha256(rec.path)
                    beats = T.replay(beats, relabels.stored(sha, library))
                except EcgError as exc:
                    problem = f"Relabels cannot be kept: {exc}"
            return Listed(rec, beats, T.cluster(beats), sha, problem)

        self.panel.set_beats(None, "Listing every beat\u2026")
        self.templates.set_beats(None, "Listing every beat\u2026")
        task = self._run("beats", "Beat list", job, self._done)
        task.signals.failed.connect(self._failed)

    def relabel(self, members: np.ndarray, label: str) -> None:
        """Relabel these beats (a template's) ``label``, off the UI thread, and keep it."""
        rec, beats, sha, library = self.recording, self.beats, self.sha256, self.library()
        groups = self.templates.groups
        if rec is None or beats is None:
            return

        def job(_progress) -> Listed:
            from ecgviewer.library import db, relabels

            new = T.relabel(beats, members, label)
            problem = "This recording is not a file: its relabels are not kept." if sha is None else ""
            if sha is not None:
                try:
                    conn = db.open_library(library)
                    try:
                        relabels.save(conn, sha, rec.path, new.relabels)
                    finally:
                        conn.close()
                except EcgError as exc:
                    problem = f"Relabel not saved: {exc}"
            return Listed(rec, new, T.follow(groups, beats, new), sha, problem)

        self._run("beats", "Relabelling", job, self._done)

    def _done(self, out: Listed) -> None:
        if out.rec is not self.recording or not self.enabled:
            return
        self.beats, self.sha256 = out.beats, out.sha256
        self.panel.set_beats(out.beats, out.problem)
        self.templates.set_beats(out.beats, groups=out.groups)
        self.listed.emit(out.beats)

    def _failed(self, message: str) -> None:
        self.panel.set_beats(None, f"No beat list: {message}")
        self.templates.set_beats(None, f"No beat list: {message}")

    def _clear(self, note: str = "") -> None:
        self.beats = self.sha256 = None
        self.panel.set_beats(None, note)
        self.templates.set_beats(None, note or "The beat templates appear with the beat list.")
        self.listed.emit(None)


@dataclass(frozen=True)
class Listed:
    """A beat list made off the UI thread, for the recording it was made for."""

    rec: Recording
    beats: BeatList
    groups: list[T.Template]
    sha256: str | None
    problem: str = ""  # why the relabels are not kept, if they are not
