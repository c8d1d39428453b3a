"""An explanation said in words, the way a cardiologist would report it: the class, the territory
that carries most of the evidence and its share, the leads within it, the beats that carry most;
then how often the benchmark (``python -m training explain-benchmark``, stored in the model card
under ``explanations``) found that kind of localisation in agreement with cardiologists' labels.

"MI: inferior territory, 64 % of the positive attribution: II, III, aVF; beats 3, 5 and 9.
Benchmark: an inferior localisation of MI agreed with the cardiologists' labels in 82 % of 120
PTB-XL fold-10 records."
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.leads import TERRITORIES
from ecgviewer.ml import contract
from ecgviewer.ml.explain import Explanation
from ecgviewer.ml.placement import token_times

TOP_BEATS = 3


@dataclass(frozen=True)
class Worded:
    text: str  # the finding, one sentence
    territory: str | None  # None: nothing raises the class
    share: float | None  # of the positive lead attribution, on the territory's leads
    leads: tuple[str, ...]  # the territory's leads that raise the class, strongest first
    beats: tuple[int, ...]  # 1-based beat numbers in the analysed span (time order)
    agreement: str | None  # the benchmark's sentence, when the card has one for this class
    lines: tuple[str, ...] = ()  # the same in short lines, for a narrow column (the PDF report)


SCORINGS = ("sum", "per-lead")


def territory_scores(territories: dict[str, float], scoring: str) -> dict[str, float]:
    """Each territory's score: its leads' sum, or (``per-lead``) that over its lead count, so a
    one-lead territory (aVR) is not outweighed by four-lead ones for its size alone."""
    if scoring == "per-lead":
        return {t: v / len(TERRITORIES[t]) for t, v in territories.items()}
    return dict(territories)


def describe(e: Explanation, tokens: contract.Tokens, card: dict | None = None) -> Worded:
    """The worded explanation of ``e`` on ``tokens`` (its analysed span); ``card``: the model card,
    whose ``explanations`` section holds the territory scoring and the benchmark's agreement."""
    bench = (card or {}).get("explanations") or {}
    scores = territory_scores(e.territories, bench.get("scoring", "sum"))
    code = e.target.code
    positive = np.maximum(e.leads, 0.0)
    if positive.sum() <= 0 or max(scores.values()) <= 0:
        return Worded(f"{code}: no lead raises it", None, None, (), (), None, (f"{code}: no lead raises it",))
    top = max(scores, key=lambda t: scores[t])
    idx = [contract.LEADS.index(lead) for lead in TERRITORIES[top]]
    share = float(positive[idx].sum() / positive.sum())
    leads = tuple(contract.LEADS[i] for i in sorted(idx, key=lambda i: -e.leads[i]) if e.leads[i] > 0)
    beats = _strongest_beats(e, tokens, idx)
    place = f"{top} territory" if top != "aVR" else "aVR"
    text = f"{code}: {place}, {100 * share:.0f} % of the positive attribution: {', '.join(leads)}"
    strongest = f"; beats {_listed(beats)}" if beats else ""
    k, n = bench.get("agreement", {}).get(code, {}).get(top) or (0, 0)
    lines = (
        f"{code}: {place} ({', '.join(leads)})",
        f"{100 * share:.0f} % of the positive attribution{strongest}",
        *(
            [f"Benchmark: agreed in {100 * k / n:.0f} % of {n} fold-{bench.get('fold', '?')} records"]
            if n
            else []
        ),
    )
    return Worded(text + strongest, top, share, leads, beats, _agreement(bench, code, top), lines)


def _strongest_beats(e: Explanation, tokens: contract.Tokens, idx: list[int]) -> tuple[int, ...]:
    """The beats whose attribution over the territory's leads is highest (positive only),
    numbered 1.. in time order over the span (a beat in two overlapping windows counts once)."""
    r = token_times(tokens).r_s  # (W, 15) seconds, NaN for empty slots
    per_beat = e.beats[:, idx, :].sum(axis=1)  # (W, 15)
    ok = np.isfinite(r)
    times, score = np.round(r[ok], 2), per_beat[ok]
    order = np.unique(times)
    best: dict[float, float] = {}
    for t, s in zip(times, score, strict=True):
        best[t] = max(best.get(t, -np.inf), float(s))
    ranked = [t for t in sorted(best, key=lambda t: -best[t]) if best[t] > 0][:TOP_BEATS]
    return tuple(sorted(int(np.searchsorted(order, t)) + 1 for t in ranked))


def _listed(beats: tuple[int, ...]) -> str:
    words = [str(b) for b in beats]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _agreement(bench: dict, code: str, territory: str) -> str | None:
    """The benchmark's agreement for a localisation of ``code`` to ``territory``, in words."""
    k, n = bench.get("agreement", {}).get(code, {}).get(territory) or (0, 0)
    if not n:
        return None
    fold = bench.get("fold", "?")
    where = f"{territory} localisation" if territory != "aVR" else "localisation to aVR"
    article = "an" if where[0] in "aeiou" else "a"
    return (f"Benchmark: {article} {where} of {code} agreed with the cardiologists' labels in "
            f"{100 * k / n:.0f} % of {n} PTB-XL fold-{fold} records")  # fmt: skip
