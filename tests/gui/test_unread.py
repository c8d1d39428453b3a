"""The paper greys the stretches the measurement and the beat list did not read, inside each
lead's band, with why, and only while the recording they were read from is open."""

from __future__ import annotations

import pytest

from ecgviewer.gui.paper import PaperView
from ecgviewer.gui.unread import UnreadLayer
from ecgviewer.measure.intervals import TOO_NOISY
from tests.helpers import synthetic


@pytest.fixture
def paper(qtbot) -> PaperView:
    view = PaperView()
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    return view


def test_a_stretch_not_read_is_greyed_in_every_lead_s_band_it_crosses_and_goes_with_its_recording(paper):
    rec, other = synthetic(10.0), synthetic(10.0)
    paper.set_recording(rec)
    layer = UnreadLayer(paper)
    layer.set_stretches("measurement", rec, [(1.0, 3.5, TOO_NOISY)])
    layer.set_stretches("beats", rec, [(3.0, 3.4, "unreadable"), (6.0, 6.3, "unreadable")])
    # the beat list's stretch inside the measurement's is drawn once, as the first names it
    assert layer.merged() == [(1.0, 3.5, TOO_NOISY), (6.0, 6.3, "unreadable")]
    page = paper.page
    assert page is not None
    half = page.row_pitch / 2
    crossed = [p for p in page.panels if p.available and p.t0 < 3.5 and p.t1 > 1.0]
    short = [p for p in page.panels if p.available and p.t0 < 6.3 and p.t1 > 6.0]
    shown = layer.shown()
    assert len(shown) == len(crossed) + len(short) and crossed and short

    def inside(rect, p) -> bool:
        return p.x - 1e-6 <= rect.left() and rect.right() <= p.x + p.width + 1e-6 and rect.center().y() == p.y

    for rect, _text in shown:  # inside one panel's band, never over another lead's
        assert sum(inside(rect, p) for p in page.panels) == 1 and rect.height() == pytest.approx(2 * half)
    first = [p for p in crossed if p.t0 <= 1.0]  # each row names the stretch once, in its first grey
    texts = [text for _rect, text in shown if text]
    assert texts.count(TOO_NOISY) == len({p.row for p in crossed}) and first
    assert "unreadable" not in texts  # 0.3 s is too narrow for its words: the grey alone (tooltip)
    start = next(rect for rect, text in shown if text == TOO_NOISY)
    assert start.left() == pytest.approx(first[0].x + (1.0 - first[0].t0) * page.speed)
    assert start.width() == pytest.approx((min(3.5, first[0].t1) - 1.0) * page.speed)  # to its column's end

    paper.set_recording(other)  # another ECG: none of the first one's grey
    assert layer.stretches() == [] and layer.shown() == []
    paper.set_recording(rec)
    assert [s[0] for s in layer.stretches()] == [1.0, 3.0, 6.0]
    layer.set_stretches("measurement", None, [])  # measurements turned off: theirs go
    assert layer.merged() == [(3.0, 3.4, "unreadable"), (6.0, 6.3, "unreadable")]
