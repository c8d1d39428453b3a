"""The attribution panel: which method, what it attributes and against which baseline (named on
screen), the shading's legend and opacity, leads ranked in a bar chart, and the hierarchy
territory -> lead -> beat (plus HUG's lead groups) as a tree that the ECG paper follows.

Imports no torch; it shows what ``ecgviewer.ml.session.Result`` carries.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.overlay import Legend
from ecgviewer.gui.widgets import shrinkable
from ecgviewer.ml import contract
from ecgviewer.ml.placement import BeatScores
from ecgviewer.render.painting import colours

if TYPE_CHECKING:
    from ecgviewer.ml.checks import Faithfulness, SanityCheck
    from ecgviewer.ml.session import Result

METHOD_NAMES = {"ig": "Integrated Gradients", "occlusion": "Occlusion", "gxi": "Gradient \u00d7 input"}
SHADES = {"attribution": "Attribution", "attention": "Attention (Attention tab)", "none": "None"}
# the lead chart's bottom axis: lines of text (tick labels, title), and pixels of ticks and margins
BAR_AXIS_LINES, BAR_AXIS_PX = 2, 22
# how the beats are shaded: a band along each lead keeps the trace on clean paper (the default);
# the fill behind the whole beat is the stronger view
STYLES = {"band": "Band along the lead", "fill": "Fill behind the beat"}
NODE_ROLE = QtCore.Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class Selection:
    """What the tree's current node stands for on the paper."""

    leads: frozenset[str]
    beat: int | None = None  # index into the panel's BeatScores
    time: float | None = None  # seconds on the shown recording (a beat's R peak)


def _combo(items: dict[str, str], tip: str) -> QtWidgets.QComboBox:
    """A choice box of ``items`` (key -> shown name; the key is the item's data) with its tooltip."""
    box = QtWidgets.QComboBox()
    for key, name in items.items():
        box.addItem(name, key)
    box.setToolTip(tip)
    return box


class ExplainPanel(QtWidgets.QWidget):
    requestChanged = QtCore.Signal()  # method or steps changed: analyse again
    shadeChanged = QtCore.Signal()  # what the paper shades, or its opacity
    nodeSelected = QtCore.Signal(object)  # Selection
    checksRequested = QtCore.Signal()
    exportRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = _combo(
            METHOD_NAMES,
            "Integrated Gradients: per sample, sums to the logit change; occlusion: the logit drop when a "
            "beat, lead or territory is replaced by the reference; gradient \u00d7 input: fast, first order",
        )
        self.steps = QtWidgets.QSpinBox(minimum=4, maximum=256, value=32, singleStep=8)
        self.steps.setToolTip("Integrated Gradients: steps of the path integral from the baseline")
        self.shade = _combo(SHADES, "What the paper's beat shading shows")
        self.style_box = _combo(
            STYLES,
            "Band: a strip along each lead in the beat's colour, the trace on clean paper; "
            "fill: the colour behind the whole beat",
        )
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, minimum=0, maximum=100, value=60)
        self.opacity.setToolTip("Opacity of the shading at the largest score")
        self.caption = QtWidgets.QLabel("")  # the reading path: the finding in words, what was read
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        # the research detail (method, baseline, logit, completeness) one click away (issue 73)
        self.details_button = QtWidgets.QToolButton(text="Method details", checkable=True)
        self.details_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)
        self.details_button.setToolTip(
            "The attribution method, its baseline, the logit explained and IG's completeness check"
        )
        self.details = QtWidgets.QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(False)
        self.details_button.toggled.connect(self._show_details)
        self.legend = Legend()
        self.bars = pg.PlotWidget()
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(False, False)
        self.bars.setBackground(self.palette().color(self.backgroundRole()))
        self.bars.getPlotItem().setLabel("bottom", "lead score (sum of its beats)")
        self.bars.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)
        self._bar_item: pg.BarGraphItem | None = None
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(("Territory / lead / beat", "Score", "Time (s)"))
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._node_selected)
        self.checks_button = QtWidgets.QPushButton("Sanity checks")
        self.checks_button.setToolTip(
            "Model randomisation (Adebayo et al. 2018) and faithfulness (remove the most attributed beats)"
        )
        self.export_button = QtWidgets.QPushButton("Export\u2026")
        self.export_button.setToolTip("Raw attributions and attention as .npz or JSON")
        self.checks = QtWidgets.QLabel("")
        self.checks.setWordWrap(True)

        form = QtWidgets.QFormLayout()
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow: field under label
        for combo in (self.method, self.shade, self.style_box):
            shrinkable(combo, 12)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.method, 1)
        row.addWidget(QtWidgets.QLabel("steps"))
        row.addWidget(self.steps)
        form.addRow("Method", row)
        shade = QtWidgets.QHBoxLayout()
        shade.addWidget(self.shade, 1)
        shade.addWidget(QtWidgets.QLabel("opacity"))
        shade.addWidget(self.opacity, 1)
        form.addRow("Shade beats", shade)
        form.addRow("Shading", self.style_box)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.checks_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.bars)
        split.addWidget(self.tree)
        split.setChildrenCollapsible(False)
        self._fit_text()
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(form)
        box.addWidget(self.caption)
        box.addWidget(self.details_button)
        box.addWidget(self.details)
        box.addWidget(self.legend)
        box.addWidget(split, 1)
        box.addLayout(buttons)
        box.addWidget(self.checks)

        self.method.activated.connect(self._method_changed)
        self.steps.editingFinished.connect(self._steps_changed)
        self.shade.activated.connect(lambda _i: self.shadeChanged.emit())
        self.opacity.valueChanged.connect(lambda _v: self.shadeChanged.emit())
        self.style_box.activated.connect(lambda _i: self.shadeChanged.emit())
        self.checks_button.clicked.connect(self.checksRequested)
        self.export_button.clicked.connect(self.exportRequested)
        self.scores: BeatScores | None = None
        self.ranked: list[str] = []  # leads from the highest score down, as the chart ranks them
        self._filling = False
        self._last_steps = self.steps.value()
        self.set_enabled(False)
        self.steps.setEnabled(True)

    def _fit_text(self) -> None:
        """Heights that follow the system font (again when it changes): each of the twelve lead
        names on the chart's axis gets a line of text, never drawn over each other; a short dock
        squeezes the chart, never the tree below its header and three rows."""
        line = self.bars.fontMetrics().height()
        self.bars.setMinimumHeight(len(contract.LEADS) * (line + 2) + BAR_AXIS_LINES * line + BAR_AXIS_PX)
        rows = self.tree.fontMetrics().height() + 6
        self.tree.setMinimumHeight(self.tree.header().sizeHint().height() + 3 * rows)

    def changeEvent(self, event: QtCore.QEvent) -> None:
        if event.type() == QtCore.QEvent.Type.FontChange:
            self._fit_text()
        super().changeEvent(event)

    # -- settings ----------------------------------------------------------------------------
    def current_method(self) -> str:
        return str(self.method.currentData())

    def set_method(self, method: str) -> None:
        """Select ``method`` without asking for a new analysis (a model's default on loading)."""
        index = self.method.findData(method)
        if index >= 0:
            self.method.setCurrentIndex(index)
            self.steps.setEnabled(method == "ig")

    def current_steps(self) -> int:
        return self.steps.value()

    def current_shade(self) -> str:
        return str(self.shade.currentData())

    def current_style(self) -> str:
        return str(self.style_box.currentData())

    def current_opacity(self) -> float:
        return self.opacity.value() / 100

    def set_enabled(self, on: bool) -> None:
        for w in (self.checks_button, self.export_button, self.tree, self.bars):
            w.setEnabled(on)

    def _method_changed(self, _index: int) -> None:
        self.steps.setEnabled(self.current_method() == "ig")
        self.requestChanged.emit()

    def _steps_changed(self) -> None:
        if self.steps.value() != self._last_steps:
            self._last_steps = self.steps.value()
            self.requestChanged.emit()

    # -- results -----------------------------------------------------------------------------
    def clear(self, message: str = "") -> None:
        self.scores = None
        self.tree.clear()
        self.caption.setText(message)
        self.details.setText("")
        self.checks.setText("")
        self.legend.set_scores(None, self.current_opacity())
        if self._bar_item is not None:
            self.bars.removeItem(self._bar_item)
            self._bar_item = None
        self.ranked = []
        self.set_enabled(False)

    def set_result(self, result: Result, scores: BeatScores, description: str, probability: float) -> None:
        """Show ``result``'s attribution; ``scores`` are its beats on the shown recording's time."""
        e = result.explanation
        self.scores = scores
        self.checks.setText("")
        steps = f" ({e.n_steps} steps)" if e.n_steps else ""
        what = "sums of per-sample scores" if e.additive else "logit drop when set to the baseline, per level"
        frontal = "; limb leads shared by the frontal axes" if e.frontal else ""
        worded = result.worded
        reading = [
            f"<b>{html.escape(worded.text)}</b>",
            *([f"<i>{html.escape(worded.agreement)}</i>"] if worded.agreement else []),
            *([html.escape(result.reading.text)] if result.reading else []),
        ]
        lines = [
            f"<b>{METHOD_NAMES[e.method]}</b>{steps}; baseline: {html.escape(e.baseline)}{frontal}",
            f"Target: <b>{e.target.code}</b> {description} ({e.target.task} task), its logit; "
            f"p = {probability:.2f}",
            f"Scores: {what}; red raises the logit, blue lowers it.",
        ]
        if (check := e.completeness()) is not None:
            lines.append(check)
        if result.analysis.inputs.kind == contract.PATCHES and e.outside is not None:
            gap = float(np.abs(e.outside).sum())
            share = gap / max(gap + float(np.abs(e.beats).sum()), 1e-12)
            # one line: a longer caption squeezes the tree below the bars out of sight
            lines.append(
                f"Patch-token model: {share:.0%} of the attribution lies between beats "
                "(in lead totals, in no beat)."
            )
        self.caption.setText("<br>".join(reading))
        self.details.setText("<br>".join(lines))
        self._fill_bars(e.leads)
        self._fill_tree(result, scores)
        self.set_enabled(True)

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setArrowType(
            QtCore.Qt.ArrowType.DownArrow if shown else QtCore.Qt.ArrowType.RightArrow
        )

    def _fill_bars(self, leads: np.ndarray) -> None:
        from ecgviewer.ml import contract

        order = np.argsort(leads)  # ascending: the largest ends on top
        values = leads[order]
        limit = float(np.max(np.abs(values))) or 1.0
        rgba = colours(values, limit, True, 1.0)
        rgba[:, 3] = 255  # bars: the length shows the size, the hue the sign
        brushes = [pg.mkBrush(*c) for c in rgba]
        if self._bar_item is not None:
            self.bars.removeItem(self._bar_item)
        self._bar_item = pg.BarGraphItem(
            x0=np.minimum(values, 0),
            y=np.arange(len(values)),
            height=0.7,
            width=np.abs(values),
            brushes=brushes,
        )
        self.bars.addItem(self._bar_item)
        names = [contract.LEADS[i] for i in order]
        self.bars.getPlotItem().getAxis("left").setTicks([list(enumerate(names))])
        self.ranked = names[::-1]
        self.bars.setXRange(-limit if values.min() < 0 else 0, limit if values.max() > 0 else 0, padding=0.05)
        self.bars.setYRange(-0.5, len(values) - 0.5, padding=0)

    def _fill_tree(self, result: Result, scores: BeatScores) -> None:
        e, offset = result.explanation, result.offset_s
        self._filling = True
        self.tree.clear()
        root = QtWidgets.QTreeWidgetItem(["Territories", "", ""])
        for t in e.tree:
            t_item = QtWidgets.QTreeWidgetItem([t.name, f"{t.score:+.4f}", ""])
            t_item.setData(0, NODE_ROLE, Selection(frozenset(lead.lead for lead in t.leads)))
            for lead in t.leads:
                text = lead.lead + (" (no signal)" if lead.missing else "")
                l_item = QtWidgets.QTreeWidgetItem([text, f"{lead.score:+.4f}", ""])
                l_item.setData(0, NODE_ROLE, Selection(frozenset({lead.lead})))
                for b in lead.beats:
                    k = scores.find(lead.lead, b.window, b.index)
                    span = f"{b.start_s + offset:.2f}\u2013{b.stop_s + offset:.2f}"
                    b_item = QtWidgets.QTreeWidgetItem(
                        [self._beat_name(b.window, b.index, e), f"{b.score:+.4f}", span]
                    )
                    b_item.setData(0, NODE_ROLE, Selection(frozenset({lead.lead}), k, b.r_s + offset))
                    l_item.addChild(b_item)
                t_item.addChild(l_item)
            root.addChild(t_item)
        groups = QtWidgets.QTreeWidgetItem(["HUG lead groups", "", ""])
        from ecgviewer.leads import HUG_LEAD_GROUPS

        for name, members in HUG_LEAD_GROUPS.items():
            g = QtWidgets.QTreeWidgetItem(
                [f"{name} ({', '.join(members)})", f"{e.hug_groups[name]:+.4f}", ""]
            )
            g.setData(0, NODE_ROLE, Selection(frozenset(members)))
            groups.addChild(g)
        self.tree.addTopLevelItems([root, groups])
        root.setExpanded(True)
        groups.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        self._filling = False

    @staticmethod
    def _beat_name(window: int, index: int, e) -> str:
        return f"beat {index + 1}" if len(e.logit) == 1 else f"beat {index + 1}, window {window + 1}"

    def beat_item(self, k: int) -> QtWidgets.QTreeWidgetItem | None:
        """The tree row of beat ``k`` of ``scores``."""
        it = QtWidgets.QTreeWidgetItemIterator(self.tree)
        while it.value() is not None:
            sel = it.value().data(0, NODE_ROLE)
            if isinstance(sel, Selection) and sel.beat == k:
                return it.value()
            it += 1
        return None

    def select_beat(self, k: int) -> None:
        """Follow a click on the paper: select (and reveal) the beat's row, quietly."""
        item = self.beat_item(k)
        if item is None:
            return
        self._filling = True
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item)
        self._filling = False

    def _node_selected(self) -> None:
        item = self.tree.currentItem()
        sel = item.data(0, NODE_ROLE) if item else None
        if isinstance(sel, Selection) and not self._filling:
            self.nodeSelected.emit(sel)

    def set_checks(self, sanity: SanityCheck, faith: Faithfulness) -> None:
        rho = "undefined (constant map)" if sanity.spearman != sanity.spearman else f"{sanity.spearman:.2f}"
        ratio = "undefined" if faith.ratio is None else f"{faith.ratio:.1f}"
        self.checks.setText(
            f"Randomised weights: Spearman \u03c1 = {rho} over {sanity.n_beats} beats (near 0: the map "
            f"depends on what the model learnt). Faithfulness: removing the top {faith.k} beats lowers p by "
            f"{faith.top_drops[-1]:+.3f}, {faith.k} random beats by {faith.random_drops[-1]:+.3f} "
            f"(ratio {ratio})."
        )
