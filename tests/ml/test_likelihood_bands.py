"""The plain-language likelihood of a finding (``ecgviewer.ml.likelihood``) and the command that
chooses its bands on fold 9 (``training/validate/likelihood.py``): the words at their edges, the
choice on synthetic data whose answer is known, and the bundled card's section."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ecgviewer.errors import EcgError
from ecgviewer.ml import likelihood as L

SHA = "ab" * 32


def _card(scale: str = "probability", likely: float = 0.44) -> dict:
    bands = {"likely": {"n": 70, "frequency": 0.8}, "possible": {"n": 20, "frequency": 0.3},
             "unlikely": {"n": 700, "frequency": 0.02}}  # fmt: skip
    section = {
        "scale": scale,
        "likely": likely,
        "target": 0.8,
        "fold": 9,
        "bands": bands,
        "weights_sha256": SHA,
    }
    return {"weights_sha256": SHA, "likelihood": section}


def test_words_and_phrases_on_a_synthetic_card() -> None:
    bands = L.bands_from_card(_card())
    assert bands is not None and (bands.scale, bands.likely, bands.fold) == ("probability", 0.44, 9)
    assert L.word(0.94, 0.3, bands) == "likely"
    assert L.word(0.41, 0.3, bands) == "possible"
    assert L.word(0.05, 0.3, bands) == "unlikely"
    assert L.word(0.3, 0.3, bands) == "possible"  # at the threshold: positive
    assert L.word(0.44, 0.3, bands) == "likely"  # at the cut-off: likely
    assert L.word(0.2999, 0.3, bands) == "unlikely"
    assert L.word(0.6, 0.55, bands) == "likely"  # a threshold above the cut-off: every positive is likely
    assert L.word(0.5, 0.55, bands) == "unlikely"
    assert L.phrase(0.94, 0.3, bands) == "likely (0.94)"
    assert L.phrase(0.41, 0.3, bands) == "possible (0.41)"
    assert L.phrase(0.05, 0.3, bands) == "unlikely (0.05)"
    assert L.word(0.94, None, bands) is None and L.phrase(0.94, None, bands) == "p = 0.94"
    assert L.word(0.94, 0.3, None) is None and L.phrase(0.94, 0.3, None) == "p = 0.94"
    assert bands.frequency("likely") == 0.8 and bands.frequency("nothing") is None
    assert "80 % of 70" in bands.summary() and "fold 9" in bands.summary()


def test_relative_scales_follow_each_class_threshold() -> None:
    rel = L.bands_from_card(_card("above_threshold", 0.5))
    assert L.word(0.85, 0.6, rel) == "likely"  # (0.85 - 0.6) / 0.4 = 0.625
    assert L.word(0.7, 0.6, rel) == "possible"  # 0.25
    assert L.word(0.3, 0.1, rel) == "possible" and L.word(0.6, 0.1, rel) == "likely"
    odds = L.bands_from_card(_card("log_odds", 1.0))
    assert L.word(0.2, 0.1, odds) == "possible"  # logit(0.2) - logit(0.1) = 0.81
    assert L.word(0.25, 0.1, odds) == "likely"  # 1.10
    assert math.isclose(L.score(0.2, 0.1, "log_odds"), math.log(0.25 / (1 / 9)), rel_tol=1e-9)


def test_the_card_section_absent_stale_or_malformed() -> None:
    assert L.bands_from_card(None) is None and L.bands_from_card({"name": "x"}) is None
    stale = _card()
    stale["weights_sha256"] = "cd" * 32  # re-exported weights: the words were chosen for others
    assert L.bands_from_card(stale) is None
    for broken in ({"likely": 0.4}, {"scale": "percent", "likely": 0.4, "target": 0.8, "fold": 9}, "yes"):
        with pytest.raises(EcgError, match="likelihood"):
            L.bands_from_card({"likelihood": broken})


def test_the_bundled_card_has_ordered_bands_chosen_on_fold_9() -> None:
    from ecgviewer.assets import model_path
    from ecgviewer.ml.infer import Analyzer

    card = json.loads(model_path().with_suffix(".json").read_text())
    bands = L.bands_from_card(card)
    assert bands is not None and bands.fold == 9 and bands.scale in L.SCALES
    assert card["likelihood"]["weights_sha256"] == card["weights_sha256"]
    if bands.scale != "log_odds":
        assert 0 < bands.likely < 1
    freq = [bands.frequency(w) for w in ("unlikely", "possible", "likely")]
    assert all(f is not None and 0 < f < 1 for f in freq)
    assert freq[0] < freq[1] < freq[2] and freq[2] >= bands.target > 0.5
    for b in card["likelihood"]["bands"].values():
        assert b["ci"][0] <= b["frequency"] <= b["ci"][1] and b["n"] > 0
    # the app's Analyzer reads the same (without loading the weights)
    analyzer = object.__new__(Analyzer)
    analyzer.loaded = SimpleNamespace(card=card)  # type: ignore[assignment]
    assert analyzer.bands == bands


# --- the command's chooser on synthetic data -------------------------------------------------


def _synthetic(n: int, thresholds: dict[str, float], relative: bool, seed: int = 0):
    """Window probabilities, labels and a card of ``n`` fold-9 records. Calibrated on the
    probability itself (``relative`` False: the label present with probability p) or on the
    log-odds above each class's threshold (True)."""
    from training.data import datasets as D

    rng = np.random.default_rng(seed)
    codes = list(thresholds)
    t = np.array([thresholds[c] for c in codes])
    if relative:
        s = rng.normal(-1.5, 2.0, (n, len(codes)))
        p = 1 / (1 + np.exp(-(s + np.log(t / (1 - t)))))
        truth = 1 / (1 + np.exp(-s))
    else:
        p = truth = rng.uniform(0, 1, (n, len(codes)))
    # a class every record has and the app does not show: every record is labelled in the task
    codes, t, p, truth = [*codes, "Z"], np.r_[t, 0.5], np.c_[p, np.ones(n)], np.c_[truth, np.ones(n)]
    y = (rng.uniform(0, 1, (n, len(codes))) < truth).astype(np.uint8)
    ecg_id = np.arange(1, n + 1)
    # record 0 read in two windows of 15 and 5 beats: beats-weighted, it must read p[0]
    d = np.minimum(1 - p[0], p[0] / 3) / 2
    first, second = p[0] + d, p[0] - 3 * d
    windows = np.vstack([first, second, p[1:]]).astype(np.float16)
    kept = {"ecg_id": ecg_id, "record": np.r_[0, np.arange(n)], "beats": np.r_[15, 5, np.full(n - 1, 15)],
            "all": windows}  # fmt: skip
    labels = D.Labels(ecg_id, np.full(n, 9), codes, y, None)
    task = {"classes": codes, "thresholds": thresholds, "surfaced": list(thresholds)}
    card = {"weights_sha256": SHA, "labels": {"all": task}}
    return kept, labels, card, p, y


def test_calibrated_data_gets_a_probability_cut_off_where_it_belongs() -> None:
    """p uniform and the label present with probability p: among p >= L the label's frequency is
    (1 + L) / 2, so 0.8 is first reached at L = 0.6; the plain probability scale wins."""
    from training.validate import likelihood as V

    kept, labels, card, p, _ = _synthetic(6000, {"A": 0.2, "B": 0.35, "C": 0.5}, relative=False)
    f = V.findings(kept, labels, card, {})
    assert len(f.p) == 3 * 6000
    assert abs(f.p[f.record == 1][0] - p[0, 0]) < 2e-3  # windows weighted by their beats
    bands, tried = V.choose(f)
    assert bands.scale == "probability", tried
    assert abs(bands.likely - 0.6) <= 0.03
    likely = bands.frequency("likely")
    assert likely is not None and likely >= 0.8
    assert {t["scale"] for t in tried} == set(L.SCALES)


def test_data_calibrated_above_each_threshold_gets_a_relative_scale() -> None:
    """When the label's frequency depends on how far p lies above the class's threshold (log-odds),
    a plain probability cut-off means different things for different classes: the chooser must
    see it and keep the log-odds scale."""
    from training.validate import likelihood as V

    kept, labels, card, *_ = _synthetic(6000, {"A": 0.05, "B": 0.5}, relative=True, seed=1)
    bands, tried = V.choose(V.findings(kept, labels, card, {}))
    spreads = {t["scale"]: t["spread"] for t in tried}
    assert bands.scale == "log_odds" and spreads["log_odds"] < spreads["probability"], spreads


def test_the_command_end_to_end_on_a_small_synthetic_set(tmp_path: Path) -> None:
    """``evaluate`` on 400 records: the report, the split by patient, and the card written with the
    rest of it byte for byte; a record outside fold 9 is refused."""
    from training.validate import likelihood as V

    kept, labels, card, *_ = _synthetic(400, {"A": 0.2, "B": 0.35}, relative=False, seed=2)
    patients = {e: e // 2 for e in range(1, 41)}  # records 1-40: two per patient
    result = V.evaluate(kept, labels, card, patients)
    halves = result["split_half"]
    assert [(h["chosen_on"], h["read_on"]) for h in halves] == [("A", "B"), ("B", "A")]
    assert halves[0]["records"] + halves[1]["records"] == 400
    f = V.findings(kept, labels, card, patients)
    a, b = V.halves(f)
    assert not set(f.group[a]) & set(f.group[b])  # a patient lies wholly in one half
    assert set(f.record[f.group == "patient 1"]) == {2, 3}
    text = V.report(result | {"model": "m.safetensors", "kept": "k.npz"})
    assert "python -m training likelihood" in "\n".join(text.splitlines()[:4])
    assert "| likely |" in text and "Expected calibration error" in text and "40 of 400 records" in text
    assert sum(r["n"] for r in result["rows"].values()) == 800

    path = tmp_path / "model.json"
    before = json.dumps(card, indent=1) + "\n"  # as ecgviewer.weights.write_card writes a card
    path.write_text(before)
    new = V.section(result["bands"], result["rows"], result["ece"], SHA, halves)
    V.write_card(path, new)
    after = path.read_text()
    assert after.startswith(before[: before.rindex("}")].rstrip())
    written = json.loads(after)
    assert {k: v for k, v in written.items() if k != "likelihood"} == card
    assert L.bands_from_card(written) == result["bands"]
    path.write_text(json.dumps(card, indent=2))  # another format: refused, not rewritten
    with pytest.raises(ValueError, match="format"):
        V.write_card(path, new)

    labels.fold[5] = 10
    with pytest.raises(ValueError, match="outside fold 9"):
        V.findings(kept, labels, card, {})
