"""Issue 74 part 2: the encoder's beat tokens against the hand-made features
(``python -m training beat-tokens``): each beat gets its own token vector, the vectors tell a
ventricular focus from sinus beats, and the paired comparison is the difference of the arms."""

from __future__ import annotations

import numpy as np
import pytest

from tests.measure.beat_records import record, sample_beat, two_foci
from training.validate import beat_tokens, ec57


def test_every_beat_gets_its_token_vector_and_the_shapes_part():
    """Two minutes with two ventricular foci among sinus beats (known times): each beat's vector
    is its own, and a nearest-centroid rule on the vectors finds which beats are which shape."""
    from ecgviewer.assets import model_path
    from ecgviewer.ml.bundle import load_model

    beat = sample_beat()
    beats, known = two_foci(beat)
    t = np.array([b[0] for b in beats])  # each complex's R lies at its time
    foci = sorted({id(w) for _, w in beats if w is not beat})
    shape = np.array([0 if w is beat else 1 + foci.index(id(w)) for _, w in beats])
    v = beat_tokens.token_vectors(record(beats, 120.0), t, load_model(model_path()).model.eval())
    assert v.shape == (len(t), 128) and np.isfinite(v).all()
    assert len(np.unique(v.round(4), axis=0)) == len(t)  # one vector per beat, none shared
    centroids = np.stack([v[shape == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((v[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == shape).mean() > 0.95
    assert sum(shape == 0) == known["sinus"]
    rel = beat_tokens.relative(v)
    assert rel.shape == (len(t), 256)
    assert np.allclose(rel[:, 128:], v - np.median(v, axis=0))


def test_the_paired_difference_is_the_arms_difference():  # ``ec57.paired``, which the report reads
    """Two records: the tokens arm finds one more ventricular beat in each, so its VEB Se is the
    features arm's plus 2 of 10 beats; a bootstrap draw of the same records gives the same."""
    rows = {
        "features": [ec57.Counts(n, ref_v=5, tp_v=3, det_v=4, ref_s=2, tp_s=1, det_s=1) for n in ("1", "2")],
        "tokens": [ec57.Counts(n, ref_v=5, tp_v=4, det_v=5, ref_s=2, tp_s=1, det_s=1) for n in ("1", "2")],
    }
    d = ec57.paired(rows["tokens"], rows["features"], beat_tokens.COMPARED, draws=50)
    assert d["veb_se"] == pytest.approx((20.0, 20.0, 20.0))
    assert d["sveb_se"] == pytest.approx((0.0, 0.0, 0.0))


def test_a_classifier_on_other_inputs_lists_beats_as_the_features_one_does():
    """``OnInputs`` stands in for the classifier in ``rhythm.classify``: given the features' own
    inputs it lists the same beats with the same kinds."""
    from ecgviewer.measure import beat_classes as C
    from ecgviewer.measure import rhythm as R

    found = R.detect(record(two_foci(sample_beat())[0], 120.0))
    clf = C.BeatClassifier.bundled()
    direct = R.classify(found, clf)
    wrapped = R.classify(found, beat_tokens.OnInputs(clf, C.inputs(found.features)))  # type: ignore[arg-type]
    assert len(direct.t_s) > 100 and (direct.t_s == wrapped.t_s).all() and (direct.kind == wrapped.kind).all()
