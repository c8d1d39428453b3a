"""An explanation said in words, no more than the evidence carries (issue 71).

Three forms, chosen by the finding's decision on the model card's threshold:
- **a positive finding** of infarction or ischaemia: the territory that carries most of the
  evidence, its share, the leads within it that raise the class and the strongest beats; then,
  where it applies, the benchmark (``python -m training explain-benchmark``, stored in the card
  under ``explanations``):
  "MI, positive (p = 0.72 >= 0.45): inferior territory, 38 % of the attribution: II, III, aVF;
  beats 3, 5 and 9." The benchmark measured how often a localisation agreed with cardiologists'
  labels *on records labelled with the class*: it is quoted only beside a positive finding that
  no other finding or measurement contradicts (``consistency``), and says which population it is.
- **NORM**: the reference is a normal beat, so what IG measures is how far each lead departs from
  a normal beat, and a departure lowers NORM: "the leads that differ most from the normal
  reference beat, which lower NORM: V3 (-30 %) ..." (``training/reports/XAI.md`` explains the choice).
- **a negative finding** (the user asked for it): "not found ... what lowers it most: V1 (-40 %)";
  never the positive form.

Every percentage is a lead's signed share of the leads' magnitudes, or a territory's of the
territories' (``shares``): the same numbers the charts draw and the report prints. A finding is
localised to a territory only where a cardiologist would (``TERRITORIAL``); the words of any other
positive finding name the leads and beats that raise it: "CD, positive ...: leads raising it
most: V6 (18 %), ...".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.leads import TERRITORIES
from ecgviewer.ml import contract
from ecgviewer.ml.placement import token_times

if TYPE_CHECKING:  # torch stays unloaded for the report's and the panels' imports
    from ecgviewer.ml.explain import Explanation
    from ecgviewer.ml.infer import ClassResult

TOP_BEATS = 3
TOP_LEADS = 3
NORMAL = "NORM"  # PTB-XL's normal ECG: explained against its own reference (module docstring)
# The groups whose findings a cardiologist localises to a coronary territory: infarction and
# ischaemic ST-T change. A conduction disturbance, hypertrophy, a form or rhythm statement is read
# from leads (LBBB from I, aVL, V5-V6 and V1), so its words name the leads that raise it.
TERRITORIAL = ("MI", "STTC")
# Territory scorings (``territory_scores``), in the benchmark's order of preference, with their words.
SCORINGS = {
    "sum": "their leads' sum",
    "standardised": "their leads' sum standardised for the territory's size",
}


@dataclass(frozen=True)
class Share:
    """A lead's (or territory's) score and its signed share of the sum of magnitudes."""

    name: str
    score: float
    share: float


def shares(names: list[str], scores: np.ndarray) -> tuple[Share, ...]:
    """Each score as a signed share of the sum of magnitudes (viewer-anchors section 3.3): the one
    definition the words, the lead chart's labels and the report use."""
    scores = np.asarray(scores, dtype=np.float64)
    total = float(np.sum(np.abs(scores)))
    return tuple(
        Share(n, float(s), float(s) / total if total > 0 else 0.0) for n, s in zip(names, scores, strict=True)
    )


def ranked(items: tuple[Share, ...], n: int, sign: int = 1) -> list[Share]:
    """The ``n`` that raise the logit most (``sign`` -1: that lower it most), largest first; only
    by a share ``percent`` shows as at least 1 % (the report had listed "leads lowering it: V4
    -0 %" for a lead at -0.4 %)."""
    return [s for s in sorted(items, key=lambda s: -sign * s.share) if round(100 * sign * s.share) >= 1][:n]


def percent(share: float, signed: bool = False) -> str:
    """The share in whole percent; signed: with its sign, but a share that rounds to nothing is
    "0 %", not "-0 %"."""
    pct = round(100 * share)
    return f"{pct:+d} %" if signed and pct else f"{pct:d} %"


@dataclass(frozen=True)
class Worded:
    text: str  # the finding, one sentence
    territory: str | None  # None: not a positive finding, or nothing raises it
    share: float | None  # the territory's signed share of the attribution (``shares``)
    leads: tuple[str, ...]  # positive: the territory's leads that raise the class; else those lowering it
    beats: tuple[int, ...]  # 1-based beat numbers in the analysed span (time order)
    agreement: str | None  # the benchmark's sentence, where it applies
    lines: tuple[str, ...] = ()  # the same in short lines, for a narrow column (the PDF report)
    form: str = "positive"  # "positive", "normal" or "negative" (module docstring)


def territory_scores(territories: dict[str, float], scoring: str) -> dict[str, float]:
    """Each territory's score: its leads' sum, or (``standardised``) the sum less its leads' part
    of the record's total, over how much the sum of that many leads drawn at random from the
    record's leads varies: the permutation z-score, less the lead spread all territories share.
    Attribution spread at random over the leads then ranks every territory first alike, where the
    sum favours the four-lead lateral territory and the sum per lead the one-lead aVR (a mean of
    fewer leads varies more, so it is the largest more often)."""
    if scoring == "standardised":
        n_all = sum(len(leads) for leads in TERRITORIES.values())
        mean = sum(territories.values()) / n_all
        return {
            t: (v - len(TERRITORIES[t]) * mean) / _spread(len(TERRITORIES[t]), n_all)
            for t, v in territories.items()
        }
    return dict(territories)


def _spread(n: int, n_all: int) -> float:
    """The standard deviation, in lead standard deviations, of the sum of ``n`` of ``n_all``
    values drawn without replacement."""
    return math.sqrt(n * (n_all - n) / (n_all - 1))


def _measured(c: ClassResult) -> str:
    """The record head's part of a finding, by what raises it: "; the measured beats' part most
    from V5, V6 and the intervals" ("" where nothing raises it)."""
    if not c.measured_by:
        return ""
    named = [g if g in contract.LEADS else f"the {g}" for g in c.measured_by]
    return f"; the measured beats' part most from {_listed(named)}"


def parts_text(c: ClassResult) -> str:
    """Where the record head weighed in, what the encoder and the measured beats (the beat list's
    rhythm and dominant beat) each said: "encoder 0.41, measured beats 0.83"; for a superclass read
    off its statements too, what the encoder's own superclass said and its likeliest statement did,
    the measured beats weighed in: "encoder 0.62, statement IMI with the measured beats 0.88"
    ("" where the encoder alone speaks)."""
    if c.record_head is None:
        return ""
    beats = f"statement {c.read_off} with the measured beats" if c.read_off else "measured beats"
    return f"encoder {c.record_head[0]:.2f}, {beats} {c.record_head[1]:.2f}"


def measured_text(c: ClassResult) -> str:
    """``parts_text`` and what raises the measured beats' part, for a finding's tooltip ("" where
    the encoder alone speaks)."""
    return parts_text(c) + _measured(c) if c.record_head is not None else ""


def decision_text(c: ClassResult) -> str:
    """ "positive (p = 0.72 >= 0.45)", "not found (p = 0.01 < 0.32)" or "p = 0.40 (no threshold)";
    with ``parts_text`` where the record head weighed in."""
    both = f"; {parts_text(c)}" if c.record_head is not None else ""
    if c.threshold is None:
        return f"p = {c.probability:.2f} (no threshold on the model card{both})"
    if c.decision:
        return f"positive (p = {c.probability:.2f} \u2265 {c.threshold:.2f}{both})"
    return f"not found (p = {c.probability:.2f} < {c.threshold:.2f}{both})"


def describe(
    e: Explanation,
    tokens: contract.Tokens,
    card: dict | None,
    finding: ClassResult,
    contradicted: tuple[str, ...] = (),
) -> Worded:
    """The worded explanation of ``e`` (of ``finding``) on ``tokens`` (its analysed span);
    ``card``: the model card, whose ``explanations`` section holds the territory scoring and the
    benchmark; ``contradicted``: why other findings or the measurements speak against it (the
    benchmark is then not quoted, and the reasons are)."""
    code = e.target.code
    # what follows attributes the encoder's part; the record head's part is said by what raises it
    weighed = (
        ""
        if finding.record_head is None
        else f" (the attribution explains the encoder's part{_measured(finding)})"
    )
    head = f"{code}, {decision_text(finding)}{weighed}"
    leads = shares(list(contract.LEADS), e.leads)
    if code == NORMAL:
        return _normal(head, leads)
    if not finding.decision:
        return _lowering(head, leads, "negative", "what lowers it most")
    bench = (card or {}).get("explanations") or {}
    scores = territory_scores(e.territories, bench.get("scoring", "sum"))
    if np.maximum(e.leads, 0.0).sum() <= 0 or max(scores.values()) <= 0:
        text = f"{head}: no lead raises it"
        return Worded(text, None, None, (), (), None, (text, *_against(contradicted)))
    if finding.group not in TERRITORIAL:  # the leads and beats that raise it (``TERRITORIAL``)
        return _by_leads(head, e, tokens, leads)
    top = max(scores, key=lambda t: scores[t])
    idx = [contract.LEADS.index(lead) for lead in TERRITORIES[top]]
    share = next(s.share for s in territory_shares(e) if s.name == top)
    raising = tuple(contract.LEADS[i] for i in sorted(idx, key=lambda i: -e.leads[i]) if e.leads[i] > 0)
    beats = _strongest_beats(e, tokens, idx)
    place = f"{top} territory" if top != "aVR" else "aVR"
    strongest = f"; beats {_listed(beats)}" if beats else ""
    text = f"{head}: {place}, {percent(share)} of the attribution: {', '.join(raising)}{strongest}"
    agreement = None if contradicted else _agreement(bench, code, top)
    lines = (
        head,
        f"{place} ({', '.join(raising)}), {percent(share)} of the attribution",
        *([f"beats {_listed(beats)}"] if beats else []),
        *([agreement] if agreement else []),
        *_against(contradicted),
    )
    return Worded(text, top, share, raising, beats, agreement, lines)


def territory_shares(e: Explanation) -> tuple[Share, ...]:
    """Each territory's signed share of the territories' magnitudes: the number the territory chart
    draws and the report prints (a territory whose leads pull both ways counts what is left)."""
    return shares([t.name for t in e.tree], np.array([t.score for t in e.tree]))


def _by_leads(head: str, e: Explanation, tokens: contract.Tokens, leads: tuple[Share, ...]) -> Worded:
    raising = ranked(leads, TOP_LEADS)
    idx = [contract.LEADS.index(s.name) for s in raising]
    beats = _strongest_beats(e, tokens, idx) if idx else ()
    listed = ", ".join(f"{s.name} ({percent(s.share)})" for s in raising) or "no lead raises it"
    strongest = f"; beats {_listed(beats)}" if beats else ""
    text = f"{head}: leads raising it most: {listed}{strongest}"
    lines = (head, f"leads raising it most: {listed}", *([f"beats {_listed(beats)}"] if beats else []))
    return Worded(text, None, None, tuple(s.name for s in raising), beats, None, lines)


def _normal(head: str, leads: tuple[Share, ...]) -> Worded:
    """NORM against a normal-beat reference: what departs from it (lowering NORM) is the evidence."""
    lowering = ranked(leads, TOP_LEADS, -1)
    if not lowering:
        text = f"{head}: no lead departs from the normal reference beat enough to lower it"
        return Worded(
            text, None, None, (), (), None, (head, "no lead departs from the normal reference beat"), "normal"
        )
    listed = ", ".join(f"{s.name} ({percent(s.share, True)})" for s in lowering)
    text = f"{head}: the leads that differ most from the normal reference beat, which lower NORM: {listed}"
    lines = (head, "differ most from the normal reference beat", f"(lowering NORM): {listed}")
    return Worded(text, None, None, tuple(s.name for s in lowering), (), None, lines, "normal")


def _lowering(head: str, leads: tuple[Share, ...], form: str, what: str) -> Worded:
    lowering = ranked(leads, TOP_LEADS, -1)
    listed = ", ".join(f"{s.name} ({percent(s.share, True)})" for s in lowering) or "no lead lowers it"
    text = f"{head}; {what}: {listed}"
    return Worded(
        text, None, None, tuple(s.name for s in lowering), (), None, (head, f"{what}: {listed}"), form
    )


def _against(contradicted: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"Against it: {why}" for why in contradicted)


def _strongest_beats(e: Explanation, tokens: contract.Tokens, idx: list[int]) -> tuple[int, ...]:
    """The beats whose attribution over the territory's leads is highest (positive only),
    numbered 1.. in time order over the span (a beat in two windows counts once)."""
    r = token_times(tokens).r_s  # (W, 15) seconds, NaN for empty slots
    per_beat = e.beats[:, idx, :].sum(axis=1)  # (W, 15)
    ok = np.isfinite(r)
    times, score = np.round(r[ok], 2), per_beat[ok]
    order = np.unique(times)
    best: dict[float, float] = {}
    for t, s in zip(times, score, strict=True):
        best[t] = max(best.get(t, -np.inf), float(s))
    top = [t for t in sorted(best, key=lambda t: -best[t]) if best[t] > 0][:TOP_BEATS]
    return tuple(sorted(int(np.searchsorted(order, t)) + 1 for t in top))


def _listed(items: tuple[int, ...] | list[str]) -> str:
    """1, 2 and 3."""
    words = [str(b) for b in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _agreement(bench: dict, code: str, territory: str) -> str | None:
    """The benchmark's figure for a localisation of ``code`` to ``territory``, with its population:
    records the cardiologists labelled ``code``, so it says where, not whether."""
    k, n = bench.get("agreement", {}).get(code, {}).get(territory) or (0, 0)
    if not n:
        return None
    fold = bench.get("fold", "?")
    where = f"the {territory} territory" if territory != "aVR" else "aVR"
    return (
        f"Benchmark (PTB-XL fold {fold}, records the cardiologists labelled {code}): where the model put "
        f"{code} in {where}, their label agreed in {100 * k / n:.0f} % of {n}; it says where, not whether"
    )
