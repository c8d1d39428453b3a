"""The attention panel on synthetic maps with known values (no model, no torch)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from PySide6 import QtCore

from ecgviewer.gui.attention_view import AttentionPanel
from ecgviewer.ml import contract

W, LAYERS, HEADS = 2, 2, 3
PADDED = (0, slice(12, 15))  # lead I has 12 beats in window 2 (index 1)


@dataclass
class Maps:
    """Stand-in for ``ecgviewer.ml.attention.AttentionMaps`` (same fields), which imports torch."""

    cls_to_beats: np.ndarray
    rollout: np.ndarray
    readout: str = "[CLS]"


def known_maps(n_windows: int = W) -> Maps:
    """cls_to_beats[w, l, h] = base[w] + 10 l + h, so every mean and slice has a known value."""
    base = np.random.default_rng(1).uniform(0.1, 1.0, (n_windows, 1, 1, 12, 15))
    layer = 10.0 * np.arange(LAYERS)[None, :, None, None, None]
    head = np.arange(HEADS, dtype=float)[None, None, :, None, None]
    cls = (base + layer + head).astype(np.float32)
    rollout = (base[:, 0, 0] / 100).astype(np.float32)
    if n_windows > 1:
        cls[1, :, :, PADDED[0], PADDED[1]] = 0
        rollout[1, PADDED[0], PADDED[1]] = 0
    return Maps(cls, rollout)


@pytest.fixture
def panel(qtbot) -> AttentionPanel:
    p = AttentionPanel()
    qtbot.addWidget(p)
    p.resize(640, 420)
    return p


def choose(panel: AttentionPanel, layer: int, head: int) -> None:
    """[CLS] map at combo rows ``layer`` and ``head`` (0 is the mean)."""
    panel.map_combo.setCurrentIndex(1)
    panel.layer_combo.setCurrentIndex(layer)
    panel.head_combo.setCurrentIndex(head)


def test_rollout_is_the_default_and_current_returns_it(panel):
    maps = known_maps()
    panel.set_maps(maps, [0.0, 10.0])
    np.testing.assert_array_equal(panel.current(), maps.rollout)
    assert panel.selection_label() == "Attention rollout (all layers)"
    assert "Attention rollout (all layers), window 1 (0-10 s)" in panel.caption.text()
    assert "Jain & Wallace 2019" in panel.caption.text()


def test_layer_and_head_slice(panel):
    maps = known_maps()
    panel.set_maps(maps)
    choose(panel, layer=2, head=3)
    got = panel.current()
    assert got.shape == (W, 12, 15)
    np.testing.assert_array_equal(got, maps.cls_to_beats[:, 1, 2])
    assert panel.selection_label() == "[CLS] -> beats, layer 2, head 3"


def test_means_of_heads_and_layers(panel):
    maps = known_maps()
    base = maps.cls_to_beats[:, 0, 0]  # layer 1, head 1: base + 0
    panel.set_maps(maps)
    choose(panel, layer=2, head=0)
    live = base != 0
    np.testing.assert_allclose(panel.current()[live], (base + 10 + 1)[live], rtol=1e-6)
    assert panel.selection_label() == "[CLS] -> beats, layer 2, mean of heads"
    choose(panel, layer=0, head=0)
    np.testing.assert_allclose(panel.current()[live], (base + 5 + 1)[live], rtol=1e-6)
    assert panel.current()[1, 0, 14] == 0  # padded beats stay 0 for the trace overlay


def test_image_shows_the_selected_window_with_padded_beats_blank(panel, qtbot):
    maps = known_maps()
    panel.set_maps(maps, [0.0, 10.0])
    choose(panel, layer=1, head=2)
    np.testing.assert_array_equal(panel.image.image, maps.cls_to_beats[0, 0, 1])
    with qtbot.waitSignal(panel.selectionChanged):
        panel.set_window(1)
    assert panel.current_window() == 1
    assert panel.window_combo.currentText() == "window 2 (10-20 s)"
    shown = panel.image.image
    assert np.isnan(shown[PADDED]).all()
    np.testing.assert_array_equal(shown[1:], maps.cls_to_beats[1, 0, 1, 1:])
    np.testing.assert_array_equal(shown[0, :12], maps.cls_to_beats[1, 0, 1, 0, :12])
    assert "layer 1, head 2, window 2 (10-20 s)" in panel.caption.text()
    assert panel.colorbar.levels() == pytest.approx((0.0, float(maps.cls_to_beats[:, 0, 1].max())))
    panel.set_window(7)  # clamped to the last window
    assert panel.current_window() == 1


def test_window_starts_may_be_a_numpy_array_and_the_last_window_may_overlap(panel):
    panel.set_maps(known_maps(), np.array([0.0, 2.5]))  # a 12.5 s record: last window aligned to its end
    assert panel.window_combo.itemText(1) == "window 2 (2.5-12.5 s)"


def test_layer_and_head_only_for_the_cls_map(panel):
    panel.set_maps(known_maps())
    assert not panel.layer_combo.isEnabled() and not panel.head_combo.isEnabled()
    assert panel.map_combo.isEnabled()
    panel.map_combo.setCurrentIndex(1)
    assert panel.layer_combo.isEnabled() and panel.head_combo.isEnabled()
    items = [panel.head_combo.itemText(i) for i in range(panel.head_combo.count())]
    assert items == ["mean of heads", "head 1", "head 2", "head 3"]
    assert panel.layer_combo.count() == LAYERS + 1


def test_window_control_only_for_several_windows(panel):
    panel.set_maps(known_maps(1))
    assert panel.window_combo.isHidden() and panel.window_label.isHidden()
    assert "window" not in panel.caption.text().splitlines()[0]
    panel.set_maps(known_maps(2))
    assert not panel.window_combo.isHidden()
    assert panel.window_combo.currentText() == "window 1"  # no starts given: no seconds claimed


def test_selection_changed_fires_on_every_change(panel, qtbot):
    with qtbot.waitSignal(panel.selectionChanged):
        panel.set_maps(known_maps())
    for change in (
        lambda: panel.map_combo.setCurrentIndex(1),
        lambda: panel.layer_combo.setCurrentIndex(1),
        lambda: panel.head_combo.setCurrentIndex(2),
        lambda: panel.window_combo.setCurrentIndex(1),
    ):
        with qtbot.waitSignal(panel.selectionChanged, timeout=1000):
            change()


def test_choices_survive_a_new_recording_but_the_window_resets(panel):
    panel.set_maps(known_maps())
    choose(panel, layer=2, head=3)
    panel.set_window(1)
    panel.set_maps(known_maps())
    assert panel.selection_label() == "[CLS] -> beats, layer 2, head 3"
    assert panel.current_window() == 0


def click_cell(qtbot, panel: AttentionPanel, x: float, y: float) -> None:
    """A real mouse click at view coordinates (x = beat, y = lead row)."""
    scene = panel.plot.getViewBox().mapViewToScene(QtCore.QPointF(x, y))
    qtbot.mouseClick(
        panel.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=panel.plot.mapFromScene(scene)
    )


def test_clicking_a_cell_names_lead_window_and_beat(panel, qtbot):
    panel.set_maps(known_maps(), [0.0, 10.0])
    panel.set_window(1)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.beatClicked) as blocker:
        click_cell(qtbot, panel, 3.5, 5.5)
    assert blocker.args == ["aVF", 1, 3]
    with qtbot.waitSignal(panel.beatClicked) as blocker:
        click_cell(qtbot, panel, 14.5, 11.5)
    assert blocker.args == ["V6", 1, 14]
    with qtbot.assertNotEmitted(panel.beatClicked):
        click_cell(qtbot, panel, -0.5, 3.5)  # on the lead axis
        click_cell(qtbot, panel, 13.5, 0.5)  # lead I beat 14: padded in window 2
        qtbot.wait(50)


def test_none_clears_and_disables(panel):
    panel.set_maps(known_maps())
    panel.map_combo.setCurrentIndex(1)
    panel.set_maps(None)
    assert panel.current() is None
    assert panel.image.image is None
    assert panel.selection_label() == ""
    assert not any(
        c.isEnabled() for c in (panel.map_combo, panel.layer_combo, panel.head_combo, panel.window_combo)
    )
    assert panel.window_combo.isHidden()


def test_mismatched_maps_are_refused(panel):
    maps = known_maps()
    with pytest.raises(ValueError, match="do not match"):
        panel.set_maps(Maps(maps.cls_to_beats[:, :, :, :, :10], maps.rollout))
    with pytest.raises(ValueError, match="3 window starts for 2 windows"):
        panel.set_maps(maps, [0.0, 10.0, 20.0])


def test_lead_ticks_follow_the_contract_order_with_lead_I_on_top(panel):
    ticks = panel.plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == list(contract.LEADS)
    assert panel.plot.getViewBox().yInverted()


def test_imports_without_torch():
    code = "import sys, ecgviewer.gui.attention_view; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_patch_encoders_maps_name_their_readout(panel):
    """A patch-token encoder has no [CLS]: the map and the legend say what reads each lead."""
    panel.set_maps(dataclasses.replace(known_maps(), readout="lead tokens"), [0.0, 10.0])
    assert panel.map_combo.itemText(1) == "lead tokens -> beats"
    panel.map_combo.setCurrentIndex(1)
    assert panel.selection_label().startswith("lead tokens -> beats, ")
    panel.set_maps(known_maps(), [0.0, 10.0])
    assert panel.map_combo.itemText(1) == "[CLS] -> beats"
