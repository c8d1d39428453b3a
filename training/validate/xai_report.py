"""``XAI.md`` and its figures from the explanation benchmark's per-record results (``xai.py``).

Fold 9 chooses (which attribution variant and territory scoring the app should use); fold 10 is
only reported, and the goals are judged on it. Proportions carry Wilson 95 % intervals; means
(attribution shares, rank AUROC) percentile-bootstrap intervals over records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.ml.wording import SCORINGS
from training.validate.xai import (
    FAMILIES,
    LEAD_COHORTS,
    RANDOMISED,
    VARIANTS,
    randomised_name,
    read_results,
)
from training.validate.xai_scores import (
    AVR_GOAL,
    CHOICE_FOLD,
    GOALS,
    MIN_PAIRED,
    REPORT_FOLD,
    agreement,
    boot_mean,
    card_section,
    chance,
    choose,
    ectopic_higher,
    interval,
    lead_shares,
    localise,
    randomised_excess,
    seeds_of,
    wilson,
)


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
            cells.append(f"{k / n:.2f} {interval(wilson(k, n))} (n={n})" if n else "-")
        a, n = loc.avr_first
        allauc = np.concatenate([x for x in loc.rank_auroc.values()]) if n else np.zeros(0)
        avr = f"{a / n:.2f} {interval(wilson(a, n))}" if n else "-"
        auc = f"{allauc.mean():.2f} {interval(boot_mean(allauc))}" if len(allauc) else "-"
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
            f"{interval((lo, hi))} | {verdict} |"
        )
    a, n = loc.avr_first
    lo, hi = wilson(a, n)
    lines.append(
        f"| aVR ranked first < {AVR_GOAL:.2f} of MI records | {a}/{n} = {a / max(n, 1):.2f} | "
        f"{interval((lo, hi))} | {'met' if hi < AVR_GOAL else 'not met'} |"
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
                above = "yes" if lo > base else "no"
                lines.append(f"| {v} | {x.mean():.2f} | {interval((lo, hi))} | {len(x)} | {above} |")
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
            lines.append(f"| {v} | {k}/{n} | {k / n:.2f} | {interval(wilson(k, n))} |")
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
        "septal V1, V2; anterior V3, V4; aVR). Two scores are compared (`wording.territory_scores`): the",
        "leads' sum, and that sum less the territory's part of the record's total over how much a sum of",
        "as many leads drawn at random would vary (a permutation z-score), which ranks every territory",
        "first equally often when the attribution is spread at random. The sum per lead is not offered:",
        "it ranks the one-lead aVR first most often by construction. "
        "MI families and their labelled territories: "
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
            f"Chosen: **{v}**, territories scored by **{SCORINGS[s]}** (`{s}`). The app uses it by default",
            "(the model card's `explanations` section). The highest share wins only by a margin the",
            "records support: variants whose paired bootstrap interval of the difference from it",
            "includes zero tie with it. Of the tied, the one among the best on most of the other",
            "questions below (the same paired rule, per question, over the records every variant",
            f"answered; a question needs {MIN_PAIRED}) is chosen, then the first in the table order of the",
            "benchmark (`xai.VARIANTS`, then `wording.SCORINGS`). Tied on MI, and the other questions each",
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
            f"### MI localisation (territories scored by {SCORINGS[scoring]})",
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
    if chosen and by_fold.get(REPORT_FOLD):
        from training.data.ledger import record

        hits = agreement(by_fold[REPORT_FOLD], *chosen)
        figure = ", ".join(f"{family} {k}/{n}" for family, (k, n) in hits.items())
        record(
            sha256(model),
            "MI",
            f"top territory labelled: {figure}",
            f"{model.name} (explain-benchmark, {chosen[0]}, {chosen[1]})",
        )
    if card_too and chosen and by_fold.get(REPORT_FOLD) and card:
        from training.supervised.card import check_results_of, markdown

        check_results_of(model, paths.values())
        new = card | {"explanations": card_section(by_fold[REPORT_FOLD], *chosen, normal or {})}
        write_card(model, new, markdown(new))
    return out
