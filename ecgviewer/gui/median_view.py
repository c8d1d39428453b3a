"""The 12 median beats as clinicians read them: a 3x4 grid at 50 mm/s with a rhythm strip, on
calibrated paper, with the measurement's fiducials as calipers.

One scene unit is one paper millimetre, as on ``PaperView``. The beats are drawn at
``MEDIAN_SPEED`` (the speed of median-complex pages, twice the paper's usual 25 mm/s, so that
intervals read off finely) and the paper's gain, in the paper's 3x4 lead order; each box holds one
complex of its lead's median beat, as GE's and Philips' median pages do: the median array spans
``BEAT_S`` around R, which at a fast rate holds the neighbouring beats too, so only the beat's own
window (``beat_window``) is drawn, centred in a box of fixed size, clipped to it like a cart's
printout. Under them, a rhythm strip of the paper's rhythm lead over the measured span at the
paper's speed marks which beats went into the median. The page is at true scale when it fits the
view, else fitted to it, and the footer says which. The global fiducials are vertical lines
through the three rows of beats, named once in a band above them (one level per wave, so no two
names overlap); the user drags them to correct the automatic ones, within the drawn beat; each
lead's own fiducials are short ticks on its beat.
Attributions of the model (averaged over the beats in the median) are drawn with the beat shading
of the paper. When the file carries the acquiring device's median beats, they are drawn under
ours in another colour, shifted to match ours (``measure.device_median``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.overlay import BeatShading, Legend
from ecgviewer.gui.paper import CAPTION_END_MM, LABEL_MM, MIN_MINOR_PX, ClipBox, SheetItem
from ecgviewer.gui.widgets import CaptionItem
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import quality as Q
from ecgviewer.measure import signal
from ecgviewer.measure.device_median import align
from ecgviewer.measure.intervals import Measurements
from ecgviewer.measure.median_attribution import MedianAttribution
from ecgviewer.measurements import FIDUCIAL_NAMES, FIDUCIALS
from ecgviewer.ml import contract
from ecgviewer.ml.placement import BeatScores
from ecgviewer.recording import MedianBeats
from ecgviewer.render.layout import Page, page_layout, pulse_polyline
from ecgviewer.render.options import DEFAULT_PX_PER_MM, THEMES, ViewOptions

BEAT_S = (-B.PRE_MS / 1000, B.POST_MS / 1000)  # the median-beat window around R, seconds
MEDIAN_SPEED = 50.0  # mm/s
BEAT_ROWS, COLUMNS = 3, 4
TICK_MM = 1.5  # half-height of a lead's own fiducial tick
NAME_MM = 3.2  # the fiducial names' font, as a share of a paper millimetre's height (x0.8)
# Each wave's names sit on their own level, the onset's left of its line and the offset's right
# of it, so that no two names overlap however close the lines are.
NAME_LEVEL = {"p": 2, "qrs": 1, "t": 0}
DEVICE_INK = "#d2691e"  # the device's median beat: apart from the ink, the grid and the calipers
# the same patient's earlier ECG (the serial comparison): Okabe & Ito's blue, apart from the ink, the
# paper and its grid also for colour-blind readers; that view draws no calipers or fiducial ticks
# (the calipers' blue) and no device median
EARLIER_INK = "#0072b2"
PAD_MM = 2.0  # desk around the sheet
# The window of one complex (``beat_window``): from EDGE_MS before P onset to EDGE_MS after T offset;
# without a P wave (atrial fibrillation) from NO_P_SHARE of the RR before QRS onset, without a T
# offset to NO_T_SHARE of the RR after QRS offset (where P and T of a normal beat lie, roughly). It
# stops EDGE_MS short of the neighbouring beats' QRS complexes, which the median array holds at
# the median RR before and after its beats: at a fast rate their P and T waves overlap ours and
# cannot be told apart, but their QRS can, and no box shows two.
EDGE_MS = 40.0  # one small square at 25 mm/s
NO_P_SHARE = 0.3
NO_T_SHARE = 0.45


@dataclass(frozen=True)
class Rhythm:
    """One lead of the measured span, display-filtered, for the strip under the median beats."""

    lead: str
    t0: float  # s in the recording of mv[0]
    fs: float
    mv: np.ndarray


def rhythm_lead(options: ViewOptions) -> str:
    """The paper's (first) rhythm lead, II by default."""
    return options.rhythm[0] if options.rhythm else "II"


def neighbour_rr(m: Measurements) -> tuple[float | None, float | None]:
    """The median RR (ms) before and after the beats in the median: where the median array holds
    the previous and the next beat's QRS. The mean RR where a beat has no such neighbour."""
    r = np.asarray(m.r_times, dtype=np.float64) * 1000
    used = np.flatnonzero([not why for why in m.beat_reasons][: len(r)])
    before = [r[k] - r[k - 1] for k in used if k > 0]
    after = [r[k + 1] - r[k] for k in used if k + 1 < len(r)]
    mean = m.values["rr"].value if "rr" in m.values else None
    return (float(np.median(before)) if before else mean, float(np.median(after)) if after else mean)


def beat_window(m: Measurements) -> tuple[float, float]:
    """The seconds from R of one complex of ``m``'s median beat (module constants ``EDGE_MS``...):
    from its automatic fiducials (the window stays put while the user drags the calipers), inside
    the median array, and holding every fiducial, so that each caliper sits on the drawn beat."""
    full = (-B.PRE_MS, B.POST_MS - 1000 / signal.FS)  # the median array's first and last sample
    f = m.auto_fiducials
    before, after = neighbour_rr(m)
    on, off = f.get("qrs_on"), f.get("qrs_off")
    if on is None or off is None:  # no QRS found: half the RR either side of R
        lo = -before / 2 if before else full[0]
        hi = after / 2 if after else full[1]
    else:
        lo, hi = full
        if f.get("p_on") is not None:
            lo = f["p_on"] - EDGE_MS
        elif before:
            lo = on - NO_P_SHARE * before - EDGE_MS
        if f.get("t_off") is not None:
            hi = f["t_off"] + EDGE_MS
        elif after:
            hi = off + NO_T_SHARE * after + EDGE_MS
        if before:
            lo = max(lo, off - before + EDGE_MS)  # after the previous beat's QRS
        if after:
            hi = min(hi, on + after - EDGE_MS)  # before the next beat's QRS
        known = [v for v in f.values() if v is not None]
        lo, hi = min(lo, *known), max(hi, *known)
    lo, hi = max(lo, full[0]), min(hi, full[1])
    return (lo / 1000, hi / 1000) if hi > lo else (full[0] / 1000, full[1] / 1000)


def beat_times() -> np.ndarray:
    """Seconds from R of each sample of a median beat (R at ``beats.PRE``)."""
    return (np.arange(B.PRE + B.POST) - B.PRE) / signal.FS


def in_window(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """``values`` (..., samples of a median beat) with NaN outside ``window`` (s from R): not drawn."""
    t = beat_times()
    return np.where((t >= window[0] - 1e-9) & (t <= window[1] + 1e-9), values, np.nan)


def median_layout(
    options: ViewOptions,
    leads: tuple[str, ...],
    rhythm: str | None = None,
    window: tuple[float, float] = BEAT_S,
) -> Page:
    """One median beat per lead in the paper's 3x4 order at ``MEDIAN_SPEED`` and the paper's gain,
    each panel ``BEAT_S`` long (a fixed box), its seconds from R centred on ``window``; with
    ``rhythm``, a strip of that lead across the page under them (its seconds are the caller's)."""
    span = BEAT_S[1] - BEAT_S[0]
    t0 = (window[0] + window[1]) / 2 - span / 2
    beat = span * MEDIAN_SPEED
    page = page_layout(
        "3x4+1" if rhythm else "3x4",
        leads,
        speed=MEDIAN_SPEED,
        gain=options.gain,
        order=options.order,
        rhythm=(rhythm,) if rhythm else None,
        trace_width=COLUMNS * beat,
        strips_below=1,  # a beat per cell, the recording's leads in their places among the 12
        recording_s=span,  # one beat: no following sweep
    )
    panels = tuple(p if is_strip(p, page) else replace(p, t0=t0, t1=t0 + span) for p in page.panels)
    return replace(page, panels=panels, t0=t0, duration=span)


def window_panel(p, window: tuple[float, float]):
    """The part of panel ``p`` that ``window`` (s from R) covers: where the beat is drawn."""
    x0 = p.x + (window[0] - p.t0) * MEDIAN_SPEED
    return replace(p, t0=window[0], t1=window[1], x=x0, width=(window[1] - window[0]) * MEDIAN_SPEED)


def is_strip(panel, page: Page) -> bool:
    """The rhythm strip: the one panel of the row under the 3x4 grid (a stacked page has none)."""
    return page.layout == "3x4+1" and not page.stacked and panel.row == BEAT_ROWS


def median_scores(att: MedianAttribution, leads: tuple[str, ...], label: str) -> BeatScores:
    """The averaged attribution as one "beat" per lead on the median beat's time axis (R at 0 s),
    so that the paper's shading and legend draw it the same way; leads without tokens are left out."""
    keep = np.flatnonzero(att.n_beats > 0)
    n = len(keep)
    return BeatScores(
        lead=np.asarray(leads)[keep],
        window=np.zeros(n, dtype=np.int64),
        beat=np.zeros(n, dtype=np.int64),
        start_s=np.full(n, -contract.R_INDEX / contract.FS),
        stop_s=np.full(n, (contract.TOKEN_LEN - contract.R_INDEX) / contract.FS),
        r_s=np.zeros(n),
        score=att.beats[keep],
        samples=None if att.samples is None else att.samples[keep],
        signed=True,
        label=label,
    )


class _PanBox(pg.ViewBox):
    """Pans with the left button and never zooms: the beats stay at true scale (or fitted)."""

    def wheelEvent(self, ev, axis=None) -> None:
        ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
        else:
            ev.ignore()


def on_our_leads(leads: tuple[str, ...], other: Measurements) -> np.ndarray:
    """``other``'s median beats in the rows of ``leads`` (NaN where it lacks a lead): both are on
    the same grid, R at ``beats.PRE``."""
    out = np.full((len(leads), other.median.shape[1]), np.nan)
    for i, lead in enumerate(leads):
        if lead in other.leads and other.present[other.leads.index(lead)]:
            out[i] = other.median[other.leads.index(lead)]
    return out


class _Box(ClipBox):
    """One panel's box on the sheet and the curves clipped to it."""

    def __init__(self) -> None:
        super().__init__()
        self.ours = pg.PlotCurveItem(connect="finite")
        self.theirs = pg.PlotCurveItem(connect="finite")  # the device's median, under ours
        self.ticks = pg.PlotCurveItem(connect="pairs")  # fiducial ticks, or the strip's beat marks
        self.theirs.setZValue(-1)
        for item in (self.theirs, self.ours, self.ticks):
            item.setParentItem(self)

    def clear(self) -> None:
        for item in (self.ours, self.theirs, self.ticks):
            item.setData([], [])
        self.hide()


class MedianView(pg.GraphicsView):
    """Median beats of one ``Measurements`` on calibrated paper; emits the user's caliper moves."""

    fiducialMoved = QtCore.Signal(str, float)  # global fiducial, ms from R

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, useOpenGL=False)
        self.setAntialiasing(True)
        self.vb = _PanBox(lockAspect=1.0, enableMenu=False, defaultPadding=0.0)
        self.vb.disableAutoRange()
        self.setCentralItem(self.vb)
        self.options = ViewOptions()
        self.px_per_mm = DEFAULT_PX_PER_MM
        self.zoom = 1.0  # below 1 when the page is fitted to a view too small for it
        self.measurements: Measurements | None = None
        self.rhythm: Rhythm | None = None
        self.page: Page | None = None
        self.window: tuple[float, float] = BEAT_S  # the seconds from R of the complex drawn
        self.sheet = SheetItem()
        self.sheet.setZValue(-20)
        self.shading = BeatShading()
        self.pulses = pg.PlotCurveItem(connect="finite")
        self.excluded = pg.ScatterPlotItem(symbol="x", size=7)  # the strip's beats left out of the median
        self.device: MedianBeats | None = None
        self.device_shift_ms: float | None = None  # where the device's beat landed on ours
        self.earlier: Measurements | None = None  # another ECG's median beats, R on R (serial)
        self.calipers = True  # the fiducials as lines and ticks (off where they cannot be edited)
        self.footer = CaptionItem(anchor=(0, 0.5))
        self.boxes = [_Box() for _ in range(len(STANDARD_LEADS) + 1)]  # a panel each, reused
        for item in (self.sheet, self.shading, self.pulses, *self.boxes, self.excluded, self.footer):
            self.vb.addItem(item)
        self._mark = THEMES[self.options.theme].marks  # the calipers' colour
        # Lead labels, caliper lines and their names are made once and reused: removing a line
        # that carries a label from the scene and dropping it crashed the Qt bindings.
        self.labels = [pg.TextItem("", anchor=(0, 0)) for _ in self.boxes]
        self._pool = {key: [self._make_line() for _ in range(COLUMNS)] for key in FIDUCIALS}
        self.names = {
            key: pg.TextItem("", anchor=(1 if key.endswith("_on") else 0, 0.5)) for key in FIDUCIALS
        }
        for item in (*self.labels, *self.names.values()):
            self.vb.addItem(item)
        self.lines: dict[str, list[pg.InfiniteLine]] = {}  # the fiducials shown: one line per column
        self._placing = False  # lines moved by the program, not the user
        # each shown fiducial's neighbours, ms: a drag is clamped here exactly, because the lines'
        # pixel bounds round-trip through x_of/ms_of with a float error that could cross them
        self._limits_ms: dict[str, tuple[float, float]] = {}
        self._home = True  # keep the sheet's top-left in view until the user pans
        self.vb.sigResized.connect(self._keep_scale)
        self.vb.sigRangeChangedManually.connect(self._panned)
        self.vb.sigRangeChanged.connect(self._fit_lines)

    # -- inputs ----------------------------------------------------------------------------------
    def set_view(self, options: ViewOptions, px_per_mm: float) -> None:
        """Follow the paper's gain, lead order, rhythm lead, speed (of the strip), theme and
        screen calibration."""
        if (options, px_per_mm) == (self.options, self.px_per_mm):
            return
        self.options, self.px_per_mm = options, px_per_mm
        self._rebuild()

    def set_measurements(self, m: Measurements | None, rhythm: Rhythm | None = None) -> None:
        """Show ``m`` (with ``rhythm`` under it); when only its fiducials changed (an edit), the
        beats stay and the lines move."""
        same_beats = m is not None and self.measurements is not None and m.median is self.measurements.median
        self.measurements = m
        if same_beats and rhythm is self.rhythm:
            self._place_lines()
        else:
            self.rhythm = rhythm
            self._rebuild()

    def set_device_median(self, device: MedianBeats | None) -> None:
        """The acquiring device's median beats, drawn under ours once aligned to them."""
        self.device = device
        self._rebuild()

    def set_earlier(self, m: Measurements | None) -> None:
        """Another ECG's median beats (the patient's earlier one), drawn under ours R on R in
        ``EARLIER_INK``, in place of the device's."""
        self.earlier = m
        self._rebuild()

    def show_device(self, on: bool) -> None:
        for box in self.boxes:
            box.theirs.setVisible(on)

    def set_attribution(self, scores: BeatScores | None, opacity: float) -> None:
        self.shading.opacity = opacity
        self.shading.set_scores(scores)

    # -- geometry --------------------------------------------------------------------------------
    def x_of(self, column: int, ms: float) -> float:
        """Paper x (mm) of ``ms`` from R in ``column``."""
        p = self._columns()[column]
        return p.x + (ms / 1000 - p.t0) * MEDIAN_SPEED

    def ms_of(self, column: int, x: float) -> float:
        p = self._columns()[column]
        return ((x - p.x) / MEDIAN_SPEED + p.t0) * 1000

    def _columns(self) -> list:
        assert self.page is not None
        return [p for p in self.page.panels if p.row == 0]

    def box_of(self, panel) -> QtCore.QRectF:
        """A panel's box on the sheet, mm: its row's height, its width."""
        assert self.page is not None
        half = self.page.row_pitch / 2
        return QtCore.QRectF(panel.x, panel.y - half, panel.width, 2 * half)

    def _beats_bottom(self) -> float:
        """The lower edge of the third row of beats (the calipers end there, above the strip)."""
        assert self.page is not None
        return (
            self.page.row_baselines[min(BEAT_ROWS, len(self.page.row_baselines)) - 1]
            - self.page.row_pitch / 2
        )

    # -- building --------------------------------------------------------------------------------
    def _font(self, mm: float = LABEL_MM) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPixelSize(max(9, round(mm * self.px_per_mm)))
        return font

    def _level_mm(self) -> float:
        """The height of one level of the names' band: a name's box, whatever the zoom."""
        fm = QtGui.QFontMetricsF(self._font(NAME_MM * 0.8))
        return (fm.height() + 10) / (self.px_per_mm * self.zoom)  # QGraphicsTextItem pads 4 px a side

    def header_mm(self) -> float:
        """The band above the sheet for the fiducials' names (none without calipers)."""
        return self._level_mm() * len(NAME_LEVEL) + 1.0 if self.calipers else 0.0

    def _band_px(self) -> float:
        """The names' band in pixels, whatever the zoom (none without calipers)."""
        if not self.calipers:
            return 0.0
        return (QtGui.QFontMetricsF(self._font(NAME_MM * 0.8)).height() + 10) * len(NAME_LEVEL) + 4

    def _make_line(self) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=90, movable=True)
        line.setZValue(10)
        line.hide()
        line.sigPositionChanged.connect(self._line_moved)
        self.vb.addItem(line)
        return line

    def _rebuild(self) -> None:
        theme, m = THEMES[self.options.theme], self.measurements
        self._mark = theme.marks
        self.setBackground(theme.desk)
        self.sheet.set_colors(theme.paper, theme.minor, theme.major)
        self.pulses.setPen(pg.mkPen(theme.ink, width=1))
        self.excluded.setPen(pg.mkPen(theme.major, width=1.5))
        for box, label in zip(self.boxes, self.labels, strict=True):
            box.clear()
            label.hide()
        self.excluded.setData([], [])
        if m is None:
            self.page = None
            self._show_lines(theme.paper)
            self.sheet.set_size(0.0, 0.0)
            self.pulses.setData([], [])
            self.device_shift_ms = None
            self.footer.set_caption("")
            self.shading.set_page(None)
            return
        strip = self.rhythm if self.rhythm is not None and self.rhythm.lead in m.leads else None
        self.window = beat_window(m)
        self.page = page = median_layout(self.options, m.leads, strip.lead if strip else None, self.window)
        self.sheet.set_size(page.width, page.height)
        self.pulses.setData(*pulse_polyline(page))
        theirs, ink, self.device_shift_ms = None, DEVICE_INK, None
        if self.earlier is not None:  # the earlier ECG's own complex, which its own RR bounds
            theirs, ink = on_our_leads(m.leads, self.earlier), EARLIER_INK
            theirs = in_window(theirs, beat_window(self.earlier))
        elif self.device is not None:
            theirs, self.device_shift_ms = align(m.median, m.leads, self.device)
            theirs = in_window(theirs, self.window)
        for p, box, label in zip(page.panels, self.boxes, self.labels, strict=False):
            box.setRect(self.box_of(p))
            box.show()
            label.setFont(self._font())
            label.setPos(p.x + 1.0, p.y + page.row_pitch / 2 - 0.5)
            label.show()
            if is_strip(p, page):
                assert strip is not None
                self._draw_strip(p, box, label, strip, theme)
            else:
                self._draw_beat(p, box, label, theirs, ink, theme)
        beats = tuple(window_panel(p, self.window) for p in page.panels if not is_strip(p, page))
        self.shading.set_page(replace(page, panels=beats))  # shaded where the beat is drawn
        self._show_lines(theme.paper)
        self.footer.setFont(self._font(2.8))
        self.footer.setColor(theme.text)
        self.footer.setPos(page.pulse_x, 2.5)
        self._home = True
        self._keep_scale()

    def _draw_beat(
        self, p, box: _Box, label: pg.TextItem, theirs: np.ndarray | None, ink: str, theme
    ) -> None:
        """One lead's median beat (and the device's or the earlier ECG's, in ``ink``), with its own
        fiducials as ticks."""
        m = self.measurements
        assert m is not None and self.page is not None
        present = p.lead in m.leads and bool(m.present[m.leads.index(p.lead)])
        # a lead is absent where the recording lacks it or the measurement left it out, with why
        why = Q.headline(m.left_out[p.lead]) if p.lead in m.left_out else "not recorded"
        label.setText(p.label if present else f"{p.label}: {why}")
        label.setColor(theme.text if present else theme.major)
        if not present:
            return
        i = m.leads.index(p.lead)
        x = p.x + (beat_times() - p.t0) * MEDIAN_SPEED
        y = p.y + p.sign * self.page.gain * in_window(m.median[i].astype(np.float64), self.window)
        box.ours.setData(x, y, pen=pg.mkPen(theme.ink, width=1))
        if theirs is not None:
            box.theirs.setData(x, p.y + p.sign * self.page.gain * theirs[i], pen=pg.mkPen(ink, width=1))
        tx, ty = [], []
        drawn = np.isfinite(y)
        lo_ms, hi_ms = (t * 1000 for t in self.window)
        for ms in m.lead_fiducials[i].values() if self.calipers else ():
            if ms is not None and lo_ms <= ms <= hi_ms and drawn.any():  # on the drawn beat only
                xk = p.x + (ms / 1000 - p.t0) * MEDIAN_SPEED
                yk = float(np.interp(xk, x[drawn], y[drawn]))
                tx += [xk, xk]
                ty += [yk - TICK_MM, yk + TICK_MM]
        box.ticks.setData(
            np.asarray(tx, dtype=float), np.asarray(ty, dtype=float), pen=pg.mkPen(theme.marks, width=1)
        )

    def _draw_strip(self, p, box: _Box, label: pg.TextItem, strip: Rhythm, theme) -> None:
        """The rhythm lead at the paper's speed from the span's start; a tick under each beat in the
        median, a cross under each beat left out of it."""
        m = self.measurements
        assert m is not None and self.page is not None
        speed = self.options.speed
        seconds = p.width / speed
        n = min(len(strip.mv), round(seconds * strip.fs) + 1)
        x = p.x + speed * np.arange(n) / strip.fs
        box.ours.setData(
            x, p.y + self.page.gain * strip.mv[:n].astype(np.float64), pen=pg.mkPen(theme.ink, width=1)
        )
        r = (np.asarray(m.r_times, dtype=float) - strip.t0) * speed + p.x
        shown = (r >= p.x) & (r <= p.x + p.width)
        used = np.array([not reason for reason in m.beat_reasons], dtype=bool)[: len(r)] & shown
        bottom = p.y - self.page.row_pitch / 2 + 1.0  # the marks under the trace, clear of the label
        box.ticks.setData(np.repeat(r[used], 2), np.tile([bottom, bottom + 2.5], int(used.sum())),
                          pen=pg.mkPen(theme.marks, width=2))  # fmt: skip
        left = shown & ~used
        self.excluded.setData(r[left], np.full(int(left.sum()), bottom + 1.25))
        label.setText(f"{p.label}, {speed:g} mm/s: {int(used.sum())} beats in the median (\u2502), "
                      f"{int(left.sum())} left out (\u00d7)")  # fmt: skip
        label.setColor(theme.text)

    def _show_lines(self, fill: str) -> None:
        """One line per column for each fiducial the measurement has; the others hidden."""
        m = self.measurements
        columns = len(self._columns()) if m is not None and self.calipers else 0
        self.lines = {
            key: lines[:columns]
            for key, lines in self._pool.items()
            if columns and m.fiducials[key] is not None
        }
        for key, lines in self._pool.items():
            for c, line in enumerate(lines):
                line.setHoverPen(pg.mkPen(self._mark, width=3))
                line.setVisible(c < len(self.lines.get(key, ())))
            self.names[key].setColor(self._mark)
            self.names[key].fill = pg.mkBrush(fill)
            self.names[key].setFont(self._font(NAME_MM * 0.8))
            self.names[key].setVisible(key in self.lines)
        self._place_lines()
        self._fit_lines()

    def _place_lines(self) -> None:
        """Put every line at its fiducial, kept between its neighbours while dragged."""
        m = self.measurements
        if m is None or self.page is None:
            return
        shown = [k for k in FIDUCIALS if k in self.lines]
        lo_ms, hi_ms = (t * 1000 for t in self.window)  # the outer lines keep to the drawn beat
        self._placing = True
        try:
            for j, key in enumerate(shown):
                ms = float(m.fiducials[key])
                before = min(float(m.fiducials[shown[j - 1]]), ms) if j > 0 else lo_ms
                after = max(float(m.fiducials[shown[j + 1]]), ms) if j + 1 < len(shown) else hi_ms
                self._limits_ms[key] = (before, after)
                edited = " (edited)" if key in m.edited else ""
                style = QtCore.Qt.PenStyle.DashLine if edited else QtCore.Qt.PenStyle.SolidLine
                for c, line in enumerate(self.lines[key]):
                    line.setBounds((self.x_of(c, before), self.x_of(c, after)))
                    line.setValue(self.x_of(c, ms))
                    line.setPen(pg.mkPen(self._mark, width=1, style=style))
                    line.setToolTip(f"{FIDUCIAL_NAMES[key]}: {ms:+.0f} ms from R{edited}; drag to move it")
                self._name(key, ms, edited)
        finally:
            self._placing = False
        self.footer.set_caption(self.footer_text(), self.page.width - self.footer.pos().x() - CAPTION_END_MM)

    def _name(self, key: str, ms: float, edited: str) -> None:
        """The fiducial's name in the band above the first row, beside its line in column 0."""
        assert self.page is not None
        level = NAME_LEVEL[key.split("_")[0]]
        self.names[key].setText(FIDUCIAL_NAMES[key] + ("*" if edited else ""))
        self.names[key].setPos(self.x_of(0, ms), self.page.height + (level + 0.5) * self._level_mm())

    def _line_moved(self, line: pg.InfiniteLine) -> None:
        if self._placing:
            return
        key, column = next(
            (k, c) for k, lines in self.lines.items() for c, ln in enumerate(lines) if ln is line
        )
        lo, hi = self._limits_ms.get(key, (-np.inf, np.inf))
        ms = min(max(self.ms_of(column, line.value()), lo), hi)
        self._placing = True
        try:
            for c, other in enumerate(self.lines[key]):
                if other is not line:
                    other.setValue(self.x_of(c, ms))
            self._name(key, ms, " (edited)")
        finally:
            self._placing = False
        self.fiducialMoved.emit(key, ms)

    def footer_text(self) -> str:
        """Speed, gain and what the beats are the median of, as printed under them."""
        m = self.measurements
        if m is None:
            return ""
        used = sum(1 for r in m.beat_reasons if not r)
        edited = (
            f"   edited: {', '.join(FIDUCIAL_NAMES[k] for k in FIDUCIALS if k in m.edited)}"
            if m.edited
            else ""
        )
        scale = "true scale" if self.zoom == 1.0 else f"shown at \u00d7{self.zoom:.2f} to fit the view"
        return (
            f"{MEDIAN_SPEED:g} mm/s, {self.options.gain:g} mm/mV ({scale})   median beats of {used} of "
            f"{len(m.beat_reasons)} beats, {m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s{edited}"
        )

    # -- scale -----------------------------------------------------------------------------------
    def _fit_zoom(self) -> float:
        """1 when the page and the names' band fit the view, else the zoom that fits them."""
        return self.zoom_for(self.vb.width(), self.vb.height())

    def zoom_for(self, width: float, height: float) -> float:
        """The zoom at which the page and the names' band fit ``width`` x ``height`` view pixels
        (at most 1, true scale)."""
        assert self.page is not None
        w = width / (self.page.width + 2 * PAD_MM)
        h = (height - self._band_px()) / (self.page.height + 2 * PAD_MM)
        return float(min(1.0, w / self.px_per_mm, h / self.px_per_mm))

    def height_for(self, zoom: float) -> float:
        """The view pixels the page and the names' band take at ``zoom``."""
        assert self.page is not None
        return (self.page.height + 2 * PAD_MM) * self.px_per_mm * zoom + self._band_px()

    def _keep_scale(self, *_args: object) -> None:
        """One paper millimetre at ``px_per_mm`` screen pixels (true scale) when the page fits the
        view, else the page fitted to it; the footer says which."""
        w, h = self.vb.width(), self.vb.height()
        if w <= 0 or h <= 0 or self.page is None:
            return
        zoom = self._fit_zoom()
        if zoom != self.zoom:
            self.zoom = zoom
            self.sheet.set_show_minor(self.px_per_mm * zoom >= MIN_MINOR_PX)
            self._place_lines()  # the names' band is a number of pixels: its millimetres changed
        if self._home:
            x0, y1 = -PAD_MM, self.page.height + self.header_mm() + PAD_MM
        else:
            (x0, _), (_, y1) = self.vb.viewRange()
        s = self.px_per_mm * self.zoom
        self.vb.setRange(xRange=(x0, x0 + w / s), yRange=(y1 - h / s, y1), padding=0)

    def _panned(self, *_args: object) -> None:
        self._home = False

    def _fit_lines(self, *_args: object) -> None:
        """Run the caliper lines from the sheet's top to the third row of beats (their span is a
        share of the view's height)."""
        if self.page is None:
            return
        _, (y0, y1) = self.vb.viewRange()
        a, b = (
            float(np.clip((y - y0) / (y1 - y0), 0.0, 1.0)) for y in (self._beats_bottom(), self.page.height)
        )
        for lines in self.lines.values():
            for line in lines:
                line.setSpan(a, b)


class MedianPanel(QtWidgets.QWidget):
    """The median-beat view with a caption and a legend for the attribution drawn on it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = MedianView()
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.show_attribution = QtWidgets.QCheckBox("Attribution")
        self.show_attribution.setChecked(True)
        self.show_attribution.setToolTip("The model's attribution, averaged over the beats in the median")
        self.show_device = QtWidgets.QCheckBox("Device median")
        self.show_device.setChecked(True)
        self.show_device.setStyleSheet(f"color: {DEVICE_INK}")
        self.show_device.setToolTip(
            "The acquiring device's own median beat (from the file), under ours, shifted to match it"
        )
        self.show_device.toggled.connect(self.view.show_device)
        self.show_device.hide()
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        self.legend = Legend()
        self.legend.hide()
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.show_device)
        top.addWidget(self.show_attribution)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.view, 1)
        box.addWidget(self.caption)
        box.addWidget(self.legend)

    def set_device_median(self, device: MedianBeats | None) -> None:
        self.view.set_device_median(device)
        self.show_device.setVisible(device is not None)

    def set_attribution(self, scores: BeatScores | None, caption: str = "", opacity: float = 0.6) -> None:
        """Shade the beats with ``scores`` (None: no shading) and say what they are."""
        self.view.set_attribution(scores, opacity)
        self.legend.set_scores(scores, opacity)
        self.legend.setVisible(scores is not None)
        self.caption.setText(caption)
