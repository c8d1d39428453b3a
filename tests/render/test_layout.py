"""Paper geometry: every layout places the right lead over the right seconds."""

from __future__ import annotations

import itertools

import pytest

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.render.layout import LAYOUTS, TRACE_WIDTH_MM, page_duration, page_layout, row_pitch

STANDARD_3X4 = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
CABRERA_3X4 = [["aVL", "II", "V1", "V4"], ["I", "aVF", "V2", "V5"], ["aVR", "III", "V3", "V6"]]


def grid(page, rows=3):
    return [[p.lead for p in page.panels if p.row == r] for r in range(rows)]


@pytest.mark.parametrize("speed", [25.0, 50.0])
def test_3x4_columns_are_consecutive_segments(speed):
    page = page_layout("3x4", STANDARD_LEADS, t0=2.0, speed=speed)
    assert grid(page) == STANDARD_3X4
    seg = page_duration(speed) / 4
    for p in page.panels:
        assert p.t0 == pytest.approx(2.0 + p.col * seg)
        assert p.t1 == pytest.approx(2.0 + (p.col + 1) * seg)
        # the trace is as wide on paper as its seconds at this speed
        assert p.width == pytest.approx((p.t1 - p.t0) * speed)


def test_cabrera_order_inverts_avr():
    page = page_layout("3x4", STANDARD_LEADS, order="cabrera")
    assert grid(page) == CABRERA_3X4
    avr = next(p for p in page.panels if p.lead == "aVR")
    assert avr.sign == -1 and avr.label == "\u2212aVR"
    assert all(p.sign == 1 for p in page.panels if p.lead != "aVR")


@pytest.mark.parametrize(("layout", "strips"), [("3x4+1", ["II"]), ("3x4+3", ["V1", "II", "V5"])])
def test_rhythm_strips_span_the_page(layout, strips):
    page = page_layout(layout, STANDARD_LEADS, t0=1.0)
    rows = [[p for p in page.panels if p.row == r] for r in range(3, 3 + len(strips))]
    assert [r[0].lead for r in rows] == strips
    for (p,) in rows:
        assert (p.t0, p.t1) == (1.0, pytest.approx(1.0 + page.duration))


def test_chosen_rhythm_lead():
    page = page_layout("3x4+1", STANDARD_LEADS, rhythm=["V5"])
    assert page.panels[-1].lead == "V5" and page.panels[-1].row == 3


def test_6x2_and_12x1():
    page = page_layout("6x2", STANDARD_LEADS)
    assert [p.lead for p in page.panels if p.col == 0] == list(STANDARD_LEADS[:6])
    assert [p.lead for p in page.panels if p.col == 1] == list(STANDARD_LEADS[6:])
    assert {(p.t0, p.t1) for p in page.panels if p.col == 1} == {(5.0, 10.0)}
    page = page_layout("12x1", STANDARD_LEADS)
    assert [p.lead for p in page.panels] == list(STANDARD_LEADS)
    assert all((p.t0, p.t1) == (0.0, 10.0) for p in page.panels)


def test_each_lead_once_per_grid_and_rows_do_not_overlap():
    for layout in LAYOUTS:
        page = page_layout(layout, STANDARD_LEADS)
        grid_panels = [p for p in page.panels if p.row < (3 if layout.startswith("3x4") else 99)]
        leads = [p.lead for p in grid_panels]
        assert sorted(leads) == sorted(STANDARD_LEADS), layout
        ys = sorted(page.row_baselines, reverse=True)
        assert all(a - b == pytest.approx(row_pitch(10.0)) for a, b in itertools.pairwise(ys))
        assert min(ys) > 0 and max(ys) < page.height


def test_missing_and_extra_leads():
    limb = list(STANDARD_LEADS[:6])  # I and II recorded, the other four derived
    leads = [*limb, "V1", "vx", "vy", "vz"]
    page = page_layout("3x4", leads)
    missing = {p.lead for p in page.panels if not p.available}
    assert missing == set(STANDARD_LEADS[7:]) and not page.stacked
    assert page.unplaced == ("vx", "vy", "vz")
    stacked = page_layout("12x1", leads)
    assert [p.lead for p in stacked.panels] == leads and stacked.stacked


def test_non_standard_record_is_stacked():
    page = page_layout("3x4+1", ["ECG1", "ECG2"])
    assert [p.lead for p in page.panels] == ["ECG1", "ECG2"] * page.sweeps
    assert all(p.available and p.col == 0 for p in page.panels)


SWEEPS = {"3x4": 1, "3x4+1": 2, "3x4+3": 3, "6x2": 3, "12x1": 3}  # two leads: the layout's rows, <= 30 s


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_recording_with_few_standard_leads_is_drawn_as_strips_of_its_own_leads(layout):
    """A Holter's two leads (MIT-BIH's MLII and V1) or a patch's one fill the page's width, in the
    standard order, with no "not recorded" cells, and go on for the following seconds in the rows
    the layout would have filled; from STRIPS_BELOW standard leads on, the grid."""
    from ecgviewer.render.layout import STRIPS_BELOW

    page = page_layout(layout, ["V1", "II"], speed=25.0)
    n = SWEEPS[layout]
    assert page.stacked and page.sweeps == n and page.span == 10.0 * n
    assert [p.lead for p in page.panels] == ["II", "V1"] * n
    assert all(p.available and p.col == 0 and p.width == TRACE_WIDTH_MM for p in page.panels)
    assert [(p.t0, p.t1) for p in page.panels] == [(10.0 * k, 10.0 * k + 10) for k in range(n) for _ in "ab"]
    assert [p.label for p in page.panels[2:4]] == (["II +10 s", "V1 +10 s"] if n > 1 else [])
    assert len(page.row_baselines) == 2 * n
    grid = page_layout(layout, list(STANDARD_LEADS[:STRIPS_BELOW]))
    assert grid.stacked == (layout == "12x1")
    assert grid.sweeps == (2 if grid.stacked else 1)  # 6 leads in 12 rows
    from ecgviewer.render.options import ViewOptions, page_caption
    from tests.helpers import synthetic

    rec = synthetic(leads=["V1", "II"], seconds=60.0)
    caption = page_caption(ViewOptions(layout=layout), rec, page)
    assert ("Strips: 2 of 12 standard leads" in caption) == (layout != "12x1"), caption
    assert f"0.0\u2013{10.0 * n:.1f} s of 60.0 s" in caption
    assert "Strips:" not in page_caption(ViewOptions(layout=layout), synthetic(), grid)
    kept = page_layout(layout, ["V1", "II"], strips_below=1)  # the median beats keep their cells
    assert kept.stacked == (layout == "12x1") and (kept.stacked or len(kept.panels) >= 12)


@pytest.mark.parametrize(
    ("leads", "speed", "seconds", "sweeps"),
    [
        (["II"], 25.0, 60.0, 3),  # a patch's lead: 30 s a page
        (["II"], 25.0, 10.0, 1),  # no row past the recording's end
        (["II"], 25.0, 12.5, 2),
        (["II"], 10.0, 60.0, 1),  # 25 s a row: a second would pass 30 s
        (["II"], 50.0, 60.0, 4),  # 5 s a row: as many as the layout's rows
        (["II", "V1", "V5"], 25.0, 60.0, 1),  # three leads fill 3x4+1's four rows once
    ],
)
def test_sweeps_fill_the_layout_up_to_30_s_and_the_recording(leads, speed, seconds, sweeps):
    from ecgviewer.analysis import SPAN_S
    from ecgviewer.render.layout import MAX_SWEEP_S

    assert MAX_SWEEP_S <= SPAN_S  # a long recording's page lies inside the span analysed from its start
    page = page_layout("3x4+1", leads, speed=speed, recording_s=seconds)
    assert page.sweeps == sweeps and len(page.panels) == len(leads) * sweeps
    assert page.span == pytest.approx(page.duration * sweeps)


def test_paper_is_whole_5mm_boxes_and_pulse_is_200ms():
    for speed in (10.0, 12.5, 25.0, 50.0):
        for gain in (5.0, 10.0, 20.0):
            page = page_layout("3x4+1", STANDARD_LEADS, speed=speed, gain=gain)
            assert page.height % 5 == 0
            assert page.pulse_width == pytest.approx(0.2 * speed)
            assert page.pulse_x > 0 and page.pulse_x + page.pulse_width < page.panels[0].x


def test_bad_arguments():
    with pytest.raises(ValueError, match="layout"):
        page_layout("4x3", STANDARD_LEADS)
    with pytest.raises(ValueError, match="order"):
        page_layout("3x4", STANDARD_LEADS, order="weird")
