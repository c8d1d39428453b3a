"""Attention heatmaps for researchers: each lead [CLS]'s attention over its own beats (per layer and
head) or attention rollout, as 12 leads x 15 beats for one 10 s window.

Deliberately thin: it never imports torch (the maps arrive as numpy arrays), the selection over all
windows is computed once per map/layer/head change, and a window change only swaps the image data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.widgets import shrinkable
from ecgviewer.ml import contract

if TYPE_CHECKING:
    from ecgviewer.ml.attention import AttentionMaps

N_LEADS, N_BEATS = len(contract.LEADS), contract.MAX_BEATS
WINDOW_S = contract.WINDOW / contract.FS
ROLLOUT, CLS = 0, 1  # rows of the "Map" combo
PADDED_COLOR = (150, 150, 150)  # shows through padded cells (NaN is transparent); not in viridis
NOTE = (
    "Attention shows where information flowed, not why the model decided (Jain & Wallace 2019). "
    "Grey: no beat (padded)."
)


class AttentionPanel(QtWidgets.QWidget):
    """Map/layer/head/window selectors over a 12 x 15 heatmap with a colour bar."""

    selectionChanged = QtCore.Signal()
    beatClicked = QtCore.Signal(str, int, int)  # lead name, window index, beat index (0-14)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._maps: AttentionMaps | None = None
        self._selected: np.ndarray | None = None  # (W, 12, 15), the current map over all windows
        self._padded = np.zeros((0, N_LEADS, N_BEATS), dtype=bool)

        self.map_combo = QtWidgets.QComboBox()
        self.map_combo.addItems(["Rollout (all layers)", "[CLS] -> beats"])
        self.layer_combo = QtWidgets.QComboBox()
        self.head_combo = QtWidgets.QComboBox()
        self.window_label = QtWidgets.QLabel("Window")
        self.window_combo = QtWidgets.QComboBox()
        self.map_combo.setToolTip("Attention rollout through all layers, or one layer's [CLS] attention")
        self.layer_combo.setToolTip("The transformer layer whose attention is shown")
        self.head_combo.setToolTip("One attention head, or their mean")
        self.window_combo.setToolTip("The analysed window of a long recording")
        # two rows, so that a laptop-width dock shows every choice (the map's name may elide)
        for combo in (self.map_combo, self.layer_combo, self.head_combo, self.window_combo):
            shrinkable(combo, 6)
        controls = QtWidgets.QGridLayout()
        rows = ((("Map", self.map_combo), (self.window_label, self.window_combo)),
                (("Layer", self.layer_combo), ("Head", self.head_combo)))  # fmt: skip
        for r, row in enumerate(rows):
            for c, (label, combo) in enumerate(row):
                controls.addWidget(QtWidgets.QLabel(label) if isinstance(label, str) else label, r, 2 * c)
                controls.addWidget(combo, r, 2 * c + 1)
        controls.setColumnStretch(4, 1)

        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)  # the widget's palette, so it sits in light or dark themes
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMinimumHeight(240)
        vb = self.plot.getViewBox()
        vb.invertY(True)  # lead I on top, as on the paper
        vb.setBackgroundColor(PADDED_COLOR)
        vb.setRange(xRange=(0, N_BEATS), yRange=(0, N_LEADS), padding=0)
        self.plot.getAxis("left").setTicks([[(i + 0.5, name) for i, name in enumerate(contract.LEADS)]])
        self.plot.getAxis("bottom").setTicks([[(j + 0.5, str(j + 1)) for j in range(N_BEATS)]])
        self.plot.setLabel("bottom", "beat")
        self.image = pg.ImageItem(axisOrder="row-major")  # image[lead, beat]: rows are y
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.plot.scene().sigMouseClicked.connect(self._clicked)

        self.caption = QtWidgets.QLabel()
        self.caption.setWordWrap(True)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(controls)
        box.addWidget(self.plot, 1)
        box.addWidget(self.caption)

        self.map_combo.currentIndexChanged.connect(self._reselect)
        self.layer_combo.currentIndexChanged.connect(self._reselect)
        self.head_combo.currentIndexChanged.connect(self._reselect)
        self.window_combo.currentIndexChanged.connect(self._window_changed)
        self.set_maps(None)

    # -- API -------------------------------------------------------------------------------
    def set_maps(self, maps: AttentionMaps | None, window_starts_s: Sequence[float] = ()) -> None:
        """Show ``maps`` (None clears). Layer and head choices survive a new recording when they
        still exist, so one head can be compared across recordings; the window goes back to 1."""
        if maps is not None:
            _check(maps, window_starts_s)
        self._maps = maps
        combos = (self.map_combo, self.layer_combo, self.head_combo, self.window_combo)
        for combo in combos:
            combo.blockSignals(True)
        _refill(self.layer_combo, "mean of layers", "layer", maps.cls_to_beats.shape[1] if maps else 0)
        _refill(self.head_combo, "mean of heads", "head", maps.cls_to_beats.shape[2] if maps else 0)
        self.window_combo.clear()
        if maps is not None:
            self.map_combo.setItemText(CLS, f"{maps.readout} -> beats")
            self.window_combo.addItems(
                [_window_name(w, window_starts_s) for w in range(maps.rollout.shape[0])]
            )
            # A cell is a padded beat when no layer, head or the rollout puts any weight on it.
            self._padded = (maps.rollout == 0) & (maps.cls_to_beats == 0).all(axis=(1, 2))
        for combo in combos:
            combo.blockSignals(False)
        self.map_combo.setEnabled(maps is not None)
        self.window_combo.setEnabled(maps is not None)
        several = maps is not None and maps.rollout.shape[0] > 1
        self.window_label.setVisible(several)
        self.window_combo.setVisible(several)
        self._reselect()

    def current(self) -> np.ndarray | None:
        """The selected map for every window, (W, 12, 15); padded beats are 0. Do not modify it."""
        return self._selected

    def selection_label(self) -> str:
        """What ``current()`` holds, e.g. "[CLS] -> beats, layer 2, head 3" (a legend, so no window)."""
        if self._maps is None:
            return ""
        if self.map_combo.currentIndex() == ROLLOUT:
            return "Attention rollout (all layers)"
        layer, head = self.layer_combo.currentText(), self.head_combo.currentText()
        return f"{self._maps.readout} -> beats, {layer}, {head}"

    def current_window(self) -> int:
        return max(self.window_combo.currentIndex(), 0)

    def set_window(self, w: int) -> None:
        """Follow the main window's page; out-of-range indices are clamped to the recording."""
        if self.window_combo.count():
            self.window_combo.setCurrentIndex(min(max(w, 0), self.window_combo.count() - 1))

    # -- internals -------------------------------------------------------------------------
    def _reselect(self) -> None:
        """Recompute the selection over all windows (once per change, not per window switch)."""
        maps = self._maps
        cls = maps is not None and self.map_combo.currentIndex() == CLS
        self.layer_combo.setEnabled(cls)
        self.head_combo.setEnabled(cls)
        if maps is None:
            self._selected = None
        elif not cls:
            self._selected = maps.rollout
        else:
            layer, head = self.layer_combo.currentIndex(), self.head_combo.currentIndex()
            by_layer = maps.cls_to_beats.mean(axis=1) if layer == 0 else maps.cls_to_beats[:, layer - 1]
            self._selected = by_layer.mean(axis=1) if head == 0 else by_layer[:, head - 1]
        if self._selected is not None:
            # One scale for all windows, so colours compare across windows.
            top = float(self._selected.max(initial=0.0))
            self.colorbar.setLevels((0.0, top if top > 0 else 1.0))
        self._window_changed()

    def _window_changed(self) -> None:
        if self._selected is None:
            self.image.clear()
            self.caption.setText("No attention maps.")
        else:
            w = self.current_window()
            shown = self._selected[w].astype(np.float32)  # a copy: padded cells become NaN
            shown[self._padded[w]] = np.nan
            self.image.setImage(shown, autoLevels=False)  # pixel (beat, lead) is view cell (x, y)
            where = f", {self.window_combo.currentText()}" if self.window_combo.count() > 1 else ""
            self.caption.setText(f"{self.selection_label()}{where}\n{NOTE}")
        self.selectionChanged.emit()

    def _clicked(self, ev) -> None:
        """A left click on a beat's cell asks the main window to show that beat."""
        if self._selected is None or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        p = self.plot.getViewBox().mapSceneToView(ev.scenePos())
        beat, lead = int(np.floor(p.x())), int(np.floor(p.y()))
        w = self.current_window()
        if 0 <= beat < N_BEATS and 0 <= lead < N_LEADS and not self._padded[w, lead, beat]:
            self.beatClicked.emit(contract.LEADS[lead], w, beat)


def _check(maps: AttentionMaps, starts: Sequence[float]) -> None:
    """Fail at the hand-over, not at the first repaint, when the maps do not fit the panel."""
    n_windows = maps.rollout.shape[0]
    cls = maps.cls_to_beats
    expected = (n_windows, N_LEADS, N_BEATS)
    if maps.rollout.shape != expected or cls.ndim != 5 or cls.shape[:1] + cls.shape[3:] != expected:
        raise ValueError(
            f"attention maps of shapes {cls.shape} and {maps.rollout.shape} do not match "
            f"(W, layers, heads, {N_LEADS}, {N_BEATS}) and (W, {N_LEADS}, {N_BEATS})"
        )
    if len(starts) and len(starts) != n_windows:  # len(): numpy arrays of starts are welcome
        raise ValueError(f"{len(starts)} window starts for {n_windows} windows")


def _refill(combo: QtWidgets.QComboBox, mean: str, unit: str, n: int) -> None:
    """Items "mean of ...", "<unit> 1".."<unit> n", keeping the previous choice where it exists."""
    keep = combo.currentIndex()
    combo.clear()
    if n:
        combo.addItems([mean] + [f"{unit} {i}" for i in range(1, n + 1)])
        combo.setCurrentIndex(keep if 0 <= keep <= n else 0)


def _window_name(w: int, starts: Sequence[float]) -> str:
    if not len(starts):
        return f"window {w + 1}"
    return f"window {w + 1} ({starts[w]:g}-{starts[w] + WINDOW_S:g} s)"
