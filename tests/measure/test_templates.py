"""Issue 74 part 3: beat templates on a synthetic recording whose groups are known (sinus beats and
two ventricular foci: ``beat_records.two_foci``), a whole group relabelled at once with the counts
and events following, and the relabels replayed on a fresh beat list."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.measure import rhythm as R
from ecgviewer.measure import templates as T
from tests.measure.beat_records import record, two_foci


@pytest.fixture(scope="module")
def listed(beat):
    beats, known = two_foci(beat)
    return R.analyse(record(beats, 120.0)), known


def test_the_groups_are_the_known_shapes_with_their_counts_and_medians(listed):
    beats, known = listed
    assert len(beats.t_s) == sum(known.values())
    groups = T.cluster(beats)
    assert sorted(len(g.members) for g in groups) == sorted(known.values())
    sinus = groups[0]
    assert sinus.kind == "normal" and len(sinus.members) == known["sinus"] and not sinus.pooled
    assert {g.kind for g in groups[1:]} == {"ventricular"}
    assert sinus.title() == f"normal \u00b7 {known['sinus']} beats"
    assert sinus.median.shape == beats.shapes.shape[1:]
    a, b = sorted(groups[1:], key=lambda g: len(g.members), reverse=True)
    r = np.corrcoef(a.median.ravel(), b.median.ravel())[0, 1]
    assert r < -0.9  # the two foci: one the other upside down
    every = np.sort(np.concatenate([g.members for g in groups]))
    assert (every == np.arange(len(beats.t_s))).all()  # every beat in exactly one group


def test_a_whole_group_relabelled_moves_the_counts_and_the_events(listed):
    beats, _ = listed
    groups = T.cluster(beats)
    a, b = sorted(groups[1:], key=lambda g: len(g.members), reverse=True)
    assert any(e.kind == "ventricular run" for e in beats.events)
    as_normal = T.relabel(beats, a.members, "normal")
    assert as_normal.counts()["ventricular"] == beats.counts()["ventricular"] - len(a.members)
    assert not any(e.kind == "ventricular run" for e in as_normal.events)  # the run was focus A's
    gone = T.relabel(as_normal, b.members, "artefact")
    assert len(gone.t_s) == len(beats.t_s) - len(b.members)
    assert np.nanmax(gone.rr_ms) > np.nanmax(beats.rr_ms)  # an artefact's place is no beat: a longer RR
    assert gone.relabelled() == f"{len(a.members) + len(b.members)} beats relabelled by the reader " \
        f"({len(a.members)} normal, {len(b.members)} artefact)"  # fmt: skip
    assert gone.summary()[-1] == gone.relabelled()
    from ecgviewer.report.content import beats_block

    assert gone.relabelled() in beats_block(gone).lines  # the report says what the reader changed
    kept = T.follow(groups, as_normal, gone)  # the groups as the reader saw them, B's gone
    assert [len(g.members) for g in kept] == [len(g.members) for g in groups if g is not b]
    assert [g.kind for g in kept] == ["normal", "normal"]
    assert (gone.t_s[kept[1].members] == beats.t_s[a.members]).all()
    again = T.replay(beats, gone.relabels)
    assert (again.t_s == gone.t_s).all() and (again.kind == gone.kind).all()
    assert again.events == gone.events
    with pytest.raises(ValueError, match="fusion"):
        T.relabel(beats, a.members, "fusion")


def test_a_group_the_reader_knows_is_paced_is_no_ectopy(listed):
    """Where a recorder's bandwidth hides the pacing spikes, the reader says a group is paced:
    its beats leave the ventricular count and its runs, and are counted paced."""
    beats, _ = listed
    a = max(T.cluster(beats)[1:], key=lambda g: len(g.members))
    paced = T.relabel(beats, a.members, "paced")
    assert paced.counts()["paced"] == len(a.members)
    assert paced.counts()["ventricular"] == beats.counts()["ventricular"] - len(a.members)
    assert not any(e.kind == "ventricular run" for e in paced.events)
    assert "paced" in paced.relabelled()


def test_a_beat_list_without_shapes_or_beats_has_no_templates(listed):
    from dataclasses import replace

    beats, _ = listed
    assert T.cluster(replace(beats, shapes=None)) == []
    none = R.with_kinds(beats, beats.kind, np.zeros(len(beats.t_s), bool))
    assert T.cluster(none) == []


def test_beats_whose_r_was_found_at_another_peak_of_their_qrs_join_their_group(listed):
    """An RSR' complex found at its R' lies 20-40 ms late in its window: it is the same shape, one
    group with the others, drawn where it matches (MIT-BIH 201's normal beats made two groups)."""
    from dataclasses import replace

    beats, known = listed
    sinus = T.cluster(beats)[0].members
    late = sinus[::3]  # a third of the sinus beats found 24 ms early: their QRS 6 samples late
    shapes = beats.shapes.copy()
    shapes[late] = np.concatenate([np.repeat(shapes[late, :, :1], 6, axis=2), shapes[late, :, :-6]], axis=2)
    groups = T.cluster(replace(beats, shapes=shapes))
    assert sorted(len(g.members) for g in groups) == sorted(known.values())
    first = groups[0]
    assert (first.members == sinus).all()
    assert first.shifts is not None
    assert (first.shifts[np.isin(first.members, late)] == 6).all()
    assert (first.shifts[~np.isin(first.members, late)] == 0).all()
    assert np.abs(first.median - T.cluster(beats)[0].median).max() < 0.05  # the median of the same shape
