"""The diagnosis panel: the model's findings grouped superclass -> finer class, each with its
probability, threshold and decision, the record's own labels and the acquiring device's
interpretation beside them, the research-use notice and the model card one click away.

Imports no torch: the panel exists (and says "loading the model") before the model does.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer import NOTICE
from ecgviewer.gui.widgets import WrappedLabel
from ecgviewer.ml.wording import measured_text

if TYPE_CHECKING:
    from ecgviewer.ml.infer import ClassResult, Group, Predictions
    from ecgviewer.recording import DeviceReport

# short headers: every column whole in a laptop's 400-pixel side column (issue 73)
COLUMNS = ("Finding", "p", "Cut-off", "Decision", "In record")
# Findings always in view: at least this many rows show without scrolling (issue 25: five on a
# 1080-pixel screen, three on a 768-pixel laptop).
ROWS_SHOWN = ((950, 5), (0, 3))  # (window height from, rows): a maximised window on 1080 / 768

TARGET_ROLE = QtCore.Qt.ItemDataRole.UserRole  # (task, code) of a row
NO_FINDINGS = "No finding shown: no class validated by a model card"
NO_FINDINGS_WHY = (
    "A class is shown only when the model card reports it validated well enough on held-out data; "
    "this model's card validates none of its classes, or the model has no card."
)


def rows_shown(window_height: int) -> int:
    """How many findings rows the table keeps visible in a window this tall (logical pixels)."""
    return next(n for h, n in ROWS_SHOWN if window_height >= h)


def _decision(c: ClassResult) -> str:
    return "\u2013" if c.decision is None else ("positive" if c.decision else "negative")


def likelihood(value: float) -> str:
    """A record label's likelihood in words: PTB-XL gives 0-100 % per statement, and 0 means
    stated but not quantified (its rhythm and form statements), never "0 %"."""
    return "" if value == 0 else f"{value:g} %"


def _in_record(c: ClassResult) -> str:
    """One form for every row: "yes", with the likelihood where the label quantifies it."""
    if c.in_record is None:
        return ""
    return f"yes ({likelihood(c.in_record)})" if c.in_record else "yes"


def _first(group: Group) -> tuple[bool, bool, float]:
    """Groups in reading order: those with a positive decision first, a diagnostic superclass
    before the form and rhythm statements, then by probability."""
    shown = ([group.head] if group.head else []) + list(group.members)
    return (not any(c.decision for c in shown), group.head is None, -max(c.probability for c in shown))


class DiagnosisPanel(QtWidgets.QWidget):
    labelChosen = QtCore.Signal(str, str)  # task, code: explain this label
    cardRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._why_not_stated: dict[int, tuple[str, ...]] = {}  # id(finding): why it is left out
        self.notice = WrappedLabel(f"<b>{NOTICE}</b>")  # wraps: the column stays narrow on a laptop
        self.card_button = QtWidgets.QPushButton("Model card\u2026")
        self.card_button.setToolTip("Training data, metrics with intervals and intended use of the model")
        self.card_button.clicked.connect(self.cardRequested)
        self.status = WrappedLabel()
        self.leads = WrappedLabel()  # fewer than 12 leads: the card's figure for such a lead set
        self.leads.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.leads.setToolTip("From the model card (python -m training lead-sets)")
        self.leads.hide()
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.headerItem().setToolTip(1, "The model's probability")
        self.tree.headerItem().setToolTip(
            2, "The threshold, chosen on the validation fold (F1-optimal), from the model card"
        )
        self.tree.headerItem().setToolTip(
            4, "The recording's own label (PTB-XL: the cardiologist's likelihood)"
        )
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        # every column in view: the finding's name takes what the numbers leave (elided, full text
        # in its tooltip), never a horizontal scrollbar that hides threshold and decision
        self.tree.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for k in range(1, len(COLUMNS)):
            header.setSectionResizeMode(k, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self._rows = 3
        self.tree.itemSelectionChanged.connect(self._selected)
        self.record_labels = WrappedLabel()
        self.device = WrappedLabel()
        self.device.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.device.setToolTip("The acquiring device's own interpretation, as stored in the file")
        self.device.hide()
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.notice, 1)
        top.addWidget(self.card_button)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.status)
        box.addWidget(self.leads)
        box.addWidget(self.tree, 1)
        box.addWidget(self.record_labels)
        box.addWidget(self.device)
        self._filling = False

    def set_device(self, report: DeviceReport | None) -> None:
        """The device's interpretation statements beside the model's findings (hidden when none)."""
        if report is None or not report.statements:
            self.device.clear()
            self.device.hide()
            return
        who = html.escape(report.device or "the acquiring device")
        items = "".join(f"<li>{html.escape(s)}</li>" for s in report.statements)
        self.device.setText(f"<b>Interpretation by {who}</b> (from the file):<ul>{items}</ul>")
        self.device.show()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def clear(self) -> None:
        self._filling = True  # emptying the table moves its current row: no label is chosen by that
        self.tree.clear()
        self._filling = False
        self.record_labels.setText("")
        self.leads.hide()

    def set_predictions(
        self,
        preds: Predictions,
        descriptions: Mapping[str, str] | None = None,
        file_report: str | None = None,
    ) -> None:
        """Fill the tree with the surfaced classes; ``descriptions`` names the record's labels;
        ``file_report``: the diagnoses the file states in words (LUDB, a Challenge header, a
        confirmed vendor interpretation), shown beside them."""
        self._filling = True
        self.tree.clear()
        self.leads.setVisible(preds.lead_note is not None)
        self.leads.setText(f"\u26a0 {preds.lead_note.text}" if preds.lead_note else "")
        from ecgviewer.interpretation import withheld  # the model is loaded: its imports are in

        task_of = {id(c): task for task, cs in preds.tasks.items() for c in cs}
        self._why_not_stated = {id(c): why for c, why in withheld(preds)}
        bold = QtGui.QFont()
        bold.setBold(True)
        for group in sorted(preds.grouped(), key=_first):
            head = group.head
            top = (
                self._row(head, task_of[id(head)], bold) if head else QtWidgets.QTreeWidgetItem([group.name])
            )
            for c in sorted(group.members, key=lambda c: -c.probability):
                if head is not None and c.code == head.code:
                    continue  # PTB-XL's NORM statement is also its superclass: one row
                top.addChild(self._row(c, task_of[id(c)], bold))
            self.tree.addTopLevelItem(top)
            top.setExpanded(bool(head and head.decision) or any(c.decision for c in group.members))
        if not self.tree.topLevelItemCount():  # say why the table is empty, never show it blank
            note = QtWidgets.QTreeWidgetItem([NO_FINDINGS])
            note.setFlags(QtCore.Qt.ItemFlag.NoItemFlags)
            note.setToolTip(0, NO_FINDINGS_WHY)
            self.tree.addTopLevelItem(note)
            note.setFirstColumnSpanned(True)
        self._add_not_reported(preds)
        names = descriptions or {}
        labels = sorted(preds.record_labels.items(), key=lambda kv: -kv[1])
        self.record_labels.setText(
            "Record's own labels: "
            + ", ".join(f"{c} ({names.get(c, c)}) {likelihood(v)}".rstrip() for c, v in labels)
            if labels
            else "The recording carries no coded diagnostic labels."
        )
        if file_report:
            self.record_labels.setText(f"{self.record_labels.text()}\nThe file's own report: {file_report}")
        self._fit_rows()
        self.tree.scrollToTop()
        self._filling = False

    def _add_not_reported(self, preds: Predictions) -> None:
        """The classes the model scores but its card keeps out of the app, as a collapsed group
        with each reason: a finding the reader looks for is never silently absent."""
        if not preds.not_reported:
            return
        group = QtWidgets.QTreeWidgetItem([f"Not reported by this model ({len(preds.not_reported)})"])
        group.setToolTip(0, "Scored by the model but not shown: the model card's rule (fold-9 validation)")
        group.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
        for n in sorted(preds.not_reported, key=lambda n: n.code):
            item = QtWidgets.QTreeWidgetItem([f"{n.code}  {n.description}: {n.reason}"])
            item.setToolTip(0, n.text)
            item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)  # listed, not chosen: nothing to explain
            group.addChild(item)
        self.tree.addTopLevelItem(group)
        for k in range(group.childCount()):
            group.child(k).setFirstColumnSpanned(True)

    def _row(self, c: ClassResult, task: str, bold: QtGui.QFont) -> QtWidgets.QTreeWidgetItem:
        threshold = "" if c.threshold is None else f"{c.threshold:.2f}"
        item = QtWidgets.QTreeWidgetItem(
            [f"{c.code}  {c.description}", f"{c.probability:.2f}", threshold, _decision(c), _in_record(c)]
        )
        item.setData(0, TARGET_ROLE, (task, c.code))
        windows = len(c.window_probabilities)
        where = f"{task} task; the encoder's probability averaged over {windows} window(s)"
        if weighed := measured_text(c):
            where += f"\nWith the measured beats weighed in: {weighed}"
        item.setToolTip(0, f"{c.code}: {c.description}\n{where}")
        for k in (1, 2):
            item.setTextAlignment(k, QtCore.Qt.AlignmentFlag.AlignRight)
        if c.decision:
            for k in range(len(COLUMNS)):
                item.setFont(k, bold)
        if why := self._why_not_stated.get(id(c)):  # positive, but the interpretation leaves it out
            item.setText(3, "not stated")
            item.setToolTip(3, "Positive, not stated in the interpretation: " + "; ".join(why))
            for k in range(len(COLUMNS)):
                item.setFont(k, QtGui.QFont())
        return item

    def keep_rows(self, window_height: int) -> None:
        """Keep ``rows_shown`` findings rows in view in a window this tall (the main window
        calls this as it resizes)."""
        self._rows = rows_shown(window_height)
        self._fit_rows()

    def changeEvent(self, event: QtCore.QEvent) -> None:
        if event.type() == QtCore.QEvent.Type.FontChange:  # rows follow the system font
            self._fit_rows()
        super().changeEvent(event)

    def _fit_rows(self) -> None:
        """The table's minimum height: its header and ``_rows`` rows, as the rows are drawn."""
        row = max(self.tree.sizeHintForRow(0), self.tree.fontMetrics().height() + 6)
        frame = 2 * self.tree.frameWidth()
        self.tree.setMinimumHeight(self.tree.header().sizeHint().height() + self._rows * row + frame)

    def items(self) -> list[QtWidgets.QTreeWidgetItem]:
        """Every row, top level first then its children (in display order)."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out.append(top)
            out += [top.child(k) for k in range(top.childCount())]
        return out

    def select(self, task: str, code: str) -> None:
        """Mark the row of the label being explained, without asking for it again."""
        self._filling = True
        for item in self.items():
            if item.data(0, TARGET_ROLE) == (task, code):
                self.tree.setCurrentItem(item)
                break
        self._filling = False

    def _selected(self) -> None:
        item = self.tree.currentItem()
        target = item.data(0, TARGET_ROLE) if item else None
        if target and not self._filling:
            self.labelChosen.emit(*target)


class ModelCardDialog(QtWidgets.QDialog):
    """The model card as its Markdown, with the weights' SHA-256 the app checked."""

    def __init__(self, model_file: Path, sha256: str | None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card \u2014 {model_file.stem}")
        self.resize(760, 640)
        card = model_file.with_suffix(".md")
        try:
            text = card.read_text(encoding="utf-8")
        except OSError as exc:
            text = f"The model card {card.name} cannot be read ({exc.strerror or exc})."
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(text)
        checked = f"Weights SHA-256 (checked on load): {sha256}" if sha256 else "Model not loaded yet."
        label = QtWidgets.QLabel(f"<b>{NOTICE}</b> {checked}")
        label.setWordWrap(True)
        label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(label)
        box.addWidget(self.browser, 1)
        box.addWidget(buttons)
