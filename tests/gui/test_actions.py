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
