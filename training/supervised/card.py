"""The Markdown model card, generated from the JSON card (one source, two views)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ecgviewer.ml import contract
from ecgviewer.ml.infer import not_surfaced_reason
from ecgviewer.ml.wording import SCORINGS

ENCODERS = {
    contract.BEATS: "beat-token transformer encoder (CLEAR)",
    contract.PATCHES: "patch-token CroPA encoder (ECG-JEPA)",
}


def _ci(r: dict, key: str) -> str:
    lo, hi = r[f"{key}_ci"]
    return f"{r[key]:.3f} ({lo:.3f}-{hi:.3f})"


def _left_out(*reports: dict) -> str:
    """How often a draw had no positive of some class, which was then left out of it
    (``metrics._bootstrap``); nothing for figures drawn before that was counted."""
    folds = zip(reports, (10, 9), strict=True)
    shares = [f"{100 * r['left_out_share']:.0f} % of fold {k}'s" for r, k in folds if "left_out_share" in r]
    if not shares:
        return ""
    return f" (with replacement; a class absent from a draw is left out of it: {' and '.join(shares)} draws)"


def _architecture(arch: dict) -> str:
    if "members" in arch:
        return f"{len(arch['members'])} members: " + "; ".join(_architecture(m) for m in arch["members"])
    return f"{ENCODERS[arch['kind']]} {arch['encoder']}, {arch['head']} head"


def how_trained(tr: dict) -> str:
    """The card's sentence on how the model was trained: the encoder, LP-FT, ensemble members,
    distillation teachers."""
    how = tr.get("encoder") or f"fine-tuned end to end {tr.get('finetune')}, recipe {tr.get('recipe')}"
    if "ensemble" in tr:
        named = ", ".join(f"`{m['name']}` ({(m['weights_sha256'] or '?')[:12]}…)" for m in tr["members"])
        how = f"an ensemble, {tr['ensemble']}, of {named}; each member's training is in the JSON card"
    elif tr.get("start"):
        how = f"continued from `{tr['start']['file']}` ({tr['start']['sha256'][:12]}…), {how}"
    elif (tr.get("recipe") or {}).get("from_probe"):
        how = f"HUG heads first trained on the frozen encoder (LP-FT, Kumar et al. 2022), then {how}"
    if tr.get("teachers"):
        weight = tr["recipe"]["distill"]
        how += f"; each distilled task's targets {1 - weight:g} labels and {weight:g} the mean probability "
        own = [t for t in tr["teachers"] if "source" in t]
        if own:
            named = ", ".join(f"`{t['file']}` (`{t['task']}`)" for t in own)
            how += f"of the predictions of {own[0]['source']}, the model it continues: {named}"
        else:
            named = ", ".join(f"`{t['file']}` ({t['sha256'][:12]}…, `{t['task']}`)" for t in tr["teachers"])
            how += f"of the supervised baselines' predictions {named}, trained on the same training folds"
    return how


def _read_under(con: dict) -> list[str]:
    """The card's line on a later contract the app reads this model under, with its figures."""
    read = con.get("read_under")
    if not read:
        return []
    folds = [(k, read[k]) for k in ("fold9", "fold10") if k in read]
    figures = "; ".join(
        f"{k.replace('fold', 'fold ')}: " + ", ".join(
            f"{t} {r['auroc']:.4f} ({r['difference']:+.4f} [{r['difference_ci'][0]:+.4f}, "
            f"{r['difference_ci'][1]:+.4f}])" for t, r in rows.items()
        ) for k, rows in folds
    )  # fmt: skip
    return [
        f"- Read by this app under contract v{read['version']} ({read['change']}): macro AUROC, every "
        f"beat read, and its paired difference from contract v{con['version']}: {figures} "
        "(`python -m training every-beat`, training/reports/EVERY_BEAT.md)."
    ]


def check_results_of(model: Path, paths: Iterable[Path]) -> None:
    """Refuse to write ``model``'s card from results of other weights: each benchmark's results
    file carries the first 12 hex digits of the SHA-256 it was computed with, and the weights at
    ``model`` can be replaced while a benchmark of several hours runs."""
    from ecgviewer.weights import sha256

    digest = sha256(model)[:12]
    other = sorted(p.name for p in paths if digest not in p.name)
    if other:
        names = ", ".join(other)
        raise ValueError(f"{model.name} ({digest}) is not the model of {names}: its card is left alone")


def _shipped(card: dict) -> list[str]:
    """The line saying how a candidate became the shipped model (none for a run's own export)."""
    if not (sh := card.get("shipped")):
        return []
    return [
        f"- Shipped {sh['date']}: candidate `{sh['candidate']}`, chosen by {sh['chosen']}; its fold-10 "
        "figures were read after that choice (`python -m training ship`)."
    ]


def _ancestry(runs: list[dict] | None) -> list[str]:
    """The card's line on the runs a continued fine-tune descends from (``lineage.ancestry``)."""
    if not runs:
        return []

    def one(r: dict) -> str:
        named = f"`{r.get('name')}` ({r['sha256'][:12]}\u2026"
        if r.get("card") == "not found":
            return f"{named}, its card not found)"
        pre = r.get("pretrained")
        did = f"; its run pretrained the encoder {pre['epochs']} epochs" if pre else ""
        return f"{named}, {r.get('created')}{did}: `{r.get('command')}`)"

    chain = "; which continued ".join(map(one, runs))
    return [f"- Lineage (from the cards; this run pretrained nothing): continued {chain}."]


def markdown(card: dict) -> str:
    arch, con, data, hw = card["architecture"], card["contract"], card["data"], card["hardware"]
    pre, tr = card["pretraining"], card.get("training", {})
    folds = data["folds"]
    how = how_trained(tr)
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"**{card['intended_use']}**",
        "",
        f"- Created {card['created']} from git commit `{card['git_commit']}` with:",
        f"  `{card['command']}`",
        f"- Weights SHA-256: `{card['weights_sha256']}`",
        *_shipped(card),
        f"- Architecture: {_architecture(arch)}, {arch['parameters']:,} parameters.",
        f"- Tokeniser: {card['tokenizer']}.",
        f"- Pretraining: {pre['label']}, {pre['objective']}.",
        f"- Training: {how}; selection: {tr.get('selection')}.",
        *_ancestry(card.get("ancestry")),
        f"- Preprocessing contract v{con['version']}: {con['fs']} Hz, band-pass {con['band_hz'][0]}-"
        f"{con['band_hz'][1]} Hz, {con['token_len']}-sample beat tokens, up to {con['max_beats']} beats per "
        f"lead, R-peaks by {con['rpeaks']}.",
        *_read_under(con),
        f"- Data: {data['dataset']}; train folds {folds['train']}, validation fold {folds['validation']} "
        f"({data['validation_records']} records), test fold {folds['test']} ({data['test_records']} "
        "records). The exact ecg_ids are in the JSON card.",
        f"- Hardware: {hw['cpu']} ({hw['threads']} threads), GPU: {hw['gpu'] or 'none'}, torch "
        f"{hw['torch']}. Timings (s): {card['timings']}.",
        f"- Thresholds: {card['thresholds_rule']}. Shown in the app: {card['surface_rule']}.",
        "",
    ]
    for task, lab in card["labels"].items():
        t, v = lab["test"], lab["val"]
        test = (
            f"Test (fold 10, n={t['n']}): macro AUROC {_ci(t, 'auroc')}, macro AUPRC {_ci(t, 'auprc')}. "
            if t
            else "Test (fold 10): not read (a candidate: `choose` decides on fold 9 first). "
        )
        t = t or {"per_class_auroc": {}, "support": {}}
        lines += [
            f"## Task `{task}` ({len(lab['classes'])} classes)",
            "",
            f"{test}Validation (fold 9): macro AUROC {_ci(v, 'auroc')}. "
            f"95 % intervals: bootstrap over records{_left_out(t, v)}.{_weighed(card, task)}",
            "",
            "| class | val AUROC | val positives | test AUROC | test positives | threshold | shown |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in lab["classes"]:
            va, ta = v["per_class_auroc"][c], t["per_class_auroc"].get(c)
            # a class not shown says why, with its count (issue 75: nothing hidden without a reason)
            shown = "yes" if c in lab["surfaced"] else f"no: {not_surfaced_reason(v, c) or 'by the rule'}"
            lines.append(
                f"| {c} | {'-' if va is None else f'{va:.3f}'} | {v['support'][c]} | "
                f"{'-' if ta is None else f'{ta:.3f}'} | {t['support'].get(c, '-')} | "
                f"{lab['thresholds'][c]:.3f} | "
                f"{shown} |"
            )
        lines.append("")
    if "lead_sets" in card:
        ls = card["lead_sets"]
        lines += ["## Fewer leads", "",
                  f"Macro AUROC ({ls['task']}) on PTB-XL fold {ls['fold']} ({ls['records']} records) when a "
                  f"recording has only some leads ({ls['benchmark']}; the app quotes it beside the findings "
                  f"of such a recording); all 12 leads: {ls['reference']['auroc']:.3f}.", "",
                  "| leads | macro AUROC [95 %] | against 12 leads [95 %] |", "|---|---|---|",
                  *(f"| {s['name']} | {s['auroc']:.3f} [{s['auroc_ci'][0]:.3f}, {s['auroc_ci'][1]:.3f}] | "
                    f"{s['difference']:+.3f} [{s['difference_ci'][0]:+.3f}, {s['difference_ci'][1]:+.3f}] |"
                    for s in ls["sets"]), ""]  # fmt: skip
    if "explanations" in card:
        x = card["explanations"]
        agree = ", ".join(f"{t} {k}/{n}" for t, (k, n) in x["agreement"]["MI"].items() if n)
        shared = " with the limb leads shared by the frontal axes" if x["frontal"] else ""
        against = (x.get("reference") or {}).get("name", "a flat signal")
        lines += ["## Explanations", "",
                  f"Default attribution: {x['method']}{shared}, against {against}; territories scored by "
                  f"{SCORINGS[x['scoring']]}. Chosen on fold 9 by {x['benchmark']}. Fold {x['fold']}: of "
                  f"the MI records ranked first in a territory, how many were labelled there: {agree}.",
                  ""]  # fmt: skip
        if (card["architecture"].get("encoder") or {}).get("rr"):
            lines[-1:] = ["The beats' RR intervals are an input the attributions hold fixed: an "
                          "explanation shows what in the beats' shapes raised a finding, not what the "
                          "rhythm added.", ""]  # fmt: skip
    lines += _record_head(card.get("record_head"))
    if "likelihood" in card:
        lk = card["likelihood"]
        lines += ["## Likelihood words", "",
                  f"The app words each finding \"likely\", \"possible\" or \"unlikely\" with its probability "
                  f"(`python -m training likelihood`, training/reports/LIKELIHOOD.md): {lk['rule']}. On fold "
                  f"{lk['fold']}, the label was present in:", "",
                  "| word | findings | label present [95 %] |", "|---|---|---|",
                  *(f"| {w} | {b['n']} | {b['frequency']:.1%} [{b['ci'][0]:.1%}, {b['ci'][1]:.1%}] |"
                    for w, b in lk["bands"].items()), ""]  # fmt: skip
    if "operating_points" in card:
        op = card["operating_points"]
        lines += ["## Operating points (fold 10)", "",
                  f"Each shown finding at its threshold (chosen on fold {op['threshold_fold']}): "
                  f"sensitivity, specificity and PPV on PTB-XL fold {op['fold']} ({op['records']} records; "
                  f"95 % intervals: {op['n_boot']} bootstrap draws of the records). Expected calibration "
                  f"error over {op['bins']} bins, pooled: {op['ece']:.4f} (`python -m training "
                  "operating-points`, training/reports/OPERATING_POINTS.md).", "",
                  *_points(op["classes"])]  # fmt: skip
        if "ludb" in op:
            lu = op["ludb"]
            lines += [f"On LUDB ({lu['records']} records, labels mapped by `python -m training ood`; "
                      f"expected calibration error {lu['ece']:.4f}):", "",
                      *_points(lu["classes"])]  # fmt: skip
    return "\n".join(lines)


def _weighed(card: dict, task: str) -> str:
    """A task section's word where the app reads the task with the record head weighed in: the
    table is this model's alone, and the app's thresholds are the head's ("" elsewhere)."""
    rh = card.get("record_head") or {}
    if task not in rh.get("tasks", {}) and not (task == "super" and "superclasses" in rh):
        return ""
    return (
        " The table is this model's alone: the app reads this task with the record head weighed in, at "
        "the head's own thresholds and shown classes (the operating points below give them)."
    )


def _record_head(rh: dict | None) -> list[str]:
    """The card's words on the record head the app weighs beside the model (none without one)."""
    if rh is None:
        return []
    tasks = "; ".join(f"`{t}` {r['encoder_auroc']:.4f} -> {r['auroc']:.4f}" for t, r in rh["tasks"].items())
    said = (
        f"The app reads the {len(rh['codes'])} statements of the `all` task with the head "
        f"[{rh['file']}]({rh['card']}) weighed in beside this model: the beat list's rate, RR series, P "
        "waves and beat kinds, and its dominant beat's intervals and each lead's amplitudes and ST level, "
        f"its evidence added {rh['weight']:g} times to this model's log-odds, with its own thresholds "
        f"(`python -m training record-head`). Fold 9, macro AUROC, this model alone -> with the head: "
        f"{tasks}. The likelihood words and operating points below read the statements so."
    )
    if (sup := rh.get("superclasses")) is not None:
        said += (
            " The superclasses too: each read off its likeliest diagnostic statement so weighed, its "
            "log-odds "
            f"mixed {sup['weight']:g} with this model's super head's and calibrated, on fold 9 (macro AUROC "
            f"{sup['encoder_auroc']:.4f} -> {sup['auroc']:.4f}), with their own thresholds."
        )
    return ["## The record head", "", said, ""]


def _points(classes: dict) -> list[str]:
    """The operating-points table of a card's ``operating_points`` section."""

    def cell(r: dict, key: str) -> str:
        x, ci = r[key], r[f"{key}_ci"]
        if x is None:
            return "-"
        return f"{x:.3f}" if None in ci else f"{x:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"

    rows = [
        f"| {task}/{code} | {r['threshold']:.3f} | {cell(r, 'sensitivity')} | {cell(r, 'specificity')} | "
        f"{cell(r, 'ppv')} | {r['positives']} |"
        for task, by_code in classes.items()
        for code, r in by_code.items()
    ]
    head = "| finding | threshold | Se [95 %] | Sp [95 %] | PPV [95 %] | positives |"
    return [head, "|---|---|---|---|---|---|", *rows, ""]
