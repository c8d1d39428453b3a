"""``training/reports/PRETRAINING.md``: does self-supervised pretraining help (issue 27)? From the runs'
own logs: the pretext against its trivial baselines epoch by epoch (a shortcut shows at once),
the scaling curve (``scaling.py``, fold 9) and the paired gains over the random-init encoder at
1 % and 10 % of the labels (``grid.py`` rows, fold 10 reported after fold 9 chose everything).

A report of its own, beside RESULTS.md, because each run folder makes it whole: a session can
write it from the runs it has, without the grid logs of the bundled model's runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.engine import hardware
from training.pretrain.methods import METHODS
from training.pretrain.pretraining import pretrain_phase
from training.pretrain.scaling import ran_on, run_label
from training.reports.results import SEVERAL_MACHINES, gain_goals, scaling_section
from training.supervised.grid import FINETUNE_PAIRS, LABEL, PROBE, PROBES, frozen, read_rows

# metrics.jsonl's pretext figures, in the table's order (training/pretrain/clear.py logs them)
COLUMNS = ("mse", "copy_mse", "template_mse", "copy_share",
           "scale_mse", "scale_copy_mse", "scale_template_mse")  # fmt: skip
CLEAR_HEADER = ["masked MSE", "copy the lead", "template", "copy share", "amplitude MSE", "copy", "template"]
# what every pretraining epoch logs, shown elsewhere (the learning rate is the schedule's)
NOT_SHOWN = ("phase", "epoch", "world", "seconds", "lr", "hardware", "bf16")


def pretext_log(run: Path) -> list[str]:
    """The pretraining log of ``run`` (``metrics.jsonl``): CLEAR's masked-token MSE beside the two
    trivial answers, copying the same lead's visible beats and the population template, in the
    signal and in the amplitude channel, and the share of masked tokens the copy could answer;
    another objective's loss beside what it logs to show a collapse (ECG-JEPA's target spread)."""
    path = run / "metrics.jsonl"
    logged = map(json.loads, path.read_text().splitlines()) if path.is_file() else []
    method_of = {pretrain_phase(m): m for m in METHODS}
    by_method: dict[str, list[dict]] = {}
    for r in logged:
        if r.get("phase") in method_of and "epoch" in r:
            by_method.setdefault(method_of[r["phase"]], []).append(r)
    lines = []
    for method, rows in by_method.items():
        clear = any("template_mse" in r for r in rows)
        rows = [r for r in rows if "template_mse" in r] if clear else rows  # CLEAR's older logs lack them
        named = f" (`{method}`)" if method != "clear" else ""
        keys = COLUMNS if clear else tuple(dict.fromkeys(k for r in rows for k in r if k not in NOT_SHOWN))
        header = CLEAR_HEADER if clear else [k.replace("_", " ") for k in keys]
        columns = ["epoch", *header, "s"]
        lines += [f"**`{run_label(run)}`**{named}{_described(run, method)}", "",
                  "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]  # fmt: skip
        for r in rows:
            shown = [f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k, "-")) for k in keys]
            cells = [r["epoch"], *shown, f"{r['seconds']:.0f}"]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
        lines.append("")
    return lines


def _described(run: Path, method: str) -> str:
    """What ``run`` pretrained with ``method``, from its scaling rows and the pretraining's json
    ('' when unknown); the masking and amplitude weight are CLEAR's decoder settings, so CLEAR's alone."""
    rows = [r for r in read_rows(run / "scaling.jsonl") if r["method"] == method]
    info = run / f"{pretrain_phase(method)}.json"
    said = []
    if rows:
        r = rows[0]
        masking = (
            f", {r['masking']} masking, amplitude weight {r['amplitude']:g}" if method == "clear" else ""
        )
        said.append(f"preset `{r['preset']}`{masking}")
    if info.is_file():
        d = json.loads(info.read_text())
        loop, hw = d["pretrain_loop"], d["hardware"]
        where = (
            f"{hw['cpu']} ({hw['threads']} threads, GPU {hw['gpu']})"
            if ran_on(run, method)
            else SEVERAL_MACHINES
        )
        said.append(f"{loop['epochs']} epochs x {loop['batch_size']} records, {d['pretrain_steps']} updates, "
                    f"{d['pretrain_s']:.0f} s on {where}")  # fmt: skip
    return ": " + "; ".join(said) if said else ""


def finetune_recipes(rows: list[dict]) -> tuple[tuple[str, str] | None, list[str]]:
    """Fold-9 macro AUROC of fine-tuning under each recipe run (``grid.FINETUNE_PAIRS``: plain,
    LP-FT), from the pretrained encoder and from random weights, each side on the (task, fraction,
    seed) cells below 100 % of the labels that all of its recipes logged. Each side's recipe that
    scores higher there is the one its verdict reads (the pair of the two is judged too); fold 10
    does not enter it. None when fewer than two recipes of a side were run."""
    scores: dict[str, dict[tuple, float]] = {}
    for r in rows:
        if r["fraction"] < 1:
            scores.setdefault(r["method"], {})[(r["task"], r["fraction"], r["seed"])] = r["val_auroc"]
    pairs = [(a, b) for a, b in FINETUNE_PAIRS if a in scores and b in scores]
    if len(pairs) < 2:
        return None, []
    means: dict[str, float] = {}
    cells = []
    for side in zip(*pairs, strict=True):
        common = set.intersection(*(set(scores[m]) for m in side))
        if not common:
            return None, []
        means |= {m: float(np.mean([scores[m][k] for k in common])) for m in side}
        cells.append(len(common))
    chosen = (
        max((a for a, _ in pairs), key=means.__getitem__),
        max((b for _, b in pairs), key=means.__getitem__),
    )
    lines = [f"Mean fold-9 macro AUROC over the cells (task, fraction, seed) every recipe logged: {cells[0]} "
             f"from the pretrained encoder, {cells[1]} from random weights.", "",
             "| recipe | from the pretrained encoder | | from random weights | |",
             "|---" * 5 + "|"]  # fmt: skip
    for a, b in pairs:
        marks = ["chosen" if m in chosen else "" for m in (a, b)]
        lines.append(
            f"| {LABEL[a]} / {LABEL[b]} | {means[a]:.4f} | {marks[0]} | {means[b]:.4f} | {marks[1]} |"
        )
    return chosen, [*lines, ""]


def encoder_choice(runs: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """Per pretraining method probed in two or more runs, the run whose frozen heads of that
    method score highest on fold 9: mean macro AUROC over the cells (method, task, fraction below
    100 %, seed) that every such run logged under the reported protocol. Its gains are the ones the
    issue's verdict reads; fold 10 does not enter the choice. A method of one run has no choice."""
    cells: dict[str, dict[Path, dict[tuple, float]]] = {}  # method -> run -> cell -> fold-9 AUROC
    for run in runs:
        for r in read_rows(run / "grid.jsonl"):
            if (f := frozen(r["method"])) and f[0] and r["fraction"] < 1:
                key = (r["method"], r["task"], r["fraction"], r["seed"])
                cells.setdefault(f[0], {}).setdefault(run, {})[key] = r["val_auroc"]
    chosen: dict[str, Path] = {}
    lines: list[str] = []
    for method, by_run in sorted(cells.items()):
        common = set.intersection(*(set(c) for c in by_run.values()))
        if len(by_run) < 2 or not common:
            continue
        means = {run: float(np.mean([got[k] for k in common])) for run, got in by_run.items()}
        best = chosen[method] = max(means, key=lambda run: means[run])  # the first listed on a tie
        lines += [f"`{method}`: {len(common)} cells (pretrained frozen heads, below 100 % of the labels) "
                  "that every run of it logged; mean fold-9 macro AUROC.", "", "| run | fold-9 mean | |",
                  "|---|---|---|",
                  *(f"| `{run_label(r)}` | {m:.4f} | {'chosen' if r == best else ''} |"
                    for r, m in means.items()), ""]  # fmt: skip
    return chosen, lines


def _choice_said(run: Path, rows: list[dict], chosen: dict[str, Path]) -> str:
    """A gain section's title suffix: whether fold 9 chose ``run``'s encoder among its method's."""
    methods = {f[0] for r in rows if (f := frozen(r["method"])) and f[0] in chosen}
    if not methods:
        return ""
    return " (chosen on fold 9)" if any(chosen[m] == run for m in methods) else " (not chosen)"


def probe_protocols(rows: list[dict]) -> list[str]:
    """Fold-9 macro AUROC of the frozen heads under each probe protocol (``grid.PROBES``) logged,
    on the cells (method, task, fraction, seed) every protocol has: mean per method and fraction,
    and over all of them. The choice of the reported protocol (``grid.PROBE``) reads this table;
    fold 10 does not enter it."""
    cells: dict[str, dict[tuple, float]] = {}
    for r in rows:
        if frozen(r["method"]) and r.get("probe") in PROBES:
            key = (r["method"], r["task"], r["fraction"], r["seed"])
            cells.setdefault(r["probe"], {})[key] = r["val_auroc"]
    if len(cells) < 2:
        return []
    common = set.intersection(*(set(c) for c in cells.values()))
    groups = sorted({(m, f) for m, _, f, _ in common})
    head = " | ".join(f"{LABEL[m]} at {f:.0%}" for m, f in groups)
    lines = ["| protocol | updates at least | " + head + " | all cells |", "|---" * (len(groups) + 3) + "|"]
    for probe, got in sorted(cells.items()):
        means = [np.mean([got[k] for k in common if (k[0], k[2]) == g]) for g in groups]
        shown = " | ".join(f"{m:.4f}" for m in means)
        mark = " (reported)" if probe == PROBE else ""
        overall = np.mean([got[k] for k in common])
        lines.append(f"| `{probe}`{mark} | {PROBES[probe]:,} | {shown} | {overall:.4f} |")
    return [f"{len(common)} cells (method, task, fraction, seed) under every protocol; mean fold-9 macro "
            "AUROC over tasks and seeds.", "", *lines, ""]  # fmt: skip


PRETEXT = """## The pretext against its trivial answers

Mean squared error of the masked tokens (standardised units) beside what needs no learning:
copying the mean of the same lead's visible beats, and the population template. `copy share` is
the share of masked tokens with a visible beat in the same lead (0 when whole lead groups are
hidden; a token with none is copied from the template). A pretext whose loss sits at the copy's
has a shortcut; one well below both has learned something they do not know. The other objectives
have no such copy: their table shows their loss and what they log beside it, ECG-JEPA's `target
spread` (the target encoder's outputs' spread across recordings: near 1 while they differ, near 0
for a collapsed encoder, whose loss can look as good).
"""
PROTOCOL = """The same frozen heads trained under each protocol the grid logged (`grid --probe`), scored on
fold 9 only: the protocol that trains the heads better there is the one the gains below use.
"""
CHOICE = """Several pretrained encoders were probed at 1 % and 10 % of the labels: the one whose frozen
heads score highest on fold 9 is the one the issue's verdict reads; the others' fold-10 tables are
shown for completeness only.
"""
RECIPE = """Fine-tuning from the pretrained encoder and the same network from random weights, under each
recipe the grid ran: plain (random heads, the preset's fine-tuning schedule) and LP-FT (the
frozen-encoder HUG cell first, then everything at LP-FT's lower rate with the preset's
augmentation and layer-wise decay, as the shipped model is trained). Scored on fold 9 only:
each side's better recipe there is the one its verdict reads.
"""
GAIN = """Each pretrained encoder against the random-init encoder with the same head (and fine-tuning
against the same network trained from scratch), seed paired with seed (the same label subset), on
the same fold-10 records; 1,000 bootstrap draws resample the seed pairs and the records together.
'Met' only when the whole 95 % interval of the difference is above zero.
"""
HEADER = ["| goal | labels | seeds paired | ours | baseline | AUROC difference [95 %] "
          "| AUPRC difference [95 %] | verdict |", "|---" * 8 + "|"]  # fmt: skip


def write_report(runs: list[Path], out: Path) -> Path:
    """Write ``out`` from ``runs`` (each a ``--run-dir`` of ``scaling`` and ``grid``)."""
    names = ", ".join(f"`{run_label(r)}`" for r in runs)
    lines = ["# Does pretraining help? (issue 27)", "",
             "Generated by `python -m training pretraining-report` from the run folders' logs; do not",
             f"edit by hand. Runs: {names}. PTB-XL 100 Hz: folds 1-8 pretrain and train, fold 9 chooses",
             "(each head's epoch, the scaling curve), fold 10 is reported once.", "", PRETEXT]  # fmt: skip
    for run in runs:
        lines += pretext_log(run)
    # the figures named after the report (PRETRAINING.md: pretraining-scaling*.png), so that a
    # report of other runs beside it keeps its own
    lines += scaling_section(runs, out.parent / "figures" / f"{out.stem.lower()}-scaling.png")
    for run in runs:
        compared = probe_protocols(read_rows(run / "grid.jsonl", probe=None))
        if compared:
            lines += [f"## The frozen heads' protocol (fold 9): `{run_label(run)}`", "", PROTOCOL, *compared]
    chosen, choice = encoder_choice(runs)
    if choice:
        lines += ["## The encoder whose gains are judged (fold 9)", "", CHOICE, *choice]
    for run in runs:
        rows = read_rows(run / "grid.jsonl")
        recipes, said = finetune_recipes(rows)
        if said:
            lines += [f"## The fine-tuning recipe (fold 9): `{run_label(run)}`", "", RECIPE, *said]
        table, verdicts = gain_goals(rows, recipes)
        if table:
            which = _choice_said(run, rows, chosen)
            title = f"## The gain at 1 % and 10 % of the labels (fold 10): `{run_label(run)}`{which}"
            lines += [title, "", GAIN, *HEADER, *table, "", *verdicts, ""]
    lines += ["Hardware of this machine when the file was written: " + json.dumps(hardware()), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    return out
