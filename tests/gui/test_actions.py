"""The window's commands as data (``gui.actions``): every row becomes a working action, no two
share a key, and the menus hold what the table says."""

from __future__ import annotations

from ecgviewer.gui import actions


def test_no_two_commands_share_a_shortcut(window) -> None:
    keys = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_every_command_is_in_its_menu_and_named_ones_are_kept(window) -> None:
    titles = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert set(titles) == set(actions.MENUS)
    for c in actions.COMMANDS:
        entries = [a.text() for a in titles[c.menu].actions()]
        assert c.text in entries, (c.menu, c.text)
        if c.name:
            assert getattr(window, c.name) is not None


def test_toolbar_choices_set_the_view_options(qtbot, window) -> None:
    for c in actions.CONTROLS:
        combo = window.combos[c.key]
        last = combo.count() - 1
        combo.setCurrentIndex(last)
        combo.activated.emit(last)
        o = window.paper.options
        assert (getattr(o.filter, c.key) if c.filter else getattr(o, c.key)) == combo.itemData(last)


def test_every_paper_setting_is_in_the_paper_menu_and_both_follow_the_options(window) -> None:
    """The toolbar boxes keep the arrow keys for the paper, so each setting is also a Paper
    submenu (reachable with Alt+P); choosing in one shows in the other."""
    paper = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Paper")
    subs = {a.text(): a.menu() for a in paper.actions() if a.menu() is not None}
    for c in actions.CONTROLS:
        entries = subs[c.title].actions()
        assert [a.text() for a in entries] == [text for text, _ in c.items]
        entries[-1].trigger()
        o = window.paper.options
        assert actions.current(o, c) == c.items[-1][1]
        assert window.combos[c.key].currentData() == c.items[-1][1]
        assert [a.isChecked() for a in entries].count(True) == 1 and entries[-1].isChecked()
        window.combos[c.key].setCurrentIndex(0)
        window.combos[c.key].activated.emit(0)
        assert entries[0].isChecked() and actions.current(window.paper.options, c) == c.items[0][1]


def test_every_control_has_a_tooltip_and_the_keyboard_reaches_it(window) -> None:
    """Buttons, boxes, sliders and fields the app made (not Qt's own parts) say what they do, and
    take keyboard focus with Tab, or run an action that has a key."""
    from PySide6 import QtCore, QtWidgets

    kinds = (
        QtWidgets.QAbstractButton,
        QtWidgets.QComboBox,
        QtWidgets.QAbstractSlider,
        QtWidgets.QAbstractSpinBox,
        QtWidgets.QLineEdit,
    )
    internal = (QtWidgets.QScrollBar, QtWidgets.QTabBar, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit)
    missing, unreachable = [], []
    for widget in window.findChildren(QtWidgets.QWidget):
        if not isinstance(widget, kinds) or isinstance(widget, QtWidgets.QScrollBar):
            continue
        if widget.objectName().startswith("qt_") or isinstance(widget.parent(), internal):
            continue  # Qt's own parts: a dock's title buttons, a field's clear button, tab scrollers
        name = getattr(widget, "text", lambda: "")() or widget.objectName() or type(widget).__name__
        if not widget.toolTip():
            missing.append(name)
        keyed = isinstance(widget, QtWidgets.QToolButton) and widget.defaultAction() is not None
        if not widget.focusPolicy() & QtCore.Qt.FocusPolicy.TabFocus and not (
            keyed and not widget.defaultAction().shortcut().isEmpty()
        ):
            unreachable.append(name)
    assert not missing, missing
    assert not unreachable, unreachable
