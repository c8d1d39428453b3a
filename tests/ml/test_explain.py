"""Inference, attributions, attention and their checks on the bundled model and sample recordings.

Exact checks where the method promises something exact (IG sums, occlusion drops, padding);
the sanity check is measured on a bundled PTB-XL sample, faithfulness on held-out PTB-XL records
(the shared data; skipped without it).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from ecgviewer.errors import EcgError
from ecgviewer.io import load
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.ml import checks, contract, explain, inputs
from ecgviewer.ml.attention import attention_maps, own_lead_attention, rollout_to_beats
from ecgviewer.ml.infer import Analyzer, pick_device
from ecgviewer.recording import make_recording
from ecgviewer.sources import ArraySource
from tests.conftest import REPO

SAMPLES = sorted((REPO / "resources/samples/ptbxl/records500/00000").glob("*.hea"))
LEADS = contract.LEADS
FOLD10_FIRST = (9, 38, 40, 57, 59, 63, 65, 75, 76, 79)  # PTB-XL strat_fold 10, by ecg_id


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    """The bundled model with its card's explanation settings left out: the exact sums below are
    checked against a flat reference (the normal beat has its own test)."""
    a = Analyzer(device="cpu")
    a.loaded.card = {k: v for k, v in (a.loaded.card or {}).items() if k != "explanations"}
    return a


@pytest.fixture(scope="module")
def rec():
    return load(SAMPLES[0])  # ecg_id 3: normal ECG, labelled NORM 100


@pytest.fixture(scope="module")
def target(analyzer, rec) -> explain.Target:
    return explain.choose_target(analyzer.classes, analyzer.analyse(rec).predictions, "super", None)


@pytest.fixture(scope="module")
def ig(analyzer, rec, target) -> explain.Explanation:
    return explain.explain(analyzer, rec, analyzer.analyse(rec), target, "ig")


@pytest.fixture(scope="module")
def occlusion(analyzer, rec, target) -> explain.Explanation:
    return explain.explain(analyzer, rec, analyzer.analyse(rec), target, "occlusion")


def _in_memory(signals: np.ndarray, fs: float):
    return make_recording(
        None, ArraySource(np.ascontiguousarray(signals, np.float32)), fs, list(STANDARD_LEADS), "t"
    )


def _forward_logit(analyzer: Analyzer, target: explain.Target, values: np.ndarray, tokens) -> np.ndarray:
    tokens = dataclasses.replace(tokens, values=values)
    with torch.inference_mode():
        out = analyzer.model(*inputs.for_beats(tokens).tensors(torch.device("cpu")))
    return out[target.task][:, target.index].double().numpy()


# -- predictions -----------------------------------------------------------------------------------
def test_predictions_follow_the_card_and_the_record(analyzer, rec):
    preds = analyzer.analyse(rec).predictions
    card = analyzer.loaded.card["labels"]
    for task, results in preds.tasks.items():
        assert [c.code for c in results] == analyzer.classes[task]
        for c in results:
            assert c.decision == (c.probability >= c.threshold)
            if c.record_head is not None:  # tests/ml/test_record_head.py
                assert c.record_head[0] == pytest.approx(np.mean(c.window_probabilities))
                continue
            assert c.threshold == card[task]["thresholds"][c.code]
            assert c.surfaced == (c.code in card[task]["surfaced"])
            assert c.probability == pytest.approx(np.mean(c.window_probabilities))
    assert preds.record_labels == {"NORM": 100.0, "SR": 0.0}
    assert preds.get("super", "NORM").in_record == 100.0 and preds.get("all", "NORM").in_record == 100.0
    assert preds.get("super", "MI").in_record is None and preds.get("all", "IMI").in_record is None
    assert preds.top("super").code == "NORM" and preds.get("super", "NORM").decision
    assert set(preds.timings) == {"tokenise_ms", "infer_ms", "record_head_ms"}


def test_grouping_places_every_surfaced_class_once(analyzer, rec):
    groups = analyzer.analyse(rec).predictions.grouped()
    where = {c.code: g.name for g in groups for c in g.members}
    shown = [c.code for g in groups for c in g.members]
    card = analyzer.loaded.card["labels"]["all"]
    _, surfaced = analyzer.record_head.judged(analyzer.classes["all"], card["thresholds"], card["surfaced"])
    assert sorted(shown) == sorted(surfaced) and "SARRH" in shown  # the record head shows sinus arrhythmia
    assert where["IMI"] == "MI" and where["CLBBB"] == "CD" and where["LVH"] == "HYP"
    assert where["AFIB"] == "rhythm" and where["QWAVE"] == "form" and where["NORM"] == "NORM"
    assert [g.name for g in groups][:5] == analyzer.classes["super"]  # superclasses first, with their heads
    assert all(g.head is not None and g.head.code == g.name for g in groups[:5])


def test_cache_is_keyed_on_file_state_and_identity(analyzer, rec, tmp_path):
    assert analyzer.analyse(rec) is analyzer.analyse(load(SAMPLES[0]))  # same file, same state
    copy = tmp_path / SAMPLES[0].name
    copy.write_bytes(SAMPLES[0].read_bytes())
    copy.with_suffix(".dat").write_bytes(SAMPLES[0].with_suffix(".dat").read_bytes())
    first = analyzer.analyse(load(copy))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    assert analyzer.analyse(load(copy)) is not first  # the file changed
    a = _in_memory(rec.signals, rec.fs)
    b = _in_memory(rec.signals, rec.fs)
    assert analyzer.analyse(a) is analyzer.analyse(a)
    assert analyzer.analyse(b) is not analyzer.analyse(a)


def test_devices_and_gpu_fallback(analyzer, monkeypatch):
    want = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device("auto").type == want
    with pytest.raises(EcgError, match="choose from"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(EcgError, match="not available"):
            pick_device("cuda")
    tried = []

    def work(device: torch.device) -> str:
        tried.append(device.type)
        if device.type != "cpu":
            raise RuntimeError("CUDA error: out of memory\nmore detail")
        return "done"

    monkeypatch.setattr(analyzer, "device", torch.device("cuda"))
    monkeypatch.setattr(analyzer, "notices", [])
    assert analyzer.on_device(work) == "done"
    assert tried == ["cuda", "cpu"] and analyzer.device.type == "cpu"
    assert analyzer.notices == ["CUDA failed (CUDA error: out of memory); continued on the CPU"]

    def fail(device: torch.device) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):  # on the CPU an error stays an error
        analyzer.on_device(fail)
    assert len(analyzer.notices) == 1


# -- attributions ------------------------------------------------------------------------------------
def test_integrated_gradients_is_complete_and_sums_up_the_hierarchy(ig, analyzer, rec):
    tokens = analyzer.analyse(rec).tokens
    assert ig.target.output == "logit" and ig.additive and ig.n_steps == explain.DEFAULT_STEPS
    np.testing.assert_allclose(ig.samples.astype(np.float64).sum(-1), ig.beats, atol=1e-9)
    # completeness: the attributions add up to logit(x) - logit(flat), up to the reported delta
    gap = ig.logit - ig.baseline_logit
    np.testing.assert_allclose(
        ig.samples.sum(axis=(1, 2, 3)), gap, atol=np.abs(ig.convergence_delta).max() + 1e-4
    )
    assert np.all(np.abs(ig.convergence_delta) < 0.02 * np.abs(gap))
    w = int(np.argmax(np.abs(ig.convergence_delta)))  # in words: the worst window, as a share too
    share = abs(ig.convergence_delta[w] / gap[w])
    assert f"({abs(gap[w]):.2f}) within {abs(ig.convergence_delta[w]):.3g} ({share:.1%})" in ig.completeness()
    covered = [lead.lead for t in ig.tree for lead in t.leads]
    assert sorted(covered) == sorted(LEADS)  # every lead in exactly one territory
    for t in ig.tree:
        assert t.score == pytest.approx(sum(lead.score for lead in t.leads), abs=1e-9)
        assert t.score == pytest.approx(ig.territories[t.name], abs=1e-12)
        for lead in t.leads:
            assert lead.score == pytest.approx(sum(b.score for b in lead.beats), abs=1e-9)
            assert len(lead.beats) == int((~tokens.pad[:, LEADS.index(lead.lead)]).sum())
    assert sum(ig.hug_groups.values()) == pytest.approx(ig.leads.sum(), abs=1e-9)
    assert ig.hug_groups["limb"] == pytest.approx(ig.leads[:3].sum(), abs=1e-9)
    beat = ig.tree[0].leads[0].beats[1]  # II, beat 1: time span from the contract's spans
    assert (beat.start_s, beat.stop_s) == tuple(tokens.spans[0, 1] / rec.fs)
    assert beat.start_s < beat.r_s < beat.stop_s


def test_frontal_shares_do_not_depend_on_which_limb_lead_the_model_reads() -> None:
    """aVR = -(I + II) / 2, so a model weighting aVR and one weighting I and II by -1/2 are the same
    function of a 12-lead ECG; as recorded, their attributions sit on different leads, shared by
    the frontal axes they are the same, and every sample's total is kept."""
    from ecgviewer.leads import LIMB_LEADS, derive_limb_leads
    from ecgviewer.ml import hexaxial

    lead_i, lead_ii = np.random.default_rng(0).normal(size=(2, 200))
    derived = derive_limb_leads(lead_i, lead_ii)
    x = np.stack([lead_i, lead_ii, *(derived[n] for n in LIMB_LEADS[2:])])
    reads_avr, reads_i_ii = np.zeros((2, 6, 200))
    reads_avr[LIMB_LEADS.index("aVR")] = 1.0
    reads_i_ii[:2] = -0.5
    np.testing.assert_allclose((x * reads_avr).sum(0), (x * reads_i_ii).sum(0), atol=1e-12)
    assert not np.allclose(x * reads_avr, x * reads_i_ii)
    a, b = hexaxial.share(x, reads_avr), hexaxial.share(x, reads_i_ii)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a.sum(0), (x * reads_avr).sum(0), atol=1e-12)
    # a heart vector along aVF's axis with the gradient along it too: the inferior leads take it
    along = np.zeros((6, 1))
    along[:, 0] = hexaxial.LEAD_OF_VECTOR @ np.array([0.0, 1.0])
    shares = hexaxial.share(along, along)[:, 0]
    assert set(np.argsort(shares)[-3:]) == {LIMB_LEADS.index(n) for n in ("II", "III", "aVF")}


def test_frontal_ig_keeps_completeness_and_the_precordial_leads(analyzer, rec, target, ig):
    frontal = explain.attribute(analyzer.model, analyzer.analyse(rec).inputs, target, "ig", frontal=True)
    assert frontal.frontal and not ig.frontal
    np.testing.assert_allclose(frontal.samples.sum(axis=(1, 2, 3)), ig.samples.sum(axis=(1, 2, 3)), atol=1e-4)
    np.testing.assert_allclose(frontal.leads[6:], ig.leads[6:], atol=1e-9)
    np.testing.assert_allclose(frontal.leads[:6].sum(), ig.leads[:6].sum(), atol=1e-4)
    assert not np.allclose(frontal.leads[:6], ig.leads[:6], atol=1e-3)
    reused = explain.attribute(
        analyzer.model, analyzer.analyse(rec).inputs, target, "ig", frontal=True, like=ig
    )
    np.testing.assert_allclose(reused.leads, frontal.leads, atol=1e-9)
    with pytest.raises(EcgError, match="'like'"):  # another method's gradient is not reused
        explain.attribute(analyzer.model, analyzer.analyse(rec).inputs, target, "gxi", like=ig)


def test_padded_beats_and_missing_leads_score_zero(analyzer, rec, target):
    x = rec.signals[:, : int(6.5 * rec.fs)].copy()  # 6.5 s: the last beats are padding
    x[LEADS.index("V3")] = 0.0  # flat: a missing lead
    short = _in_memory(x, rec.fs)
    tokens = analyzer.analyse(short).tokens
    assert tokens.pad[0, :, -1].all() and tokens.pad[0, LEADS.index("V3")].all()
    for method in explain.METHODS:
        e = explain.explain(analyzer, short, analyzer.analyse(short), target, method)
        assert np.all(e.beats[tokens.pad] == 0.0)
        assert e.leads[LEADS.index("V3")] == 0.0
        assert e.samples is None or np.all(e.samples[tokens.pad] == 0.0)
        assert np.count_nonzero(e.beats) > 0.9 * (~tokens.pad).sum()
        v3 = next(lead for t in e.tree for lead in t.leads if lead.lead == "V3")
        assert v3.missing and v3.beats == () and v3.score == 0.0


def test_occlusion_scores_are_exact_logit_drops(occlusion, analyzer, rec, target):
    tokens = analyzer.analyse(rec).tokens
    assert not occlusion.additive and occlusion.samples is None
    base = _forward_logit(analyzer, target, tokens.values, tokens)
    for lead in ("II", "V5", "aVR"):
        zeroed = tokens.values.copy()
        zeroed[:, LEADS.index(lead)] = 0.0
        drop = base - _forward_logit(analyzer, target, zeroed, tokens)
        assert occlusion.leads[LEADS.index(lead)] == pytest.approx(drop.sum(), abs=1e-4)
    zeroed = tokens.values.copy()
    zeroed[:, [LEADS.index(lead) for lead in explain.TERRITORIES["inferior"]]] = 0.0
    drop = base - _forward_logit(analyzer, target, zeroed, tokens)
    assert occlusion.territories["inferior"] == pytest.approx(drop.sum(), abs=1e-4)
    zeroed = tokens.values.copy()
    zeroed[0, LEADS.index("V2"), 3] = 0.0
    drop = base - _forward_logit(analyzer, target, zeroed, tokens)
    assert occlusion.beats[0, LEADS.index("V2"), 3] == pytest.approx(drop[0], abs=1e-4)
    # occlusion is not additive: a lead's own drop differs from the sum of its beats' drops
    assert not np.allclose(occlusion.leads, occlusion.beats.sum(axis=(0, 2)), atol=1e-2)


def test_each_window_is_attributed_with_its_own_forward(analyzer, rec, target):
    long = _in_memory(np.tile(rec.signals, (1, 3))[:, : int(25 * rec.fs)], rec.fs)  # 25 s: 3 windows
    analysis = analyzer.analyse(long)
    tokens = analysis.tokens
    assert tokens.n_windows == 3 and len(analysis.predictions.get("super", "NORM").window_probabilities) == 3
    e = explain.explain(analyzer, long, analyzer.analyse(long), target, "gxi")
    for w in range(3):
        one = dataclasses.replace(
            tokens,
            **{
                f: getattr(tokens, f)[w : w + 1] for f in ("values", "pad", "local_rpeaks", "spans", "rpeaks")
            },
        )
        alone = explain.attribute(analyzer.model, inputs.for_beats(one), target, "gxi")
        np.testing.assert_allclose(e.beats[w], alone.beats[0], atol=1e-5)
    times = [b.stop_s for t in e.tree for lead in t.leads for b in lead.beats]
    assert 20 < max(times) <= 25 and {b.window for b in e.tree[0].leads[0].beats} == {0, 1, 2}
    np.testing.assert_allclose(e.leads, e.beats.sum(axis=(0, 2)), atol=1e-9)


def test_choose_target(analyzer, rec):
    preds = analyzer.analyse(rec).predictions
    assert explain.choose_target(analyzer.classes, preds, "all", None).code == preds.top("all").code
    imi = explain.choose_target(analyzer.classes, preds, "super", "IMI")  # found in the other task
    assert (imi.task, imi.index) == ("all", analyzer.classes["all"].index("IMI"))
    with pytest.raises(EcgError, match="not a class"):
        explain.choose_target(analyzer.classes, preds, "super", "XYZ")


# -- checks ------------------------------------------------------------------------------------------
def test_randomised_model_gives_an_unrelated_map(ig, analyzer, rec):
    tokens = analyzer.analyse(rec).tokens
    clone = checks.randomised_copy(analyzer.model)
    trained = dict(analyzer.model.named_parameters())
    assert all(not torch.equal(p, trained[name]) for name, p in clone.named_parameters())
    check = checks.randomisation_check(analyzer.model, inputs.for_beats(tokens), ig, torch.device("cpu"))
    assert check.n_beats == int((~tokens.pad).sum())
    assert abs(check.spearman) < 0.5, check  # measured -0.08 (IG, 32 steps, sample 3)


def _faith(top: float, random: float, k: int = 3) -> checks.Faithfulness:
    """A record whose AOPCs are ``top`` and ``random`` (the same drop after every removal)."""
    return checks.Faithfulness(k, 0.9, (top,) * k, (random,) * k, n_random=10)


def test_faithfulness_summary_by_hand():
    # random removals raise the probability on average: no ratio, the paired figures still hold
    s = checks.faithfulness_summary([_faith(0.01 * (i + 1), -0.002 * (i % 3)) for i in range(8)])
    assert (s.records, s.k, s.wins, s.losses, s.win_rate) == (8, 3, 8, 0, 1.0)
    assert s.sign_test_p == pytest.approx(2 / 2**8)  # exact: both tails of 8 of 8
    assert s.aopc_random_mean < 0 and s.ratio is None
    assert s.difference_mean == pytest.approx(0.045 + 0.002 * 7 / 8) and s.difference_ci[0] > 0
    # a tie is neither a win nor a loss; a constant random AOPC has a zero-width interval
    s = checks.faithfulness_summary([_faith(top, 0.1) for top in (0.3, 0.2, 0.1, 0.0)])
    assert (s.wins, s.losses, s.win_rate, s.sign_test_p) == (2, 1, 0.5, 1.0)
    assert s.aopc_random_ci == pytest.approx((0.1, 0.1)) and s.ratio == pytest.approx(1.5)
    assert s.difference_mean == pytest.approx(0.05)
    assert -0.1 <= s.difference_ci[0] < 0.05 < s.difference_ci[1] <= 0.2
    assert checks.faithfulness_summary([_faith(top, 0.1) for top in (0.3, 0.2, 0.1, 0.0)]) == s  # seeded
    with pytest.raises(ValueError, match="no records"):
        checks.faithfulness_summary([])
    with pytest.raises(ValueError, match="different k"):
        checks.faithfulness_summary([_faith(0.1, 0.0), _faith(0.1, 0.0, k=2)])


def test_top_attributed_beats_matter_more_than_random_ones(analyzer, shared):
    """The benchmark's check on its first ten records (PTB-XL fold 10, held out from training).
    Measured: AOPC_top > AOPC_random on 7 of 10, mean difference 0.013; two records must flip to
    fail. Ten because random subsets of the first 60 records pass 86 % of the time with 5 records,
    92 % with 10, 99 % with 20 (twice the time)."""
    results = []
    for ecg_id in FOLD10_FIRST:
        rec = load(shared / f"ptbxl/records100/00000/{ecg_id:05d}_lr.hea")
        analysis = analyzer.analyse(rec)
        target = explain.choose_target(analyzer.classes, analysis.predictions, "super", None)
        e = explain.explain(analyzer, rec, analyzer.analyse(rec), target, "ig")
        f = checks.faithfulness(analyzer.model, analysis.inputs, e, torch.device("cpu"), k=3)
        assert f.k == 3 and len(f.top_drops) == len(f.random_drops) == 3
        results.append(f)
    s = checks.faithfulness_summary(results)
    assert s.win_rate > 0.5 and s.difference_mean > 0, s


# -- attention -----------------------------------------------------------------------------------------
def test_attention_maps_shapes_and_padding(analyzer, rec):
    tokens = analyzer.analyse(rec).tokens
    maps = attention_maps(analyzer.model, inputs.for_beats(tokens))
    from ecgviewer.ml.model import Ensemble

    model = analyzer.model
    cfg = (model.parts[0] if isinstance(model, Ensemble) else model).encoder.config
    assert maps.cls_to_beats.shape == (1, cfg.depth, cfg.heads, 12, 15) and maps.rollout.shape == (1, 12, 15)
    pad = tokens.pad[:, None, None]
    assert np.all(maps.cls_to_beats[np.broadcast_to(pad, maps.cls_to_beats.shape)] == 0)
    assert np.all(maps.rollout[tokens.pad] == 0) and np.all(maps.rollout >= 0)
    # [CLS]_i sees only itself and its own beats: the beats' share is the rest of its row
    sums = maps.cls_to_beats.sum(-1)
    assert np.all(sums <= 1 + 1e-5) and np.all(sums > 0)


def test_rollout_and_own_lead_slices_by_hand():
    n = 12 + 12 * 15
    g = torch.Generator().manual_seed(0)
    stack = torch.rand(1, 2, 3, n, n, generator=g).softmax(-1)  # 2 layers, 3 heads
    own = own_lead_attention(stack)
    assert own[0, 1, 2, 4, 7] == stack[0, 1, 2, 4, 12 + 4 * 15 + 7]
    a = [(stack[0, layer].mean(0) + torch.eye(n)) for layer in range(2)]
    a = [x / x.sum(-1, keepdim=True) for x in a]
    joint = a[1] @ a[0]
    expect = joint[:12, 12:].mean(0).reshape(12, 15)
    torch.testing.assert_close(rollout_to_beats(stack)[0], expect)


def _alone(c):
    """``c`` as the encoder alone says it (the words on the record head's part: test_record_head)."""
    return dataclasses.replace(c, record_head=None, measured_by=(), read_off="")


def test_the_explanation_in_words(analyzer, rec, ig) -> None:
    """A positive finding: the top territory, its signed share of the attribution (the number the
    chart and the report give), its leads that raise the class and the strongest beats (numbered
    in time order); the benchmark only where it applies, with its population."""
    from ecgviewer.leads import TERRITORIES
    from ecgviewer.ml import wording

    tokens = analyzer.analyse(rec).tokens
    norm = _alone(analyzer.analyse(rec).predictions.get("super", "NORM"))
    mi = dataclasses.replace(ig, target=dataclasses.replace(ig.target, code="MI"))
    found = dataclasses.replace(norm, code="MI", group="MI", probability=0.9, threshold=0.3, decision=True)
    w = wording.describe(mi, tokens, {}, found)
    assert w.form == "positive" and w.agreement is None
    assert w.territory == max(ig.territories, key=ig.territories.get)
    by_lead = {s.name: s.share for s in wording.shares(list(LEADS), ig.leads)}
    by_territory = {t.name: t.score for t in mi.tree}
    assert w.share == pytest.approx(by_territory[w.territory] / sum(abs(v) for v in by_territory.values()))
    assert set(w.leads) <= set(TERRITORIES[w.territory]) and all(by_lead[x] > 0 for x in w.leads)
    n_beats = int((tokens.rpeaks >= 0).sum())
    assert (
        1 <= len(w.beats) <= wording.TOP_BEATS and list(w.beats) == sorted(w.beats) and w.beats[-1] <= n_beats
    )
    assert w.text.startswith("MI, positive (p = 0.90 \u2265 0.30): ") and f"{100 * w.share:.0f} %" in w.text
    card = {"explanations": {"fold": 10, "agreement": {"MI": {w.territory: [8, 10]}}}}
    agreed = wording.describe(mi, tokens, card, found)
    assert agreed.agreement is not None and "records the cardiologists labelled MI" in agreed.agreement
    assert "80 % of 10" in agreed.agreement and "not whether" in agreed.agreement
    against = wording.describe(mi, tokens, card, found, ("another finding is positive",))
    assert against.agreement is None and against.lines[-1] == "Against it: another finding is positive"
    flat = dataclasses.replace(
        mi, leads=-np.abs(ig.leads), territories={k: -abs(v) for k, v in ig.territories.items()}
    )
    assert wording.describe(flat, tokens, card, found).text.endswith(": no lead raises it")


def test_a_finding_without_a_territory_is_worded_by_its_leads(analyzer, rec, ig) -> None:
    """A conduction disturbance is read from leads, not a coronary territory (``TERRITORIAL``):
    the leads that raise it most, with the shares the lead chart draws, and no benchmark."""
    from ecgviewer.ml import wording

    tokens = analyzer.analyse(rec).tokens
    norm = _alone(analyzer.analyse(rec).predictions.get("super", "NORM"))
    cd = dataclasses.replace(ig, target=dataclasses.replace(ig.target, code="CD"))
    found = dataclasses.replace(norm, code="CD", group="CD", probability=0.9, threshold=0.3, decision=True)
    card = {"explanations": {"fold": 10, "agreement": {"CD": {t: [8, 10] for t in ig.territories}}}}
    w = wording.describe(cd, tokens, card, found)
    top = wording.ranked(wording.shares(list(LEADS), ig.leads), wording.TOP_LEADS)
    assert w.form == "positive" and w.territory is None and w.agreement is None
    assert w.leads == tuple(s.name for s in top) and "territory" not in w.text
    assert w.text.startswith(f"CD, positive (p = 0.90 \u2265 0.30): leads raising it most: {top[0].name} (")


def test_standardised_territory_scores_favour_no_territory_for_its_size() -> None:
    """Attribution spread at random over the 12 leads: under ``standardised`` each of the five
    territories ranks first about as often (a fifth); the sum favours the four-lead lateral one
    and the sum per lead the one-lead aVR, the bias that headlined an LBBB as "aVR"."""
    from ecgviewer.leads import TERRITORIES
    from ecgviewer.ml import wording

    rng = np.random.default_rng(0)
    firsts: dict[str, list[str]] = {"sum": [], "standardised": [], "per-lead": []}
    for _ in range(4000):
        lead = dict(zip(LEADS, rng.normal(0.3, 1.0, len(LEADS)), strict=True))
        sums = {t: sum(lead[x] for x in leads) for t, leads in TERRITORIES.items()}
        for scoring in wording.SCORINGS:
            scores = wording.territory_scores(sums, scoring)
            firsts[scoring].append(max(scores, key=scores.get))
        per_lead = {t: v / len(TERRITORIES[t]) for t, v in sums.items()}
        firsts["per-lead"].append(max(per_lead, key=per_lead.get))
    rate = {k: {t: v.count(t) / len(v) for t in TERRITORIES} for k, v in firsts.items()}
    assert all(abs(r - 0.2) < 0.035 for r in rate["standardised"].values()), rate["standardised"]
    assert max(rate["sum"], key=rate["sum"].get) == "lateral" and rate["sum"]["lateral"] > 0.3
    assert max(rate["per-lead"], key=rate["per-lead"].get) == "aVR" and rate["per-lead"]["aVR"] > 0.25


def test_a_negative_finding_is_never_worded_as_positive(analyzer, rec, ig) -> None:
    """A finding below its threshold, explained because the user asked: "not found", what lowers
    it, no territory and no benchmark, whatever the card holds."""
    from ecgviewer.ml import wording

    tokens = analyzer.analyse(rec).tokens
    norm = _alone(analyzer.analyse(rec).predictions.get("super", "NORM"))
    mi = dataclasses.replace(ig, target=dataclasses.replace(ig.target, code="MI"))
    absent = dataclasses.replace(norm, code="MI", probability=0.01, threshold=0.3, decision=False)
    card = {"explanations": {"fold": 10, "agreement": {"MI": {t: [8, 10] for t in ig.territories}}}}
    w = wording.describe(mi, tokens, card, absent)
    assert w.form == "negative" and w.territory is None and w.agreement is None
    assert "not found (p = 0.01 < 0.30)" in w.text and "what lowers it most" in w.text
    assert "of the attribution:" not in w.text and "territory" not in w.text


def test_norm_is_worded_against_its_normal_reference(analyzer, rec, ig) -> None:
    """NORM against a normal reference beat: the leads that depart from it lower NORM, named with
    the same signed shares the chart draws."""
    from ecgviewer.ml import wording

    tokens = analyzer.analyse(rec).tokens
    norm = _alone(analyzer.analyse(rec).predictions.get("super", "NORM"))
    assert ig.target.code == "NORM" and norm.decision
    w = wording.describe(ig, tokens, {}, norm)
    assert w.form == "normal" and w.agreement is None and w.territory is None
    lowering = wording.ranked(wording.shares(list(LEADS), ig.leads), wording.TOP_LEADS, -1)
    assert list(w.leads) == [s.name for s in lowering]
    for s in lowering:
        assert f"{s.name} ({100 * s.share:+.0f} %)" in w.text


def test_a_normal_beat_reference_keeps_completeness(analyzer, rec, target, ig) -> None:
    """Against a reference beat laid on every beat token (its filled samples only), IG still sums to
    logit(x) - logit(reference), occlusion replaces by the reference, and the name travels."""
    from ecgviewer.ml.reference import Reference

    model_input = analyzer.analyse(rec).inputs
    beat = np.tile(np.hanning(96).astype(np.float32) * 0.5, (12, 1))
    ref = Reference("test beat", beat)
    laid = ref.values(model_input)
    filled = ~model_input.pad[..., None] & model_input.tokens.support()[:, None]
    assert np.all(laid[~filled] == 0) and np.allclose(
        laid[filled], np.broadcast_to(beat[None, :, None], laid.shape)[filled]
    )
    e = explain.attribute(analyzer.model, model_input, target, "ig", reference=ref)
    assert e.baseline == "test beat" and ig.baseline.startswith("zeros")
    assert not np.allclose(e.baseline_logit, ig.baseline_logit)
    gap = e.logit - e.baseline_logit
    np.testing.assert_allclose(
        e.samples.sum(axis=(1, 2, 3)), gap, atol=np.abs(e.convergence_delta).max() + 1e-4
    )
    assert np.all(np.abs(e.convergence_delta) < 0.05 * np.abs(gap) + 1e-3)
    occ = explain.attribute(analyzer.model, model_input, target, "occlusion", reference=ref)
    assert occ.baseline == "test beat" and np.isfinite(occ.leads).all()


def test_an_ensemble_of_one_model_twice_explains_as_the_model(analyzer, rec, target, ig) -> None:
    """The ensemble's logit is its members' mean probability's: with the same member twice it is
    that member's logit, so every attribution and attention map is the member's."""
    from ecgviewer.ml.attention import attention_maps
    from ecgviewer.ml.model import Ensemble

    model_input = analyzer.analyse(rec).inputs
    twice = Ensemble([analyzer.model, analyzer.model]).eval()
    e = explain.attribute(twice, model_input, target, "ig")
    np.testing.assert_allclose(e.logit, ig.logit, atol=1e-5)
    np.testing.assert_allclose(e.leads, ig.leads, atol=1e-4 * np.abs(ig.leads).max())
    a, b = attention_maps(twice, model_input), attention_maps(analyzer.model, model_input)
    np.testing.assert_allclose(a.rollout, b.rollout, atol=1e-6)
    assert "ensemble" in a.readout
