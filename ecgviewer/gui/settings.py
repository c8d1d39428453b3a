"""Persistent user settings (QSettings), read defensively: a damaged file falls back to defaults."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore

from ecgviewer import assets
from ecgviewer.dsp.filters import HIGHPASS_CHOICES, LOWPASS_CHOICES, NOTCH_CHOICES, DisplayFilter
from ecgviewer.measure.intervals import DEFAULT_QTC, QTC_FORMULAS
from ecgviewer.render.layout import GAINS, LAYOUTS, ORDERS, SPEEDS
from ecgviewer.render.options import THEMES, ViewOptions

MAX_RECENT = 10


def _choice(value: object, choices: tuple, default: object) -> object:
    """The member of ``choices`` that ``value`` (as QSettings stored it) stands for, else default."""
    text = str(value).strip()
    for c in choices:
        if text == str(c) or (c is None and text in ("", "off")):
            return c
        if isinstance(c, float):
            try:
                if float(text) == c:
                    return c
            except ValueError:
                continue
    return default


class Settings:
    """Typed access to the app's QSettings (``ECGVIEWER_SETTINGS`` names an INI file instead)."""

    def __init__(self, qsettings: QtCore.QSettings | None = None) -> None:
        if qsettings is None:
            path = os.environ.get("ECGVIEWER_SETTINGS")
            qsettings = (
                QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
                if path
                else QtCore.QSettings("ecgviewer", "ecgviewer")
            )
        self.qs = qsettings

    def view_options(self) -> ViewOptions:
        d = ViewOptions()
        g = self.qs.value
        rhythm = tuple(x for x in str(g("view/rhythm", "") or "").split(",") if x)
        flt = DisplayFilter(
            _choice(g("filter/highpass", d.filter.highpass), HIGHPASS_CHOICES, d.filter.highpass),
            _choice(g("filter/lowpass", d.filter.lowpass), LOWPASS_CHOICES, d.filter.lowpass),
            _choice(g("filter/notch", d.filter.notch), NOTCH_CHOICES, d.filter.notch),
        )
        return ViewOptions(
            layout=_choice(g("view/layout", d.layout), LAYOUTS, d.layout),
            order=_choice(g("view/order", d.order), ORDERS, d.order),
            rhythm=rhythm,
            speed=_choice(g("view/speed", d.speed), SPEEDS, d.speed),
            gain=_choice(g("view/gain", d.gain), GAINS, d.gain),
            filter=flt,
            theme=_choice(g("view/theme", d.theme), tuple(THEMES), d.theme),
        )

    def save_view_options(self, o: ViewOptions) -> None:
        s = self.qs.setValue
        s("view/layout", o.layout)
        s("view/order", o.order)
        s("view/rhythm", ",".join(o.rhythm))
        s("view/speed", o.speed)
        s("view/gain", o.gain)
        s("view/theme", o.theme)
        s("filter/highpass", "off" if o.filter.highpass is None else o.filter.highpass)
        s("filter/lowpass", "off" if o.filter.lowpass is None else o.filter.lowpass)
        s("filter/notch", "off" if o.filter.notch is None else o.filter.notch)

    def px_per_mm(self) -> float | None:
        """The user's screen calibration, or None for the screen's own figure."""
        try:
            v = float(self.qs.value("screen/px_per_mm", 0) or 0)
        except (TypeError, ValueError):
            return None
        return v if 1.0 <= v <= 40.0 else None

    def set_px_per_mm(self, value: float | None) -> None:
        if value is None:
            self.qs.remove("screen/px_per_mm")
        else:
            self.qs.setValue("screen/px_per_mm", float(value))

    def qtc_formula(self) -> str:
        """The QTc formula the measurement panel shows (Bazett until the user picks another)."""
        return str(_choice(self.qs.value("measure/qtc", DEFAULT_QTC), tuple(QTC_FORMULAS), DEFAULT_QTC))

    def set_qtc_formula(self, name: str) -> None:
        self.qs.setValue("measure/qtc", name)

    def reader(self) -> str:
        """The reader's name, as an over-read will be confirmed with (empty until given)."""
        return str(self.qs.value("reader/name", "") or "")

    def set_reader(self, name: str) -> None:
        self.qs.setValue("reader/name", " ".join(name.split()))

    def model_file(self) -> tuple[Path, str | None]:
        """The classifier the AI panel runs (``ai/model``; the bundled one by default) and, when the
        stored file has gone, a note that the bundled one stands in (the choice itself is kept:
        a drive that is only unmounted today should not lose it)."""
        bundled = assets.model_path()
        stored = str(self.qs.value("ai/model", "") or "")
        if not stored:
            return bundled, None
        path = Path(stored)
        if path.is_file():
            return path, None
        return bundled, f"The chosen model {path} is gone: using the bundled model"

    def set_model_file(self, path: Path) -> None:
        """Remember ``path``; the bundled model is stored as no choice, so an update that moves
        the installation keeps finding it."""
        if Path(path).resolve() == assets.model_path().resolve():
            self.qs.remove("ai/model")
        else:
            self.qs.setValue("ai/model", str(Path(path).resolve()))

    def recent_files(self) -> list[str]:
        v = self.qs.value("files/recent", [])
        items = [v] if isinstance(v, str) else list(v or [])
        return [str(x) for x in items if x][:MAX_RECENT]

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent_files() if p != path]
        self.qs.setValue("files/recent", items[:MAX_RECENT])

    def value(self, key: str, default: object = None) -> object:
        return self.qs.value(key, default)

    def set_value(self, key: str, value: object) -> None:
        self.qs.setValue(key, value)
