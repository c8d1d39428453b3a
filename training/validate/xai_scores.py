"""The explanation benchmark's statistics and its choice (``xai_report`` writes them up): which
territory an attribution ranks first against the cardiologists' MI statements, the shares of the
attribution on the leads a conduction or hypertrophy statement names, the ectopic beats' share,
what a re-initialised model gets by chance, and the fold-9 choice of the app's attribution.
Proportions carry Wilson 95 % intervals; means percentile-bootstrap intervals over records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgviewer.leads import STANDARD_LEADS, TERRITORIES
from ecgviewer.ml.wording import SCORINGS, territory_scores
from training.validate.xai import (
    FAMILIES,
    LEAD_COHORTS,
    PVC,
    RANDOM_SEEDS,
    VARIANTS,
    randomised_name,
)

CHOICE_FOLD, REPORT_FOLD = 9, 10
GOALS = {"inferior": 0.80, "anterior": 0.70, "anteroseptal": 0.70}  # issue 24: top-territory agreement
AVR_GOAL = 0.10  # aVR ranked first in fewer than this share of MI records
N_BOOT = 2000
MIN_PAIRED = 10  # records a question needs before it can weigh in the choice


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of k successes in n (always holds k / n)."""
    if n == 0:
        return (math.nan, math.nan)
    z, p = 1.959964, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def boot_mean(x: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the mean of ``x``."""
    if len(x) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (N_BOOT, len(x)))].mean(axis=1)
    return (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


@dataclass
class Localisation:
    """MI localisation of one variant and scoring on one fold."""

    hits: dict[str, tuple[int, int]]  # family -> (top territory in the labelled set, records)
    avr_first: tuple[int, int]  # (records whose top territory is aVR, MI records)
    rank_auroc: dict[str, np.ndarray]  # family -> per-record AUROC of labelled vs other territories

    tops: dict[str, dict[str, int]]  # family -> top territory -> records

    def rate(self, family: str) -> float:
        k, n = self.hits[family]
        return k / n if n else math.nan

    @property
    def pooled(self) -> float:
        """The share of all single-family MI records whose top territory is labelled: the fold-9
        criterion (records weigh the same, so small families do not swing it)."""
        k, n = (sum(h[i] for h in self.hits.values()) for i in (0, 1))
        return k / n if n else math.nan

    def independent_chance(self, family: str) -> float:
        """The share ``family`` would get if the ranking ignored the record's family: of all the
        single-family MI records, those ranked first in one of ``family``'s territories (the
        expectation under permuted family labels; a ranker that always names one territory has
        chance 1 there, which the uniform 1 / 5 hides)."""
        labelled = FAMILIES[family][1]
        counts = [c for tops in self.tops.values() for t, c in tops.items() if t in labelled]
        n = sum(h[1] for h in self.hits.values())
        return sum(counts) / n if n else math.nan


def _top(scores: dict[str, float]) -> str:
    """The territory ranked first (ties: the first in ``TERRITORIES`` order)."""
    return max(scores, key=lambda t: scores[t])


def localise(rows: list[dict], variant: str, scoring: str) -> Localisation:
    hits = {f: [0, 0] for f in FAMILIES}
    avr = [0, 0]
    auroc: dict[str, list[float]] = {f: [] for f in FAMILIES}
    tops: dict[str, dict[str, int]] = {f: dict.fromkeys(TERRITORIES, 0) for f in FAMILIES}
    for r in rows:
        if not r["family"] or variant not in r["questions"].get("MI", {}):
            continue
        s = territory_scores(r["questions"]["MI"][variant]["territories"], scoring)
        labelled = set(FAMILIES[r["family"]][1])
        top = _top(s)
        tops[r["family"]][top] += 1
        hits[r["family"]][0] += top in labelled
        hits[r["family"]][1] += 1
        avr[0] += top == "aVR"
        avr[1] += 1
        pos = [s[t] for t in labelled]
        neg = [s[t] for t in s if t not in labelled]
        auroc[r["family"]].append(np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg]))
    return Localisation(
        {f: (h[0], h[1]) for f, h in hits.items()},
        (avr[0], avr[1]),
        {f: np.array(a) for f, a in auroc.items()},
        tops,
    )


def agreement(rows: list[dict], variant: str, scoring: str) -> dict[str, list[int]]:
    """Per top territory: of the MI records ranked first there, how many have it among their
    family's territories (the app quotes this beside an MI explanation: ``ml.wording``)."""
    out: dict[str, list[int]] = {t: [0, 0] for t in TERRITORIES}
    for r in rows:
        if r["family"] and variant in r["questions"].get("MI", {}):
            top = _top(territory_scores(r["questions"]["MI"][variant]["territories"], scoring))
            out[top][0] += top in FAMILIES[r["family"]][1]
            out[top][1] += 1
    return out


def card_section(rows: list[dict], variant: str, scoring: str, normal: dict) -> dict:
    """What the model card keeps of the benchmark: the chosen attribution (with the normal beat
    when it uses it) and the fold-10 agreement."""
    how = VARIANTS[variant]
    reference = {"name": normal["name"], "beat_mv": normal["beat_mv"]} if how and how.normal else None
    return {
        "benchmark": "training/reports/XAI.md (python -m training explain-benchmark)",
        "method": how.method if how else variant,
        "frontal": bool(how and how.frontal),
        "reference": reference,
        "scoring": scoring,
        "fold": REPORT_FOLD,
        "agreement": {"MI": agreement(rows, variant, scoring)},
    }


def chance(family: str) -> float:
    return len(FAMILIES[family][1]) / len(TERRITORIES)


def interval(lo_hi: tuple[float, float]) -> str:
    return f"[{lo_hi[0]:.2f}-{lo_hi[1]:.2f}]"


def lead_shares_by_record(
    rows: list[dict], variant: str, cohort: str, leads: tuple[str, ...]
) -> dict[int, float]:
    """Per record of ``cohort`` (by ecg_id): the share of the positive lead attribution on ``leads``."""
    superclass = LEAD_COHORTS[cohort][0]
    idx = [STANDARD_LEADS.index(lead) for lead in leads]
    out = {}
    for i, r in enumerate(rows):
        if cohort not in r.get("lead", ()) or variant not in r["questions"].get(superclass, {}):
            continue
        pos = np.maximum(np.array(r["questions"][superclass][variant]["leads"]), 0.0)
        if pos.sum() > 0:
            out[r.get("ecg_id", i)] = float(pos[idx].sum() / pos.sum())
    return out


def lead_shares(rows: list[dict], variant: str, cohort: str, leads: tuple[str, ...]) -> np.ndarray:
    return np.array(list(lead_shares_by_record(rows, variant, cohort, leads).values()))


def ectopic_differences(rows: list[dict], variant: str) -> dict[int, float]:
    """PVC records with both ectopic and normal beats matched (by ecg_id): the ectopic beats' mean
    attribution minus the others'."""
    out = {}
    for i, r in enumerate(rows):
        if not r.get("pvc") or variant not in r["questions"].get(PVC, {}):
            continue
        beats = np.array(r["questions"][PVC][variant]["beats"])
        label = np.array(r["beats"]["ectopic"])
        ect, norm = beats[label == 1], beats[label == 0]
        if len(ect) and len(norm):
            out[r.get("ecg_id", i)] = float(ect.mean() - norm.mean())
    return out


def ectopic_higher(rows: list[dict], variant: str) -> tuple[int, int, np.ndarray]:
    """PVC records: how many give the ectopic beats a higher mean attribution, of how many, and
    each record's difference of means."""
    diffs = np.array(list(ectopic_differences(rows, variant).values()))
    return int((diffs > 0).sum()), len(diffs), diffs


def other_questions(rows: list[dict], variant: str) -> dict[str, dict[int, float]]:
    """The benchmark's questions besides MI, per record (by ecg_id): each lead cohort's share on
    each of its lead sets, and whether a PVC record's ectopic beats outscore its others (1 or 0)."""
    out = {
        f"{cohort} on {name}": lead_shares_by_record(rows, variant, cohort, leads)
        for cohort, (_, sets) in LEAD_COHORTS.items()
        for name, leads in sets.items()
    }
    ectopic = ectopic_differences(rows, variant)
    out["PVC: ectopic beats higher"] = {k: float(d > 0) for k, d in ectopic.items()}
    return out


def best_on(values: dict[str, dict[int, float]]) -> set[str]:
    """The variants not below the best mean by a margin the records support (paired bootstrap
    over the records every variant answered); none where fewer than ``MIN_PAIRED`` records did."""
    common = sorted(set.intersection(*(set(d) for d in values.values()))) if values else []
    if len(common) < MIN_PAIRED:
        return set()
    vectors = {v: np.array([d[k] for k in common]) for v, d in values.items()}
    best = max(vectors, key=lambda v: vectors[v].mean())
    return {v for v, x in vectors.items() if boot_mean(vectors[best] - x)[0] <= 0}


def hit_vector(rows: list[dict], variant: str, scoring: str) -> np.ndarray:
    """Per single-family MI record (in ``rows`` order), whether its top territory is labelled."""
    out = []
    for r in rows:
        if r["family"] and variant in r["questions"].get("MI", {}):
            top = _top(territory_scores(r["questions"]["MI"][variant]["territories"], scoring))
            out.append(top in FAMILIES[r["family"]][1])
    return np.array(out, dtype=float)


def choose(rows: list[dict]) -> tuple[str, str, list[tuple[str, str, float]], dict[str, list[str]]]:
    """The attribution variant (one the app can select: attention rollout explains no class) and
    territory scoring that localise fold-9 MI records to a labelled territory best. The highest
    share wins only by a margin the records support: every variant whose paired bootstrap
    interval of the difference from the best includes zero ties with it (a few records'
    difference must not flip what the app explains with). Of the tied, the one among the best on
    most of the benchmark's other questions (conduction, hypertrophy, ectopic beats) is chosen,
    then the first in ``VARIANTS`` and ``SCORINGS`` order. Also returns, per tied variant,
    the other questions it is among the best on."""
    ranked = [(v, s, localise(rows, v, s).pooled) for v, how in VARIANTS.items() if how for s in SCORINGS]
    ranked = [x for x in ranked if not math.isnan(x[2])]
    best = max(ranked, key=lambda x: x[2])
    top = hit_vector(rows, best[0], best[1])
    tied = []
    for v, s, _ in ranked:
        other = hit_vector(rows, v, s)
        if len(other) == len(top) and boot_mean(top - other)[0] <= 0:
            tied.append((v, s))
    selectable = [v for v, how in VARIANTS.items() if how]
    answers = {v: other_questions(rows, v) for v in selectable}
    wins: dict[str, list[str]] = {v: [] for v, _ in tied}
    for q in answers[selectable[0]]:
        for v in best_on({v: answers[v][q] for v in selectable}) & set(wins):
            wins[v].append(q)
    v, s = max(tied, key=lambda vs: (len(wins[vs[0]]), -tied.index(vs)))
    return v, s, ranked, wins


def seeds_of(rows: list[dict], variant: str) -> list[int]:
    """The re-initialisations (``xai.RANDOM_SEEDS``) every MI record of ``rows`` has ``variant`` for."""
    mi = [r["questions"]["MI"] for r in rows if r["family"] and "MI" in r["questions"]]
    return [s for s in RANDOM_SEEDS if mi and all(randomised_name(variant, s) in q for q in mi)]


def randomised_excess(
    rows: list[dict], variant: str, scoring: str, seeds: list[int], seed: int = 0
) -> dict[str, tuple[float, float, float, float, float]]:
    """Per family, over the re-initialised copies ``seeds``: (hit rate, label-independent chance,
    hit rate minus that chance, and the 95 % interval of the difference). The bootstrap resamples
    the MI records and the seeds together, since each copy has favourites of its own (``xai``):
    chance is what a random draw of weights gets on average, not what one draw gets."""
    mi = [r for r in rows if r["family"]]
    if not (mi and seeds):
        return {}
    family = np.array([r["family"] for r in mi])

    def first(row: dict, s: int) -> str:
        return _top(
            territory_scores(row["questions"]["MI"][randomised_name(variant, s)]["territories"], scoring)
        )

    top = np.array([[first(r, s) for r in mi] for s in seeds])  # (seeds, records)
    rng = np.random.default_rng(seed)
    draws = [
        (rng.integers(0, len(seeds), len(seeds)), rng.integers(0, len(mi), len(mi))) for _ in range(N_BOOT)
    ]
    out = {}
    for f, (_, labelled) in FAMILIES.items():
        ours = family == f
        if not ours.any():
            continue
        inside = np.isin(top, labelled)  # (seeds, records): ranked first in one of f's territories

        def excess(
            s_idx: np.ndarray, r_idx: np.ndarray, inside: np.ndarray = inside, ours: np.ndarray = ours
        ) -> float:
            sub, w = inside[s_idx][:, r_idx], ours[r_idx]
            return float(sub[:, w].mean() - sub.mean()) if w.any() else math.nan

        hit, free = float(inside[:, ours].mean()), float(inside.mean())
        boot = np.array([excess(a, b) for a, b in draws])
        lo, hi = np.nanquantile(boot, [0.025, 0.975])
        out[f] = (hit, free, hit - free, float(lo), float(hi))
    return out
