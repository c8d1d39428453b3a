"""What the user chose for the paper: layout, order, speed, gain, filters, theme."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ecgviewer.dsp.filters import DisplayFilter
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.render.layout import Page, page_layout

if TYPE_CHECKING:
    from ecgviewer.recording import Recording

MM_PER_INCH = 25.4
DEFAULT_PX_PER_MM = 96.0 / MM_PER_INCH


@dataclass(frozen=True)
class Theme:
    name: str
    paper: str
    minor: str
    major: str
    ink: str
    text: str
    marks: str  # calipers
    desk: str  # around the sheet


THEMES = {
    "light": Theme("light", "#ffffff", "#f7cfcf", "#e08d8d", "#000000", "#202020", "#0060c0", "#d9dadc"),
    "green": Theme("green", "#ffffff", "#d3ead3", "#86bf86", "#000000", "#202020", "#0060c0", "#d9dadc"),
    "grey": Theme("grey", "#ffffff", "#e2e2e2", "#a9a9a9", "#000000", "#202020", "#0060c0", "#d9dadc"),
    "dark": Theme("dark", "#141619", "#3a2629", "#6e3b42", "#ececec", "#d8d8d8", "#40b0ff", "#050607"),
}
# The paper colours the reader chooses from (Preferences > Paper): the red grid of most carts'
# printouts, the green and grey grids of others, and dark paper for a dim reading room. Print is
# on the red grid whatever the screen shows (``report.pages``).
THEME_NAMES = {"light": "Red grid on white", "green": "Green grid on white", "grey": "Grey grid on white",
               "dark": "Dark paper"}  # fmt: skip


@dataclass(frozen=True)
class ViewOptions:
    layout: str = "3x4+1"
    order: str = "standard"
    rhythm: tuple[str, ...] = ()  # empty: the layout's default rhythm leads
    speed: float = 25.0  # mm/s
    gain: float = 10.0  # mm/mV
    filter: DisplayFilter = field(default_factory=lambda: DisplayFilter(0.5, 150.0, None))
    theme: str = "light"

    def with_(self, **changes: object) -> ViewOptions:
        return replace(self, **changes)  # type: ignore[arg-type]

    def scale_label(self) -> str:
        return f"{self.speed:g} mm/s, {self.gain:g} mm/mV"


def recording_page(options: ViewOptions, rec: Recording, t0: float) -> Page:
    """``rec``'s page from ``t0`` seconds as ``options`` lay it out: the screen's and the print's."""
    return page_layout(
        options.layout,
        rec.leads,
        t0=t0,
        speed=options.speed,
        gain=options.gain,
        order=options.order,
        rhythm=options.rhythm or None,
        derived=rec.derived,
        recording_s=rec.duration,
    )


def page_caption(options: ViewOptions, rec: Recording, page: Page, name: bool = True) -> str:
    """Speed, gain, the display filter and the seconds shown: under every page, on screen and in print."""
    t1 = min(rec.duration, page.t0 + page.span)
    who = f"{rec.name}  " if name else ""
    text = (
        f"{options.scale_label()}   Filter: {options.filter.label(rec.fs)} (display only)"
        f"   {who}{page.t0:.1f}\u2013{t1:.1f} s of {rec.duration:.1f} s"
    )
    if page.stacked and page.layout != "12x1":  # the layout chosen is not what is drawn: say why
        standard = len({p.lead for p in page.panels} & set(STANDARD_LEADS))
        text += f"   Strips: {standard} of 12 standard leads"
    if page.unplaced:
        text += f"   Not in this layout: {', '.join(page.unplaced)}"
    return text
