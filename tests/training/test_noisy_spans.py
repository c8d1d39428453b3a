"""``python -m training noisy-spans``: the 10 s measurement over bursts of noise, paired with
counting every QRS complex found, on MIT-BIH spans and the bundled sample."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from tests.conftest import SHARED
from training.validate import noisy_spans as NS

MITDB = SHARED / "mitdb"


def test_neither_a_muscle_burst_nor_electrode_motion_is_counted_as_beats():
    from ecgviewer.measure.delineate import Delineator

    spans = NS.bursts(NS.SAMPLE, Delineator.bundled(), rms_mv=(0.4,), bursts_s=((4.5, 7.5),))
    muscle, motion = spans
    assert muscle.invented_all > 0 and muscle.invented == 0 and muscle.unread_s >= 3.0
    assert abs(muscle.hr - muscle.hr_ref) < abs(muscle.hr_all - muscle.hr_ref)
    assert motion.unread_s == 0  # slow, not broadband: no stretch, but the second opinion ...
    assert motion.judged > 0 and motion.invented < motion.invented_all  # ... finds no QRS at them
    s = NS.summary(spans)
    assert s["spans"] == 2 and s["invented_all"] == muscle.invented_all + motion.invented_all
    assert s["better"] == 2 and s["worse"] == 0


@pytest.mark.skipif(not MITDB.exists(), reason="../shared/data/mitdb is not here")
def test_mitbih_spans_with_noise_are_scored_and_reported(tmp_path):
    out, spans = tmp_path / "NS.md", tmp_path / "spans.json"
    NS.command(Namespace(mitdb=MITDB, records=["104"], minutes=2.0, ludb=None, sample=NS.SAMPLE, out=out,
                         spans=spans))  # fmt: skip
    rows = [NS.Span(**s) for s in json.loads(spans.read_text())]
    mit = [s for s in rows if s.where == "104"]
    assert len(mit) == 12 and all(s.beats >= 8 for s in mit)  # 10 s of 70 bpm, the ends left out
    text = out.read_text()
    assert "--records 104" in text and "| MIT-BIH, every 10 s span | 12 | " in text
    shown = [s for s in mit if s.differs or s.noisy or s.judged]
    assert shown and all(f"| 104 | {s.start_s:g} | {s.beats} |" in text for s in shown)
