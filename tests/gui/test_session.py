"""A session, not a recording (issue 71): several ECGs opened one after another in one window, a
label chosen on one of them; everything the window then shows belongs to the one open."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import analysed, choose_label


def _ptbxl(shared: Path, ecg_id: int) -> Path:
    return shared / "ptbxl" / "records100" / f"{ecg_id // 1000 * 1000:05d}" / f"{ecg_id:05d}_lr.hea"


@pytest.mark.parametrize("then", [17, 1])
def test_a_chosen_label_stays_with_its_recording(qtbot, ai_window, shared, then):
    """On PTB-XL 180 (left bundle branch block: it or its superclass, conduction disturbance, is the
    top finding, explained first) the reader chooses the other of the two; the next ECG starts with
    its own top finding explained, the highlight and selection cleared, and exactly one analysis
    per open."""
    w = ai_window
    first = analysed(qtbot, w, lambda: w.open_file(_ptbxl(shared, 180)))
    assert first.segment.name == w.recording.name and first.target.code in ("CLBBB", "CD")
    other = "CD" if first.target.code == "CLBBB" else "CLBBB"
    chosen = choose_label(qtbot, w, other)
    assert chosen.target.code == other
    w.ai.shading.set_highlight(frozenset({"V1"}), 0)

    runs: list[object] = []
    w.ai.resultShown.connect(runs.append)
    result = analysed(qtbot, w, lambda: w.open_file(_ptbxl(shared, then)))
    qtbot.wait(1500)  # a second analysis, if one were started, would land here
    assert len(runs) == 1, "one analysis per open"
    assert w.ai.result is result and result.source == w.ai.identity()
    assert result.target.code != other or result.analysis.predictions.get(chosen.target.task, other).decision
    preds = result.analysis.predictions
    top = preds.top("super")
    target = preds.get(result.target.task, result.target.code)
    assert target.decision or not any(c.decision for cs in preds.tasks.values() for c in cs if c.surfaced)
    assert result.target.code == top.code or target.decision
    assert w.ai.shading.highlight is None, "the previous ECG's highlight stays on"


def test_a_result_of_another_recording_is_refused(qtbot, ai_window, shared):
    """A result computed for the last ECG reaches the window after the next one opened: the
    display refuses it."""
    w = ai_window
    old = analysed(qtbot, w, lambda: w.open_file(_ptbxl(shared, 180)))
    analysed(qtbot, w, lambda: w.open_file(_ptbxl(shared, 17)))
    shown = w.ai.result
    w.ai._analysed(old)
    assert w.ai.result is shown
