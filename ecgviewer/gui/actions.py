"""The window's menus, shortcuts and toolbar, declared as data (in the manner of napari's
``app_model``): one row per command, so what the app can do, where it sits and which key runs it
can be read (and tested) in one place. ``build`` turns the tables into Qt actions and widgets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.dsp.filters import HIGHPASS_CHOICES, LOWPASS_CHOICES, NOTCH_CHOICES
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.render.layout import GAINS, LAYOUTS, SPEEDS

if TYPE_CHECKING:
    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.render.options import ViewOptions

Keys = QtGui.QKeySequence.StandardKey
ZOOM_STEP = 1.25


@dataclass(frozen=True)
class Command:
    """A menu entry: ``run(window)`` gives the slot (called with ``checked`` when ``checkable``);
    ``name``: the window attribute that keeps the action (tests and other code use it)."""

    menu: str
    text: str
    run: Callable[[MainWindow], Callable]
    shortcut: str | QtGui.QKeySequence.StandardKey | None = None
    checkable: bool = False
    tip: str = ""
    name: str | None = None
    separator: bool = False  # a separator goes before it
    submenu: bool = False  # a submenu whose entries ``run(window)`` fills as it opens


def _step(seconds: float) -> Callable[[MainWindow], Callable]:
    return lambda w: lambda: w.paper.set_t0(w.paper.t0 + seconds)


def _pages(n: int) -> Callable[[MainWindow], Callable]:
    def go(w: MainWindow) -> None:
        if w.paper.page is not None:
            w.paper.set_t0(w.paper.t0 + n * w.paper.page.span)

    return lambda w: lambda: go(w)


def _zoom(factor: float) -> Callable[[MainWindow], Callable]:
    return lambda w: lambda: w.paper.set_zoom(w.paper.zoom * factor)


COMMANDS: tuple[Command, ...] = (
    Command("&File", "&Open\u2026", lambda w: w.choose_file, Keys.Open),
    Command("&File", "Open &folder\u2026", lambda w: w.choose_folder, "Ctrl+Shift+O"),
    Command("&File", "&Library…", lambda w: w.show_library, "Ctrl+L",
            tip="Find recordings in the library: qtc>480 sex=F, statement=CLBBB qrs>150, finding=MI>0.5"),
    Command("&File", "Open &recent", lambda w: w.fill_recent, submenu=True, name="recent_menu"),
    Command("&File", "&Save as WFDB or EDF+\u2026", lambda w: w.choose_save_path, Keys.SaveAs,
            tip="Write the recording as a WFDB record or an EDF+ file (lossless; identifiers left out)",
            name="save_action"),
    Command("&File", "&Export page image\u2026", lambda w: w.export_image, "Ctrl+E"),
    Command("&File", "Export &report (PDF or PNG)\u2026", lambda w: w.choose_report_path, Keys.Print,
            tip="The standard page at true scale with measurements and AI findings, then attributions"),
    Command("&File", "&Quit", lambda w: w.close, Keys.Quit, separator=True),
    Command("&View", "True scale (zoom 1)", lambda w: w.paper.true_scale, "Ctrl+0"),
    Command("&View", "Fit page", lambda w: w.paper.fit_page, "Ctrl+9"),
    Command("&View", "Automatic scale", lambda w: w.paper.auto_scale, "Ctrl+8",
            tip="True scale when the page fits the window, else the whole page fitted to it (the start)"),
    Command("&View", "&Median beats", lambda w: w.show_median, "M", checkable=True, name="median_action",
            tip="The median beat of each lead at 50 mm/s in the paper's place, with draggable fiducials"),
    Command("&View", "Zoom in", _zoom(ZOOM_STEP), Keys.ZoomIn),
    Command("&View", "Zoom out", _zoom(1 / ZOOM_STEP), Keys.ZoomOut),
    Command("&View", "Dark paper", lambda w: w.set_dark, "Ctrl+D", checkable=True, name="dark_action",
            separator=True),
    Command("&View", "Calibrate screen\u2026", lambda w: w.calibrate_screen),
    Command("&View", "Show patient &identifiers", lambda w: w.show_info, checkable=True,
            tip="Show the patient's name, ID and birth date from the file (off at every start)",
            name="identifiers_action"),
    Command("&Navigate", "Forward 1 s", _step(1.0), "Right"),
    Command("&Navigate", "Back 1 s", _step(-1.0), "Left"),
    Command("&Navigate", "Next page", _pages(1), "PgDown"),
    Command("&Navigate", "Previous page", _pages(-1), "PgUp"),
    Command("&Navigate", "Start", lambda w: lambda: w.paper.set_t0(0.0), "Home"),
    Command("&Navigate", "End", lambda w: lambda: w.paper.set_t0(w.paper.max_t0()), "End"),
    Command("&Tools", "&Calipers", lambda w: w.calipers.set_enabled, "C", checkable=True,
            tip="Time and amplitude calipers across all leads", name="caliper_action"),
    Command("&Tools", "&AI analysis", lambda w: w.set_ai_enabled, "Ctrl+Shift+A", checkable=True,
            tip="Diagnosis, attributions and attention from the chosen model (research use)",
            name="ai_action", separator=True),
    Command("&Tools", "&Measurements", lambda w: w.set_measure_enabled, "Ctrl+Shift+M", checkable=True,
            tip="Intervals, QTc and axes on the median beats, from the bundled delineator",
            name="measure_action"),
    Command("&Tools", "Compare with &earlier ECG", lambda w: w.compare_earlier, "Ctrl+Shift+C",
            tip="This ECG above the same patient's previous one in the library, median beats overlaid, "
                "and what changed", separator=True),
    Command("&Tools", "&Preferences\u2026", lambda w: w.show_preferences, Keys.Preferences,
            tip="The model the AI analysis runs: the bundled one or one you added",
            name="preferences_action", separator=True),
    Command("&Help", "&Keyboard shortcuts", lambda w: w.show_shortcuts, "F1"),
    Command("&Help", "&Model card\u2026", lambda w: lambda: w.ai.show_model_card()),
    Command("&Help", "&About ecgviewer", lambda w: w.show_about),
)  # fmt: skip
MENUS = ("&File", "&View", "&Paper", "&Navigate", "&Tools", "&Help")
DOCKS = (
    "browser_dock",
    "library_dock",
    "info_dock",
    "measure_dock",
    "beats_dock",
    "ai_dock",
)  # shown and hidden in the View menu


def _hz(v: float | None) -> str:
    return "off" if v is None else f"{v:g} Hz"


@dataclass(frozen=True)
class Control:
    """A paper setting, offered twice: a toolbar box and a submenu of the Paper menu (so it is
    reachable from the keyboard: the boxes keep the arrow keys for the paper). ``key`` names the
    view option it sets (``filter`` ones: the display filter's field), ``label`` the text before
    the box, ``title`` the submenu."""

    key: str
    items: tuple[tuple[str, object], ...]
    title: str
    tip: str
    label: str = ""
    filter: bool = False
    separator: bool = False  # a separator goes before it


CONTROLS: tuple[Control, ...] = (
    Control("layout", tuple((x, x) for x in LAYOUTS), "&Layout",
            "Rows x columns of the page; +1 and +3 add rhythm strips"),
    Control("order", (("Standard", "standard"), ("Cabrera", "cabrera")), "Lead &order",
            "Standard (I, II, III, aVR, aVL, aVF) or Cabrera (aVL, I, -aVR, II, aVF, III)"),
    Control("rhythm", (("default", ()), *((x, (x,)) for x in STANDARD_LEADS)), "&Rhythm lead",
            "The lead of the rhythm strip (default: II; V1, II, V5 for 3x4+3)", " Rhythm "),
    Control("speed", tuple((f"{s:g} mm/s", s) for s in SPEEDS), "&Speed", "Paper speed", separator=True),
    Control("gain", tuple((f"{g:g} mm/mV", g) for g in GAINS), "&Gain", "Millimetres per millivolt"),
    Control("highpass", tuple((_hz(v), v) for v in HIGHPASS_CHOICES), "&High-pass filter",
            "Display high-pass, zero-phase (-3 dB point): removes baseline wander", " HP ",
            filter=True, separator=True),
    Control("lowpass", tuple((_hz(v), v) for v in LOWPASS_CHOICES), "Lo&w-pass filter",
            "Display low-pass, zero-phase (-3 dB point): removes muscle noise", " LP ", filter=True),
    Control("notch", tuple((_hz(v), v) for v in NOTCH_CHOICES), "&Notch filter",
            "Display notch at the mains frequency", " Notch ", filter=True),
)  # fmt: skip


def current(o: ViewOptions, c: Control) -> object:
    """The value ``c`` shows for options ``o``."""
    return getattr(o.filter, c.key) if c.filter else getattr(o, c.key)


def choose(w: MainWindow, c: Control, value: object) -> None:
    """Set the paper's option ``c`` to ``value``, as its toolbar box, its submenu and Preferences do."""
    o = w.paper.options
    change = {"filter": replace(o.filter, **{c.key: value})} if c.filter else {c.key: value}
    w.set_options(o.with_(**change))


def sync(w: MainWindow) -> None:
    """Every box and menu entry shows the paper's current options."""
    for c in CONTROLS:
        value = current(w.paper.options, c)
        combo = w.combos[c.key]
        combo.setCurrentIndex(max(0, combo.findData(value)))
        for act in w.control_actions[c.key]:
            act.setChecked(act.data() == value)


def build(w: MainWindow) -> None:
    """Menus, actions (kept on the window under their ``name``) and the paper's toolbar."""
    menus = {title: w.menuBar().addMenu(title) for title in MENUS}
    for c in COMMANDS:
        menu = menus[c.menu]
        if c.separator:
            menu.addSeparator()
        if c.submenu:
            sub = menu.addMenu(c.text)
            sub.aboutToShow.connect(c.run(w))
            setattr(w, c.name or c.text, sub)
            continue
        act = QtGui.QAction(c.text, w, checkable=c.checkable)
        if c.shortcut is not None:
            act.setShortcut(QtGui.QKeySequence(c.shortcut))
        if c.tip:
            act.setStatusTip(c.tip)
        act.triggered.connect(c.run(w))
        menu.addAction(act)
        w.addAction(act)  # shortcuts work while the menus are closed
        if c.name:
            setattr(w, c.name, act)
    w.preferences_action.setMenuRole(QtGui.QAction.MenuRole.PreferencesRole)  # macOS: app menu
    menus["&View"].addSeparator()
    for attr in DOCKS:
        menus["&View"].addAction(getattr(w, attr).toggleViewAction())
    for c in CONTROLS:
        _submenu(w, menus["&Paper"], c)

    tb = w.addToolBar("Paper")
    tb.setObjectName("paper-toolbar")
    for c in CONTROLS:
        if c.separator:
            tb.addSeparator()
        if c.label:
            tb.addWidget(QtWidgets.QLabel(c.label))
        tb.addWidget(_combo(w, c))
    tb.addSeparator()
    tb.addAction(w.caliper_action)


def _combo(w: MainWindow, c: Control) -> QtWidgets.QComboBox:
    combo = QtWidgets.QComboBox()
    combo.setObjectName(c.key)
    combo.setToolTip(f"{c.tip} (also Paper > {c.title.replace('&', '')})")
    for text, value in c.items:
        combo.addItem(text, value)
    combo.activated.connect(lambda _index: choose(w, c, combo.currentData()))
    combo.setFocusPolicy(QtCore.Qt.FocusPolicy.TabFocus)  # a click leaves the arrow keys to the paper
    w.combos[c.key] = combo
    return combo


def _submenu(w: MainWindow, menu: QtWidgets.QMenu, c: Control) -> None:
    """The control's choices as a submenu of exclusive entries."""
    if c.separator:
        menu.addSeparator()
    sub = menu.addMenu(c.title)
    sub.setToolTipsVisible(True)
    group = QtGui.QActionGroup(sub, exclusive=True)
    w.control_actions[c.key] = []
    for text, value in c.items:
        act = QtGui.QAction(text, group, checkable=True)
        act.setData(value)
        act.setStatusTip(c.tip)
        act.triggered.connect(lambda _checked, value=value: choose(w, c, value))
        sub.addAction(act)
        w.control_actions[c.key].append(act)
