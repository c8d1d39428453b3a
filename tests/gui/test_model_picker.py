"""Tools > Preferences > Model (pytest-qt, offscreen): the installed models listed with the one in
use marked, switching the window's analyzer off the UI thread and analysing again, adding a file,
the card, a model that cannot load, and a stored choice whose file has gone. No modal dialog runs:
the file dialog and the desktop services are replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from safetensors.numpy import load_file, save_file

from ecgviewer import assets
from ecgviewer.gui import preferences
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.settings import Settings
from ecgviewer.render.options import THEMES
from tests.helpers import copy_model

TIMEOUT_MS = 120_000  # the first model load in a process imports torch
BUNDLED = assets.model_path()


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-models"
    monkeypatch.setenv("ECGVIEWER_MODELS", str(folder))
    return folder


def make_window(qtbot, tmp_path: Path, model: str | None = None) -> MainWindow:
    """A window with the AI on and its model loaded (``model``: the stored ``ai/model``)."""
    qs = QtCore.QSettings(str(tmp_path / "picker.ini"), QtCore.QSettings.Format.IniFormat)
    qs.setValue("measure/enabled", "false")
    if model is not None:
        qs.setValue("ai/model", model)
    w = MainWindow(Settings(qs))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    if w.ai.analyzer is None:
        with qtbot.waitSignal(w.ai.modelReady, timeout=TIMEOUT_MS):
            w.ai.load_model()
    return w


def open_preferences(w: MainWindow) -> preferences.ModelPage:
    action = next(a for a in w.actions() if a.text() == "&Preferences\u2026")
    assert action.shortcut() == QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Preferences)
    action.trigger()
    assert w.preferences is not None and w.preferences.isVisible() and not w.preferences.isModal()
    w.preferences.pages.setCurrentWidget(w.preferences.model_page)
    return w.preferences.model_page


def rows(page: preferences.ModelPage) -> list[list[str]]:
    t = page.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def select(page: preferences.ModelPage, path: Path) -> None:
    page.table.selectRow(next(i for i, m in enumerate(page.models) if m.path == path))


def test_choosing_a_user_model_reloads_the_analyzer_and_reanalyses(qtbot, tmp_path, user_dir, sample):
    mine = copy_model(user_dir, "mine", "My model")
    (user_dir / "broken.safetensors").write_bytes(b"garbage")
    w = make_window(qtbot, tmp_path)
    method = w.ai.panel.explain.method
    method.setCurrentIndex(method.findData("gxi"))  # the cheapest attribution: this test is about models
    with qtbot.waitSignal(w.ai.resultShown, timeout=TIMEOUT_MS):
        w.open_file(sample)
    page = open_preferences(w)
    table = rows(page)
    assert [r[1] for r in table] == ["clear-hug-bundled", "broken", "My model"]
    assert table[0][0] == preferences.CURRENT_MARK and table[0][6] == "bundled"
    assert table[0][5] == f"{page.models[0].auroc:.3f} (super)" and table[0][4] == "super (5), all (71)"
    assert table[1][2].startswith("cannot be used: broken.safetensors: not a readable safetensors file")
    assert table[2][0] == "" and table[2][6] == "user" and "beats" in table[2][2]
    assert not page.use_button.isEnabled()  # the bundled one is selected: already in use
    select(page, user_dir / "broken.safetensors")
    assert not page.use_button.isEnabled() and not page.card_button.isEnabled()
    assert page.status.text().startswith("Cannot be used: broken.safetensors: not a readable")

    first = w.ai.analyzer
    select(page, mine)
    assert page.use_button.isEnabled()
    with qtbot.waitSignal(w.ai.resultShown, timeout=TIMEOUT_MS) as shown:
        page.use_button.click()
        assert w.ai.analyzer is first  # the old model works on while the new one loads
        qtbot.waitUntil(lambda: w.ai.analyzer.model_file == mine, timeout=TIMEOUT_MS)
    assert shown.args[0].analysis.predictions.tasks["super"]  # the open recording, analysed again
    assert w.settings.value("ai/model") == str(mine.resolve())
    assert "My model" in w.ai.panel.diagnosis.notice.text()
    assert "Research use, not a medical device" in w.ai.panel.diagnosis.notice.text()
    assert rows(page)[2][0] == preferences.CURRENT_MARK and rows(page)[0][0] == ""
    assert w.ai.current_model() == mine


def test_the_card_button_opens_the_chosen_models_card_inside_the_app(qtbot, tmp_path, user_dir, monkeypatch):
    """The card is shown by the app itself (no desktop opener is needed, none is called), with
    the research-use notice; a model without a Markdown card cannot open one."""
    mine = copy_model(user_dir, "mine")
    mine.with_suffix(".md").unlink()
    opened: list[QtCore.QUrl] = []
    monkeypatch.setattr(QtGui.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    w = make_window(qtbot, tmp_path)
    page = open_preferences(w)
    select(page, BUNDLED)
    page.card_button.click()
    dialog = page.card_dialog
    assert dialog.isVisible() and not opened
    shown = dialog.browser.toPlainText()
    assert shown and shown.split("\n")[0].strip("# ") in BUNDLED.with_suffix(".md").read_text()
    assert BUNDLED.stem in dialog.windowTitle()
    dialog.close()
    select(page, mine)
    assert not page.card_button.isEnabled()  # no Markdown card beside it


def test_adding_a_model_file_installs_it_and_a_bad_card_is_refused(qtbot, tmp_path, user_dir, monkeypatch):
    source = copy_model(tmp_path / "downloads", "added", "Added model")
    chosen = {"path": str(source)}
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *_a, **_k: (chosen["path"], ""))
    w = make_window(qtbot, tmp_path)
    page = open_preferences(w)
    page.add_button.click()
    target = user_dir / "added.safetensors"
    assert target.read_bytes() == source.read_bytes()
    assert page.selected().path == target and "Added Added model" in page.status.text()
    assert [r[1] for r in rows(page)] == ["clear-hug-bundled", "Added model"]

    bad = copy_model(tmp_path / "downloads", "bad")
    card = json.loads(bad.with_suffix(".json").read_text())
    card["weights_sha256"] = "0" * 64
    bad.with_suffix(".json").write_text(json.dumps(card))
    chosen["path"] = str(bad)
    page.add_button.click()
    assert page.status.text() == "Not added: bad.safetensors: weights do not match the SHA-256 in bad.json"
    assert not (user_dir / "bad.safetensors").exists()


def test_a_model_that_cannot_load_leaves_the_one_in_use(qtbot, tmp_path, user_dir):
    """The registry lists it (its header is a classifier's); ``load_model`` refuses it, and the
    dialog says why without a modal box."""
    user_dir.mkdir()
    old = user_dir / "old-contract.safetensors"
    from safetensors import safe_open

    with safe_open(str(BUNDLED), framework="numpy") as f:
        config = json.loads(f.metadata()["config"])
    config["contract"] = "0"
    save_file(load_file(str(BUNDLED)), str(old), {"config": json.dumps(config)})
    w = make_window(qtbot, tmp_path)
    page = open_preferences(w)
    select(page, old)
    assert page.use_button.isEnabled()
    with qtbot.waitSignal(w.ai.modelFailed, timeout=TIMEOUT_MS):
        page.use_button.click()
    assert "preprocessing contract 0" in page.status.text()
    assert w.ai.analyzer.model_file == BUNDLED and w.settings.value("ai/model") is None
    assert "still using clear-hug-bundled" in w.ai.panel.diagnosis.status.text()


def test_a_stored_model_that_has_gone_falls_back_to_the_bundled_one(qtbot, tmp_path, user_dir):
    gone = tmp_path / "gone" / "mine.safetensors"
    w = make_window(qtbot, tmp_path, model=str(gone))
    assert w.ai.analyzer.model_file == BUNDLED
    message = w.statusBar().currentMessage()
    assert str(gone) in message and "bundled" in message
    w.statusBar().clearMessage()
    assert w.ai.current_model() == BUNDLED and w.ai.chosen_model() == BUNDLED
    assert w.statusBar().currentMessage() == ""  # said once
    assert w.settings.value("ai/model") == str(gone)  # kept for when the file is back


def test_the_window_without_a_loaded_model_lists_the_stored_choice_as_current(qtbot, tmp_path, user_dir):
    """Before the model loads (or with the AI off), the page marks the stored choice."""
    mine = copy_model(user_dir, "mine")
    qs = QtCore.QSettings(str(tmp_path / "off.ini"), QtCore.QSettings.Format.IniFormat)
    qs.setValue("ai/enabled", "false")
    qs.setValue("measure/enabled", "false")
    qs.setValue("ai/model", str(mine))
    w = MainWindow(Settings(qs))
    qtbot.addWidget(w)
    page = open_preferences(w)
    assert w.ai.analyzer is None
    assert [r[0] for r in rows(page)] == ["", preferences.CURRENT_MARK]
    assert page.selected().path == mine


def test_the_paper_and_reading_pages_apply_at_once_and_are_kept(qtbot, tmp_path):
    """Preferences > Paper sets what the toolbar sets (and follows it); Reading keeps the reader's
    name and sets the measurements' QTc formula; both are there at the next start."""
    from ecgviewer.gui import actions

    w = make_window(qtbot, tmp_path)
    open_preferences(w)
    paper, reading = w.preferences.paper_page, w.preferences.reading_page
    w.preferences.pages.setCurrentWidget(paper)
    layout = paper.combos["layout"]
    layout.setCurrentIndex(layout.findData("12x1"))
    layout.activated.emit(layout.currentIndex())
    assert w.paper.options.layout == "12x1" and w.combos["layout"].currentData() == "12x1"
    speed = next(c for c in actions.CONTROLS if c.key == "speed")
    actions.choose(w, speed, 50.0)  # the toolbar's way: the page follows
    assert paper.combos["speed"].currentData() == 50.0
    w.preferences.pages.setCurrentWidget(reading)  # hidden, the page does not follow a pan or change...
    actions.choose(w, speed, 25.0)
    assert paper.combos["speed"].currentData() == 50.0
    w.preferences.pages.setCurrentWidget(paper)  # ...and is right again when shown
    assert paper.combos["speed"].currentData() == 25.0
    actions.choose(w, speed, 50.0)
    colours = paper.colours  # the paper's colours: the sheet's grid follows at once
    colours.setCurrentIndex(colours.findData("green"))
    colours.activated.emit(colours.currentIndex())
    assert w.paper.options.theme == "green" and w.paper._sheet._colors[2] == THEMES["green"].major
    reading.reader.setText("  Dr  A. Reader ")
    reading.reader.editingFinished.emit()
    reading.qtc.setCurrentIndex(reading.qtc.findData("Fridericia"))
    reading.qtc.activated.emit(reading.qtc.currentIndex())
    assert w.measure.panel.current_formula() == "Fridericia"
    w.close()
    again = make_window(qtbot, tmp_path)
    assert again.paper.options.layout == "12x1" and again.paper.options.speed == 50.0
    assert again.paper.options.theme == "green"
    assert again.settings.reader() == "Dr A. Reader" and again.settings.qtc_formula() == "Fridericia"
    open_preferences(again)
    again.preferences.refresh()
    assert again.preferences.reading_page.reader.text() == "Dr A. Reader"
    assert str(again.library.library_path()) == again.preferences.reading_page.library.text()
