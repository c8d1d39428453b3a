"""``training/reports/RESULTS.md``'s "Out of distribution" section from the ``ood`` command's result
(``ood.py``): generated from the JSON, never typed."""

from __future__ import annotations

from training.validate.ood import RULES, SNOMED, SOURCES, Rule


def _ci(value: float | None, ci: list[float] | None) -> str:
    return "-" if value is None else f"{value:.3f} [{ci[0]:.3f}-{ci[1]:.3f}]"


def _effect(r: Rule) -> list[str]:
    """A rule in words, for the mapping table."""
    if r.exclude:
        return [f"record left out ({r.exclude})"]
    parts = [f"{', '.join(r.positive)} positive"] if r.positive else []
    if r.abnormal and not r.positive:
        parts.append("not NORM")
    if r.undecided:
        parts.append(f"{', '.join(r.undecided)} undecided")
    return parts or ["NORM possible"]


def _ludb_lines(result: dict) -> list[str]:
    ludb, classes = result["ludb"], result["classes"]
    test = (result.get("in_distribution") or {}).get("per_class_auroc", {})
    left_out = "; ".join(f"{why}: {n}" for why, n in ludb["excluded"].items()) or "none"
    lines = [
        "### LUDB",
        "",
        "Lobachevsky University, Nizhny Novgorod (2017-2018): 12 leads, 500 Hz, 10 s. Labels: its "
        "cardiologists' diagnoses (`ludb.csv`) mapped to PTB-XL superclasses by the table below; a "
        "record the table cannot decide is left out. "
        f"Records used: {ludb['used']} of {ludb['records']}; left out: {left_out}.",
        "",
    ]
    if result["pretraining_saw_ludb"]:
        lines += [
            "Not fully unseen: the encoder's self-supervised pretraining saw LUDB's signals (without "
            "labels, model card `unlabelled_pretraining`); its classifier heads never saw LUDB.",
            "",
        ]
    lines += _class_table(ludb, classes, test)
    m = ludb["macro"]
    lines += [
        "",
        "AUROC: the probability that a random positive record gets a higher probability than a random "
        "negative one (ties count half). Intervals: 2.5th-97.5th percentiles over "
        f"{m['n_boot'] if m else 0} bootstrap resamples of the used records with replacement, a class "
        "absent from a draw left out of its macro (`training/validate/metrics.py`). "
        "A class counts in the macro with at least "
        f"{ludb['min_count']} positives and {ludb['min_count']} negatives. PTB-XL fold 10: the model "
        "card's in-distribution figure.",
        "",
        "Mapping (`training/validate/ood.py`, `RULES`; a statement is matched by how it starts; "
        "a record is NORM when no statement is abnormal and none leaves NORM undecided):",
        "",
        "| LUDB column | statement | superclass | PTB-XL counterpart |",
        "|---|---|---|---|",
    ]
    for r in RULES:
        effect = "; ".join(_effect(r))
        lines.append(f"| {r.column} | {r.starts or '(any)'} | {effect} | {r.ptbxl} |")
    return [*lines, ""]


def _class_table(part: dict, classes: list[str], test: dict[str, float]) -> list[str]:
    """Per class: positives, negatives, AUROC with its interval, beside PTB-XL's; the macro."""
    lines = [
        "| class | positives | negatives | AUROC [95 % CI] | PTB-XL fold 10 AUROC |",
        "|---|---|---|---|---|",
    ]
    for c in classes:
        e = part["classes"][c]
        auroc = _ci(e["auroc"], e["auroc_ci"]) if e["auroc"] is not None else "too few"
        ref = f"{test[c]:.3f}" if c in test else "-"
        lines.append(f"| {c} | {e['positives']} | {e['negatives']} | {auroc} | {ref} |")
    m = part["macro"]
    if m is not None:
        lines += ["", f"Macro AUROC over {', '.join(m['classes'])}: {_ci(m['auroc'], m['auroc_ci'])}."]
    if part["too_few"]:
        few = ", ".join(part["too_few"])
        lines += ["", f"Too few (under {part['min_count']} positives or negatives): {few}."]
    return lines


def _challenge_lines(result: dict) -> list[str]:
    ch = result["challenge"]
    test = (result.get("in_distribution") or {}).get("per_class_auroc", {})
    used = [r for r in ch["per_record"] if r["labels"] is not None]
    by_source = {k: sum(r["source"] == k for r in used) for k in SOURCES}
    left_out = "; ".join(f"{why}: {n}" for why, n in ch["excluded"].items()) or "none"
    folders = ", ".join(f"`{f}`" for f in ch["folders"])
    lines = [
        "### PhysioNet/CinC Challenge sources",
        "",
        "12-lead recordings of the PhysioNet/Computing in Cardiology Challenges 2020 and 2021 (Perez "
        "Alday et al., Physiol. Meas. 2020; Reyna et al., CinC 2021; CC BY 4.0) from hospitals in China "
        "and the USA, as far as public repositories hold them (`ood --challenge DIR...`; not in "
        f"`../shared`; here from {folders}). Labels: each record's SNOMED-CT codes (`#Dx`) mapped to "
        "PTB-XL superclasses by "
        "the table below; a record with a code the table does not map, or that it leaves undecided, or "
        f"that the app's reader refuses, is left out. Records used: {ch['used']} of {ch['records']} "
        f"({', '.join(f'{n} from {SOURCES[k]}' for k, n in by_source.items() if n)}); left out: {left_out}. "
        "So few records give wide intervals: a check that the model transfers, not a measurement of "
        "how well.",
        "",
        *_class_table(ch, result["classes"], test),
        "",
        "Records used: " + ", ".join(r["record"] for r in used) + ".",
        "",
        "Mapping (`training/validate/ood.py`, `SNOMED`; codes as the Challenge's tables name them):",
        "",
        "| code | statement | superclass | PTB-XL counterpart |",
        "|---|---|---|---|",
    ]
    seen = {c for r in ch["per_record"] for c in r["codes"]}
    for code, r in SNOMED.items():
        if code in seen:
            lines.append(f"| {code} | {r.name} | {'; '.join(_effect(r))} | {r.ptbxl} |")
    return [*lines, ""]


def _file_row(r: dict) -> str:
    if not r["analysed"]:
        return f"| {r['file']} | - | - | - | - | no: {r['error']} | - | - | - | - |"
    leads = str(r["leads"])
    if r["derived"]:
        leads += f" ({len(r['derived'])} derived)"
    if r["other_leads"]:
        leads += f" (+{', '.join(r['other_leads'])})"
    top = ", ".join(f"{c} {p:.2f}" for c, p in list(r["probabilities"].items())[:3])
    says = "; ".join(r["statements"] + [f"{k}: {v}" for k, v in r["file_diagnoses"].items()]) or "-"
    return (
        f"| {r['file']} | {r['format']} | {leads} | {r['fs']:g} | {r['duration_s']:g} | yes | {top} | "
        f"{', '.join(r['above_threshold']) or '-'} | {r['device'] or '-'} | {says.replace('|', '/')} |"
    )


def _formats_lines(result: dict) -> list[str]:
    f = result["formats"]
    done = sum(r["analysed"] for r in f["files"])
    lines = [
        "### Vendor files",
        "",
        f"Each file of `formats/` opened by the app's readers and analysed ({done} of {len(f['files'])}). "
        "No labels, so no AUROC: this shows the output across devices, filters and rates. Columns: "
        "leads as read (derived: computed from I and II), rate (Hz), duration (s), the three highest "
        "superclass probabilities, the classes at or above the model card's thresholds, and what the "
        "file itself says (the device's statements; `dx`: SNOMED-CT codes).",
        "",
        "| file | format | leads | Hz | s | analysed | top probabilities | above threshold | device "
        "| file says |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_file_row(r) for r in f["files"]),
    ]
    if f["same_ecg"]:
        lines += [
            "",
            "The same ECG in several files: the largest difference of any class's probability between them.",
            "",
            "| files | max abs difference |",
            "|---|---|",
            *(f"| {', '.join(g['files'])} | {g['max_abs_diff']:.4f} |" for g in f["same_ecg"]),
        ]
    return [*lines, ""]


def paired_lines(paired: dict, model: dict) -> list[str]:
    """``model``'s run against another's (``ood.paired``), part by part."""
    other = paired["against"]
    lines = [
        f"### `{model['name']}` ({model['sha256'][:12]}) against `{other['name']}` ({other['sha256'][:12]})",
        "",
        "The first model's macro AUROC minus the other's on the records both scored, over the classes "
        "both macros counted, with a 95 % interval from the same bootstrap draws of records for both "
        "(`metrics.paired_bootstrap`); then each class's difference.",
        "",
        "| part | records | classes | difference [95 % CI] | by class |",
        "|---|---|---|---|---|",
    ]
    for part, name in (("ludb", "LUDB"), ("challenge", "Challenge records")):
        if (x := paired.get(part)) is not None:
            by_class = ", ".join(f"{c} {v:+.3f}" for c, v in x["per_class"].items())
            lo, hi = x["difference_ci"]
            lines.append(f"| {name} | {x['records']} | {', '.join(x['classes'])} | "
                         f"{x['difference']:+.4f} [{lo:+.4f}, {hi:+.4f}] | {by_class} |")  # fmt: skip
    return [*lines, ""]


def markdown(result: dict) -> str:
    """RESULTS.md's 'Out of distribution' section, from ``run``'s result (generated, not typed)."""
    m = result["model"]
    lines = [
        "## Out of distribution",
        "",
        f"Generated by `python -m training ood` (`training/validate/ood.py`) for `{m['name']}` (weights "
        f"SHA-256 {m['sha256'][:12]}, contract {m['contract']}) on the {result['device'].upper()}, "
        f"task `{result['task']}`, in {result['seconds']:g} s. Every recording is read by the app's "
        "readers and analysed as the app does it (`ecgviewer.io.load`, then the app's `Analyzer`), "
        "so the preprocessing is the app's.",
        "",
    ]
    if result["ludb"] is not None:
        lines += _ludb_lines(result)
    if result.get("challenge") is not None:
        lines += _challenge_lines(result)
    if result.get("paired") is not None:
        lines += paired_lines(result["paired"], result["model"])
    if result["formats"] is not None:
        lines += _formats_lines(result)
    return "\n".join(lines)
