"""Issue 74 part 3 in the window (pytest-qt, offscreen): the beat templates of a recording with two
ventricular foci, one box per group inside the view; a whole group relabelled with a key, the
counts and events following at once; the relabels kept in the library and replayed when the file
is opened again."""

from __future__ import annotations

from ecgviewer.io import load
from ecgviewer.library import db, relabels
from ecgviewer.library.overreads import content_sha256
from tests.conftest import SAMPLE
from tests.helpers import MEASURE_TIMEOUT_MS as TIMEOUT_MS
from tests.measure.beat_records import sample_beat, two_foci, wfdb_file


def _listed(qtbot, w, action):
    with qtbot.waitSignal(
        w.beats.listed, timeout=4 * TIMEOUT_MS, check_params_cb=lambda b: b is not None
    ) as s:
        action()
    return s.args[0]


def test_a_group_relabelled_in_the_window_is_kept_and_replayed(qtbot, measure_window, tmp_path):
    w = measure_window
    beats_in, known = two_foci(sample_beat())
    path = wfdb_file(beats_in, 120.0, tmp_path)
    beats = _listed(qtbot, w, lambda: w.open_file(path))
    view = w.beats.templates
    w.views.setCurrentWidget(view)
    qtbot.waitUntil(lambda: len(view.plots) == 3)
    assert sorted(len(g.members) for g in view.groups) == sorted(known.values())
    area = view.graphics.viewport().rect()
    shown = view.scroll.viewport().rect()
    for plot in view.plots:  # every box whole inside the view and on screen, none over another
        box = view.graphics.mapFromScene(plot.sceneBoundingRect()).boundingRect()
        assert area.contains(box), (box, area)
        assert shown.contains(view.graphics.viewport().mapTo(view.scroll.viewport(), box.bottomRight()))
        assert box.height() >= 100  # a readable box, not a squeezed line
    boxes = [plot.sceneBoundingRect() for plot in view.plots]
    assert not any(a.intersects(b) and a != b for a in boxes for b in boxes if a is not b)
    assert f"3 groups of {len(beats.t_s)} beats" in view.header.text() and "1 mV" in view.header.text()
    focus = min(range(3), key=lambda k: len(view.groups[k].members))  # B: the fewest
    assert view.groups[focus].kind == "ventricular"
    view.select(focus)
    ventricular, sizes = beats.counts()["ventricular"], [len(g.members) for g in view.groups]
    after = _listed(qtbot, w, lambda: view.buttons["normal"].click())
    assert after.counts()["ventricular"] == ventricular - known["B"]
    relabelled = f"{known['B']} beats relabelled by the reader ({known['B']} normal)"
    assert relabelled in w.beats.panel.summary.text().splitlines()
    assert [len(g.members) for g in view.groups] == sizes  # the same groups, where the reader saw them
    assert view.groups[focus].kind == "normal" and view.selected == focus
    kept = relabels.stored(content_sha256(path), w.library.library_path())
    assert [label for label, _ in kept] == ["normal"] and len(kept[0][1]) == known["B"]
    # another recording, then this one again: the relabel comes back
    _listed(qtbot, w, lambda: w.set_recording(load(SAMPLE)))
    again = _listed(qtbot, w, lambda: w.open_file(path))
    assert again.counts() == after.counts() and len(again.relabels) == 1
    conn = db.open_library(w.library.library_path())
    try:
        assert conn.execute("SELECT count(*) FROM beat_relabels").fetchone()[0] == 1
    finally:
        conn.close()
    # the other focus, which the reader knows is the pacemaker's: paced, no longer ventricular
    assert "N, S, V, P or A to relabel" in view.header.text()
    view.select(next(k for k, g in enumerate(view.groups) if g.kind == "ventricular"))
    paced = _listed(qtbot, w, lambda: view.buttons["paced"].click())
    assert paced.counts()["paced"] == known["A"] and paced.counts()["ventricular"] == 0


def test_every_relabel_has_its_own_key():
    from ecgviewer.gui.templates_view import KEYS
    from ecgviewer.measure.templates import RELABELS

    assert tuple(KEYS) == RELABELS and len(set(KEYS.values())) == len(KEYS)
