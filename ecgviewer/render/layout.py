"""Paper geometry: where each lead's trace sits on the ECG page, in millimetres.

Pure Python so the GUI, the CLI renderer, reports and tests share one definition.
x runs right, y runs up (pyqtgraph's convention); one unit is one paper millimetre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ecgviewer.leads import CABRERA_LIMB, STANDARD_LEADS

SPEEDS = (10.0, 12.5, 25.0, 50.0)  # mm/s
GAINS = (5.0, 10.0, 20.0)  # mm/mV
LAYOUTS = ("3x4", "3x4+1", "3x4+3", "6x2", "12x1")
ORDERS = ("standard", "cabrera")
TRACE_WIDTH_MM = 250.0  # 10 s at 25 mm/s, the standard page
MARGIN_MM = 5.0
PULSE_SECONDS = 0.2  # calibration pulse: 1 mV high, 200 ms wide
DEFAULT_RHYTHM = {"3x4+1": ("II",), "3x4+3": ("V1", "II", "V5")}
# A recording with fewer of the 12 standard leads than this (a Holter's two or three, a patch's one;
# with I and II the other four limb leads are derived) is drawn as strips, each recorded lead across
# the page, whatever the layout: a grid would be mostly "not recorded" and its traces a quarter wide.
STRIPS_BELOW = 6
# Such strips go on into the rows the chosen layout would have filled, each lead again for the
# following seconds (full disclosure, as a Holter prints), up to this many seconds a page: the
# span a long recording is analysed and measured over from the page's start (``analysis.SPAN_S``).
MAX_SWEEP_S = 30.0


@dataclass(frozen=True)
class Panel:
    """One trace on the page: which lead, which seconds, and where."""

    lead: str
    label: str
    sign: float  # -1 draws the lead inverted (Cabrera's -aVR)
    t0: float  # seconds in the recording
    t1: float
    x: float  # mm, left edge of the trace
    y: float  # mm, the 0 mV baseline
    width: float  # mm
    row: int
    col: int
    available: bool  # False: the recording has no such lead ("not recorded")


@dataclass(frozen=True)
class Page:
    panels: tuple[Panel, ...]
    width: float  # mm, whole paper
    height: float
    row_baselines: tuple[float, ...]
    pulse_x: float  # mm, where each row's calibration pulse rises
    pulse_width: float  # mm
    row_pitch: float  # mm between baselines
    speed: float
    gain: float
    t0: float
    duration: float  # seconds per page row
    layout: str
    order: str
    unplaced: tuple[str, ...]  # recording leads this layout does not show
    stacked: bool = False  # one lead a row across the page (12x1, or a recording with few leads)
    sweeps: int = 1  # a stacked page's leads again for each following ``duration`` seconds

    @property
    def span(self) -> float:
        """Seconds of the recording the page shows, from ``t0``."""
        return self.duration * self.sweeps


def page_duration(speed: float, trace_width: float = TRACE_WIDTH_MM) -> float:
    """Seconds of signal across the page at ``speed`` mm/s."""
    return trace_width / speed


def row_pitch(gain: float) -> float:
    """Baseline spacing: 3.5 mV of room, rounded up to whole 5 mm boxes."""
    return 5.0 * math.ceil(0.7 * gain)


def _limb_sequence(order: str) -> list[tuple[str, float]]:
    if order == "cabrera":
        return [(lead, float(sign)) for lead, sign in CABRERA_LIMB]
    return [(lead, 1.0) for lead in STANDARD_LEADS[:6]]


def _grid(layout: str, order: str) -> list[list[tuple[str, float]]]:
    """Columns of (lead, sign) for the multi-column formats."""
    limb = _limb_sequence(order)
    chest = [(f"V{i}", 1.0) for i in range(1, 7)]
    if layout.startswith("3x4"):
        return [limb[0:3], limb[3:6], chest[0:3], chest[3:6]]
    if layout == "6x2":
        return [limb, chest]
    raise ValueError(f"unknown layout {layout!r}")


def _label(lead: str, sign: float, derived: frozenset[str], after: float = 0.0) -> str:
    """The lead's name; ``after`` seconds past the page's start for a following sweep ("II +10 s")."""
    text = ("\u2212" if sign < 0 else "") + lead + (" (derived)" if lead in derived else "")
    return text + (f" +{after:g} s" if after else "")


def _layout_rows(layout: str, rhythm: Sequence[str] | None) -> int:
    """How many rows ``layout`` fills with the 12 leads."""
    if layout == "12x1":
        return len(STANDARD_LEADS)
    strips = len(tuple(rhythm) if rhythm else DEFAULT_RHYTHM.get(layout, ()))
    return len(_grid(layout, "standard")[0]) + strips


def page_layout(
    layout: str,
    leads: Sequence[str],
    *,
    t0: float = 0.0,
    speed: float = 25.0,
    gain: float = 10.0,
    order: str = "standard",
    rhythm: Sequence[str] | None = None,
    derived: frozenset[str] = frozenset(),
    trace_width: float = TRACE_WIDTH_MM,
    strips_below: int = STRIPS_BELOW,
    recording_s: float = math.inf,
) -> Page:
    """Place ``leads`` (the recording's) on a page in ``layout``, starting at ``t0`` seconds.

    Multi-column formats show consecutive time segments column by column, as on the
    standard paper ECG; rhythm strips and 12x1 rows span the whole page. A recording with
    fewer than ``strips_below`` of the 12 standard leads is shown stacked (as 12x1) whatever the
    layout (1: only one with none of them), its leads again for the following seconds where the
    layout's rows leave room (``MAX_SWEEP_S`` at most, no sweep past ``recording_s``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if order not in ORDERS:
        raise ValueError(f"unknown lead order {order!r}; choose standard or cabrera")
    have = set(leads)
    duration = page_duration(speed, trace_width)
    pulse_w = PULSE_SECONDS * speed
    left = 5.0 * math.ceil((pulse_w + 4.0) / 5.0)
    pitch = row_pitch(gain)

    rows: list[list[tuple[str, float, float, float]]] = []  # per row: (lead, sign, t0, t1)
    stacked = layout == "12x1" or len(have & set(STANDARD_LEADS)) < strips_below
    sweeps = 1
    if stacked:
        seq = _limb_sequence(order) + [(f"V{i}", 1.0) for i in range(1, 7)]
        seq = [s for s in seq if s[0] in have]
        seq += [(lead, 1.0) for lead in leads if lead not in STANDARD_LEADS]
        room = _layout_rows(layout, rhythm) // max(1, len(seq))
        most = min(recording_s, MAX_SWEEP_S) / duration  # no sweep past the recording's end
        sweeps = max(1, min(room, int(MAX_SWEEP_S / duration + 1e-9), math.ceil(most - 1e-9)))
        starts = [t0 + k * duration for k in range(sweeps)]
        rows = [[(lead, sign, a, a + duration)] for a in starts for lead, sign in seq]
    else:
        cols = _grid(layout, order)
        seg = duration / len(cols)
        for r in range(len(cols[0])):
            rows.append(
                [(cols[c][r][0], cols[c][r][1], t0 + c * seg, t0 + (c + 1) * seg) for c in range(len(cols))]
            )
        strips = tuple(rhythm) if rhythm else DEFAULT_RHYTHM.get(layout, ())
        rows += [[(lead, 1.0, t0, t0 + duration)] for lead in strips]

    n_rows = max(1, len(rows))
    height = n_rows * pitch + 2 * MARGIN_MM
    width = left + trace_width + MARGIN_MM
    baselines = tuple(height - MARGIN_MM - (r + 0.5) * pitch for r in range(n_rows))
    panels = []
    for r, row in enumerate(rows):
        w = trace_width / len(row)
        for c, (lead, sign, a, b) in enumerate(row):
            panels.append(
                Panel(
                    lead,
                    _label(lead, sign, derived, a - t0 if stacked else 0.0),
                    sign,
                    a,
                    b,
                    left + c * w,
                    baselines[r],
                    w,
                    r,
                    c,
                    lead in have,
                )
            )
    placed = {p.lead for p in panels}
    return Page(
        panels=tuple(panels),
        width=width,
        height=height,
        row_baselines=baselines,
        pulse_x=left - 2.0 - pulse_w,
        pulse_width=pulse_w,
        row_pitch=pitch,
        speed=speed,
        gain=gain,
        t0=t0,
        duration=duration,
        layout=layout,
        order=order,
        unplaced=tuple(lead for lead in leads if lead not in placed),
        stacked=stacked,
        sweeps=sweeps,
    )


def pulse_polyline(page: Page) -> tuple[list[float], list[float]]:
    """Each row's 1 mV calibration pulse as one NaN-separated polyline (x, y) in mm."""
    px, pw, h = page.pulse_x, page.pulse_width, page.gain  # 1 mV high = gain mm
    xs: list[float] = []
    ys: list[float] = []
    for y in page.row_baselines:
        xs += [px - 1.5, px, px, px + pw, px + pw, px + pw + 1.5, math.nan]
        ys += [y, y, y + h, y + h, y, y, math.nan]
    return xs, ys


def column_ticks(page: Page) -> tuple[list[float], list[float]]:
    """Short vertical marks where one column's seconds end and the next's begin, as pairs."""
    xs: list[float] = []
    ys: list[float] = []
    for p in page.panels:
        if p.col > 0:
            xs += [p.x, p.x]
            ys += [p.y - 2.5, p.y + 2.5]
    return xs, ys


LABEL_SEARCH_MM = 20.0  # how far right of its cell's start a label may move to clear the trace (0.8 s)


def label_position(
    page: Page, panel: Panel, size: tuple[float, float] = (0.0, 0.0), trace: tuple | None = None
) -> tuple[float, float]:
    """Top-left corner (mm) of a lead's label of ``size`` (width, height mm), just inside its band
    at the band's top: at the cell's start, or where the trace (x, y mm) does not pass under it
    within the first ``LABEL_SEARCH_MM`` (a tall R wave at the start must not hide the label
    nor be hidden by it), else where the fewest trace points are under it. It stays at its
    band's top so it is never read as the label of the row below."""
    x0, top = panel.x + 1.0, panel.y + page.row_pitch / 2 - 0.5
    if trace is None or not size[0]:
        return x0, top
    w, h = size
    tx, ty = (np.asarray(a, dtype=float) for a in trace)
    if tx.size < 2:
        return x0, top
    # each step from one sample to the next, by the heights it spans (a QRS is a few steep steps)
    lo, hi = np.fmin(ty[:-1], ty[1:]), np.fmax(ty[:-1], ty[1:])
    near = (hi >= top - h - 0.5) & (lo <= top + 0.5) & (tx[:-1] <= x0 + LABEL_SEARCH_MM + w + 0.5)
    tx = tx[:-1][near]
    if not tx.size:
        return x0, top
    starts = x0 + np.arange(0.0, min(LABEL_SEARCH_MM, max(panel.width - w - 2.0, 0.0)) + 0.25, 0.5)
    under = ((tx[None] >= starts[:, None] - 0.5) & (tx[None] <= starts[:, None] + w + 0.5)).sum(axis=1)
    return float(starts[int(np.argmin(under))]), top  # the first of the least covered: nearest the start
