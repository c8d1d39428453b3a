"""``XAI.md`` and its figures from the explanation benchmark's per-record results (``xai.py``).

Fold 9 chooses (which attribution variant and territory scoring the app should use); fold 10 is
only reported, and the goals are judged on it. Proportions carry Wilson 95 % intervals; means
(attribution shares, rank AUROC) percentile-bootstrap intervals over records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.leads import STANDARD_LEADS, TERRITORIES
from ecgviewer.ml.wording import SCORINGS, territory_scores
from training.xai import (
    FAMILIES,
    LEAD_COHORTS,
    PVC,
    RANDOM_SEEDS,
    RANDOMISED,
    VARIANTS,
    randomised_name,
    read_results,
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
        "benchmark": "training/XAI.md (python -m training explain-benchmark)",
        "method": how.method if how else variant,
        "frontal": bool(how and how.frontal),
        "reference": reference,
        "scoring": scoring,
        "fold": REPORT_FOLD,
        "agreement": {"MI": agreement(rows, variant, scoring)},
    }


def chance(family: str) -> float:
    return len(FAMILIES[family][1]) / len(TERRITORIES)


def _pct(lo_hi: tuple[float, float]) -> str:
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
    then the first in ``VARIANTS`` order, sum before per-lead. Also returns, per tied variant,
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


def _localisation_table(rows: list[dict], names: list[str], scoring: str) -> list[str]:
    lines = [
        "| method | "
        + " | ".join(f"{f} (chance {chance(f):.2f})" for f in FAMILIES)
        + " | aVR first | rank AUROC |",
        "|---|" + "---|" * (len(FAMILIES) + 2),
    ]
    for v in names:
        loc = localise(rows, v, scoring)
        cells = []
        for f in FAMILIES:
            k, n = loc.hits[f]
            cells.append(f"{k / n:.2f} {_pct(wilson(k, n))} (n={n})" if n else "-")
        a, n = loc.avr_first
        allauc = np.concatenate([x for x in loc.rank_auroc.values()]) if n else np.zeros(0)
        avr = f"{a / n:.2f} {_pct(wilson(a, n))}" if n else "-"
        auc = f"{allauc.mean():.2f} {_pct(boot_mean(allauc))}" if len(allauc) else "-"
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {avr} | {auc} |")
    return [*lines, ""]


def goals(rows: list[dict], variant: str, scoring: str) -> list[str]:
    """Issue 24's goals on fold 10 for the chosen variant: met only when the interval says so."""
    loc = localise(rows, variant, scoring)
    lines = ["| goal | measured | 95 % interval | verdict |", "|---|---|---|---|"]
    for f, goal in GOALS.items():
        k, n = loc.hits[f]
        lo, hi = wilson(k, n)
        verdict = (
            "met" if lo >= goal else ("not met" if hi < goal else "not met: the interval includes the goal")
        )
        lines.append(
            f"| {f} MI: top territory labelled >= {goal:.2f} | {k}/{n} = {k / max(n, 1):.2f} | "
            f"{_pct((lo, hi))} | {verdict} |"
        )
    a, n = loc.avr_first
    lo, hi = wilson(a, n)
    lines.append(
        f"| aVR ranked first < {AVR_GOAL:.2f} of MI records | {a}/{n} = {a / max(n, 1):.2f} | "
        f"{_pct((lo, hi))} | {'met' if hi < AVR_GOAL else 'not met'} |"
    )
    seeds = seeds_of(rows, variant)
    # per family: pooled over families, a bias to one territory would hide
    for f, (hit, free, excess, lo, hi) in randomised_excess(rows, variant, scoring, seeds).items():
        verdict = "not met: above chance" if lo > 0 else ("met: below chance" if hi < 0 else "met")
        goal = (
            f"randomised model at chance, {f} ({len(seeds)} re-initialisation{'s' * (len(seeds) > 1)}; "
            f"label-independent {free:.2f}, uniform {chance(f):.2f})"
        )
        lines.append(
            f"| {goal} | {hit:.2f} ({excess:+.2f} from chance) | {lo:+.2f} to {hi:+.2f} | {verdict} |"
        )
    if seeds:
        lines += [
            "",
            "For the randomised model, the measured share is averaged over the re-initialised copies and",
            "the interval is that of the share minus its label-independent chance (records and copies",
            "resampled together): at chance when the interval reaches zero.",
        ]
    return [*lines, ""]


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


def informative(rows: list[dict], variants: list[str], scoring: str) -> list[str]:
    """Per family, each variant's hit rate beside its label-independent chance
    (``Localisation.independent_chance``): a localisation carries information about the infarct's
    territory only when the interval of its hit rate lies above that chance."""
    lines = [
        "| method | " + " | ".join(FAMILIES) + " |",
        "|---|" + "---|" * len(FAMILIES),
    ]
    for v in variants:
        loc = localise(rows, v, scoring)
        cells = []
        for f, (k, n) in loc.hits.items():
            free = loc.independent_chance(f)
            above = "above" if n and wilson(k, n)[0] > free else "not above"
            cells.append(f"{k / n:.2f} vs {free:.2f}: {above}" if n else "-")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def called(rows: list[dict], variant: str, scoring: str) -> list[str]:
    """Per family, the MI statement the model itself finds most probable (``xai.mi_statement``),
    and ``variant``'s localisation split by whether the model named the family: an attribution
    shows the model's evidence, so where the model reads one family as another its explanation
    points at the other's territory."""
    lines = [
        f"| family | records | the model's most probable MI statement | of the family | {variant} "
        "localised: model named the family | named another |",
        "|---|---|---|---|---|---|",
    ]
    for f, (codes, _) in FAMILIES.items():
        mine = [r for r in rows if r["family"] == f and "mi_statement" in r]
        if not mine:
            continue
        said = [r["mi_statement"] for r in mine]
        counts = sorted(((said.count(c), c) for c in set(said) if c), reverse=True)
        named = [r for r in mine if r["mi_statement"] in codes]
        cells = []
        for part in (named, [r for r in mine if r["mi_statement"] not in codes]):
            k, n = localise(part, variant, scoring).hits[f]
            cells.append(f"{k}/{n}" if n else "-")
        share = f"{len(named)}/{len(mine)} = {len(named) / len(mine):.2f}"
        said_most = ", ".join(f"{c} {n}" for n, c in counts)
        lines.append(f"| {f} | {len(mine)} | {said_most} | {share} | {' | '.join(cells)} |")
    return [*lines, ""]


def _lead_table(rows: list[dict], names: list[str]) -> list[str]:
    lines = []
    for cohort, (superclass, sets) in LEAD_COHORTS.items():
        for set_name, leads in sets.items():
            base = len(leads) / len(STANDARD_LEADS)
            lines += [
                f"**{cohort}** ({superclass} attribution) on {set_name}: chance {base:.2f}",
                "",
                "| method | mean share | 95 % interval | records | above chance |",
                "|---|---|---|---|---|",
            ]
            for v in names:
                x = lead_shares(rows, v, cohort, leads)
                if not len(x):
                    continue
                lo, hi = boot_mean(x)
                lines.append(
                    f"| {v} | {x.mean():.2f} | {_pct((lo, hi))} | {len(x)} | {'yes' if lo > base else 'no'} |"
                )
            lines.append("")
    return lines


def _beat_table(rows: list[dict], names: list[str]) -> list[str]:
    lines = [
        "| method | records: ectopic beats above the others | share | 95 % interval |",
        "|---|---|---|---|",
    ]
    for v in names:
        k, n, _ = ectopic_higher(rows, v)
        if n:
            lines.append(f"| {v} | {k}/{n} | {k / n:.2f} | {_pct(wilson(k, n))} |")
    return [*lines, ""]


def profiles_figure(rows: list[dict], variant: str, out: Path) -> Path | None:
    """Each MI family's mean attribution over the beat in each of the 12 leads (records scaled to
    unit total), as 12-lead strips: what a reader compares between families at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = [
        f
        for f in FAMILIES
        if any(
            r["family"] == f
            and variant in r["questions"].get("MI", {})
            and "profile" in r["questions"]["MI"][variant]
            for r in rows
        )
    ]
    if not fams:
        return None
    means = {
        f: np.mean(
            [
                r["questions"]["MI"][variant]["profile"]
                for r in rows
                if r["family"] == f and "profile" in r["questions"]["MI"].get(variant, {})
            ],
            axis=0,
        )
        for f in fams
    }
    lim = max(float(np.abs(m).max()) for m in means.values()) or 1.0
    # one axes holding every family x lead cell (offset strips): 12 axes per family took 3-9 s a figure
    fig, ax = plt.subplots(figsize=(16, 1.3 * len(fams) + 0.6))
    t = np.arange(96)  # samples from 480 ms before R to 470 ms after, at 100 Hz
    width, gap, height = 96, 12, 2.4 * lim
    for i, f in enumerate(fams):
        y0 = -i * height
        n = sum(r["family"] == f for r in rows)
        for j in range(len(STANDARD_LEADS)):
            x, m = j * (width + gap) + t, means[f][j]
            ax.fill_between(x, y0, y0 + np.maximum(m, 0), color="#c0392b", lw=0)
            ax.fill_between(x, y0, y0 + np.minimum(m, 0), color="#2471a3", lw=0)
            ax.plot(x[[0, -1]], [y0, y0], color="#888", lw=0.5)
            ax.plot(x[[48, 48]], [y0 - lim, y0 + lim], color="#ccc", lw=0.5)  # R
        ax.text(-gap, y0, f"{f}\n(n={n})", ha="right", va="center", fontsize=9)
    for j, lead in enumerate(STANDARD_LEADS):
        ax.text(j * (width + gap) + width / 2, lim * 1.1, lead, ha="center", va="bottom", fontsize=10)
    ax.set_xlim(-gap, 12 * (width + gap))
    ax.set_ylim(-(len(fams) - 0.5) * height, lim * 1.5)
    ax.axis("off")
    ax.text(0, -(len(fams) - 0.5) * height, "each strip: -480 to +470 ms around R (grey line)", fontsize=7)
    fig.suptitle(
        f"Mean {variant} attribution of MI per lead over the beat (red: for MI, blue: against)", fontsize=10
    )
    fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.03)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


ANCHORS = [
    "## Anchors from the literature",
    "",
    "- Wagner, Mehari, Haverkamp, Strodthoff, *Explaining deep learning for ECG analysis: building blocks",
    "  for auditing and knowledge discovery*, Comput. Biol. Med. 2024 (arXiv 2305.17043): CNNs on PTB-XL,",
    "  attributions aggregated over patient subgroups; sanity checks single out saliency (plain gradients)",
    "  among the methods tried, and the aggregated attributions for LVH, CLBBB and MI follow cardiologists'",
    "  criteria (abstract). Their per-lead figures could not be read here; no number of theirs is quoted.",
    "- Bender et al., *Analysis of a deep learning model for 12-lead ECG classification reveals learned",
    "  features similar to diagnostic criteria*, IEEE JBHI 2023 (arXiv 2211.01738): relevance averaged per",
    "  class, per lead and over an average beat; for AF and LBBB the per-lead relevance follows clinical",
    "  recommendations, and mean relevance near zero goes with misclassification (abstract).",
    "- Neither paper ranks territories against MI localisation labels, which is what this benchmark adds.",
    "",
]


def _reference_lines(normal: dict | None) -> list[str]:
    if not normal:
        return []
    ids = normal["ecg_ids"]
    return [
        "## The normal-beat reference",
        "",
        f"The `-normal` variants compare with {normal['name']}: ecg_ids {ids[0]}-{ids[-1]}",
        f"({len(ids)} records, the first NORM records without missing leads or pseudo-beats), each lead's",
        "mean beat token laid on every beat of the explained record. The others compare with a flat",
        "signal (0 mV).",
        "",
        *NORMAL_WORDING,
    ]


# How the app words NORM (``ecgviewer.ml.wording``), decided here because it follows from the reference.
NORMAL_WORDING = [
    "### NORM against a normal reference",
    "",
    "Against the normal-beat reference, what Integrated Gradients credits is each lead's departure",
    "from a normal beat, and a departure mostly argues against a normal ECG: on a normal record",
    "almost every lead lowers NORM, and the few that raise it do so by little (aVR, whose normal",
    "beat is inverted, often among them). Quoting the territory that raises NORM most would name",
    "such a lead as the reason for a normal ECG. The app therefore words NORM in its own form: the",
    "leads that differ most from the normal reference beat, each with its signed share of the",
    "attribution, which lower NORM (`ecgviewer.ml.wording`). Every percentage the window, the",
    "report and `analyze` give is a lead's (or territory's) signed share of the sum of the leads'",
    "magnitudes, so the words, the lead chart and the printed report agree. A class below its",
    "threshold is worded as what lowers it, never in the positive form, and the localisation",
    "benchmark below is quoted only beside a positive finding that no other finding or",
    "measurement contradicts (`ecgviewer.ml.consistency`), naming its population: records the",
    "cardiologists labelled with the class.",
    "",
]


def write_report(
    model: Path, paths: dict[int, Path], out: Path, normal: dict | None = None, card_too: bool = True
) -> Path:
    """XAI.md beside its figures folder (``<out stem>/``); with ``card_too`` and both folds, the
    choice and its fold-10 agreement go into the model card (``explanations``)."""
    from ecgviewer.weights import read_card, sha256, write_card

    card = read_card(model) or {}
    by_fold = {f: read_results(p) for f, p in paths.items()}
    names = list(VARIANTS)
    lines = [
        "# Explanations against cardiologists' statements",
        "",
        "Generated by `python -m training explain-benchmark`; do not edit by hand. Model "
        f"`{card.get('name', model.stem)}` (SHA-256 {sha256(model)[:12]}…). PTB-XL fold {CHOICE_FOLD} "
        f"chooses, fold {REPORT_FOLD} is reported. What is explained is the class's logit, one 10 s window",
        "at a time, by the app's own code (`ecgviewer.ml.explain`). A territory is ranked first when its",
        "score is the highest (`ecgviewer.leads.TERRITORIES`: inferior II, III, aVF; lateral I, aVL, V5, V6;",
        "septal V1, V2; anterior V3, V4; aVR). MI families and their labelled territories: "
        + "; ".join(f"{f} ({', '.join(codes)}): {', '.join(terr)}" for f, (codes, terr) in FAMILIES.items())
        + ". Proportions carry Wilson 95 % intervals, means bootstrap 95 % intervals over records.",
        "",
        *_reference_lines(normal),
    ]
    chosen: tuple[str, str] | None = None
    if by_fold.get(CHOICE_FOLD):
        v, s, ranked, wins = choose(by_fold[CHOICE_FOLD])
        chosen = (v, s)
        lines += [
            f"## The choice on fold {CHOICE_FOLD}",
            "",
            "Share of the single-family MI records whose top territory is labelled (attention rollout",
            "explains no class, so it is reported but not chosen):",
            "",
            "| method | territory score | fold-9 share |",
            "|---|---|---|",
            *(f"| {a} | {b} | {c:.3f} |" for a, b, c in sorted(ranked, key=lambda x: -x[2])),
            "",
            f"Chosen: **{v}**, territories scored by their leads' **{s}**. The app uses it by default",
            "(the model card's `explanations` section). The highest share wins only by a margin the",
            "records support: variants whose paired bootstrap interval of the difference from it",
            "includes zero tie with it. Of the tied, the one among the best on most of the other",
            "questions below (the same paired rule, per question, over the records every variant",
            f"answered; a question needs {MIN_PAIRED}) is chosen, then the first in the table order of the",
            "benchmark (`xai.VARIANTS`, sum before per-lead). Tied on MI, and the other questions each",
            "is among the best on:",
            "",
            "| variant | other questions among the best | count |",
            "|---|---|---|",
            *(f"| {name} | {', '.join(qs) or '-'} | {len(qs)} |" for name, qs in wins.items()),
            "",
        ]
    figures = out.parent / out.stem.lower()
    for fold, rows in sorted(by_fold.items(), key=lambda kv: kv[0] != REPORT_FOLD):
        if not rows:
            continue
        role = "reported" if fold == REPORT_FOLD else "the choices'"
        scoring = chosen[1] if chosen else "sum"
        lines += [
            f"## Fold {fold} ({role})",
            "",
            f"### MI localisation (territories scored by their leads' {scoring})",
            "",
            "Share of records whose top territory is labelled, per family; aVR first: share of all",
            "single-family MI records ranked aVR first; rank AUROC: labelled against other territories.",
            "",
            *_localisation_table(rows, [*names, *(f"{v}-randomised" for v in RANDOMISED)], scoring),
        ]
        if fold == REPORT_FOLD and chosen:
            lines += ["### Goals (issue 24)", "", *goals(rows, *chosen)]
        if chosen and any("mi_statement" in r for r in rows):
            lines += ["### What the model itself calls each family", "", *called(rows, *chosen)]
        if chosen:
            twins = [chosen[0], *(randomised_name(chosen[0], s) for s in seeds_of(rows, chosen[0]))]
            lines += [
                "### Against label-independent chance",
                "",
                "Uniform chance (labelled territories / 5) assumes a ranker without favourites. A ranker",
                "that ignores the record still has favourites (a territory of three leads outscores one of",
                "two under the sum), so each family's hit rate is also set beside the share of all MI",
                "records ranked first in that family's territories: what it would get if the ranking",
                "ignored the family (the expectation under permuted family labels). The re-initialised",
                "copies are listed one by one (`-randomised-<seed>`; no suffix: seed 0): each is one",
                "draw of random weights whose gradient points the same way for every record, so one draw",
                "can rank an infarct's own territory above its chance and the next below it. The goal above",
                "asks whether the draws do so on average (the records and the seeds resampled together).",
                "",
                *informative(rows, twins, chosen[1]),
            ]
        lines += [
            "### Conduction and hypertrophy: share of the positive lead attribution",
            "",
            *_lead_table(rows, names),
            "### Ectopic beats (PVC attribution)",
            "",
            "PVC records where the measurement pipeline marks beats premature or of another QRS",
            "morphology: is the mean attribution of those beats (summed over leads) above the others'?",
            "",
            *_beat_table(rows, names),
        ]
        for variant in dict.fromkeys([chosen[0] if chosen else "ig", "ig-normal", "ig"]):
            fig = profiles_figure(rows, variant, figures / f"profiles-{variant}-fold{fold}.png")
            if fig is not None:
                lines += [
                    f"![mean {variant} attribution per MI family, fold {fold}]"
                    f"({fig.relative_to(out.parent)})",
                    "",
                ]
    lines += ANCHORS
    out.write_text("\n".join(lines))
    if card_too and chosen and by_fold.get(REPORT_FOLD) and card:
        from training.card import check_results_of, markdown

        check_results_of(model, paths.values())
        new = card | {"explanations": card_section(by_fold[REPORT_FOLD], *chosen, normal or {})}
        write_card(model, new, markdown(new))
    return out
