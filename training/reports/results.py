"""``training/reports/RESULTS.md`` from the grid's logs (``grid.py``) and the model cards: the per-task
tables, the paired goals, the pretraining runs and the ranking of the pretraining methods, every
choice on fold 9 (fold 10 only reported)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np

from ecgviewer import assets
from ecgviewer.ml import contract
from training.engine import hardware
from training.pretrain.methods import METHODS
from training.pretrain.scaling import ran_on
from training.reports.ranking import cell, compared
from training.supervised.grid import (
    BASELINES,
    BUNDLED_GOAL,
    FINETUNE_PAIRS,
    LABEL,
    MIN_SEEDS,
    NO_PREDS,
    PER_CLASS_MAX,
    RANDOM_INIT,
    frozen,  # fmt: skip
    load_preds,
    read_rows,
)
from training.validate import metrics as M

FRACTIONS = (0.01, 0.1)
MAIN_TASK = "super"
OTHER_TASKS = ("sub", "form", "rhythm", "diag", "all")
OTHERS_NEEDED = 3  # issue 27: super and at least three of the other tasks, at both fractions
# the hardware cell of a pretraining whose epochs ran on more than one machine or precision
SEVERAL_MACHINES = "several machines or precisions (resumed elsewhere)"


def _fmt(rows: list[dict], key: str) -> str:
    """A per-task cell: the seeds' mean fold-10 macro with its own 95 % interval, records and seeds
    drawn together from the kept predictions (``metrics.report``), and the SD over seeds. Rows
    logged without predictions (NO_PREDS), or seeds scored on different records, show seed 0's
    figure with seed 0's logged interval (the earlier bootstrap): no common draw exists for them."""
    vals = np.array([r["test"][key] for r in rows])
    spread = f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""
    own = _own(rows)
    if own is None:
        first = rows[0]["test"]
        lo, hi = first[f"{key}_ci"]
        seed = f"seed {rows[0]['seed']}"
        if any("preds" not in r for r in rows):
            return f"{first[key]:.3f} [{lo:.3f}-{hi:.3f}] ({seed}){NO_PREDS}"
        return f"{first[key]:.3f} [{lo:.3f}-{hi:.3f}] ({seed}; the seeds were scored on other records)"
    lo, hi = own[f"{key}_ci"]
    return f"{own[key]:.3f}{spread} [{lo:.3f}-{hi:.3f}]"


def _own(rows: list[dict]) -> dict | None:
    """``_cell`` of the rows' kept predictions; None when a row has none."""
    return _cell(tuple(str(r["preds"]) for r in rows)) if all("preds" in r for r in rows) else None


@cache
def _cell(paths: tuple[str, ...]) -> dict | None:
    """``metrics.report`` of one cell's seeds (their kept fold-10 predictions), or None when they
    were not scored on the same records and labels."""
    preds = [load_preds({"preds": Path(p)}) for p in paths]
    first = preds[0]
    if first is None or not all(
        p is not None and all(np.array_equal(p[k], first[k]) for k in ("classes", "test_ecg_id", "test_y"))
        for p in preds
    ):
        return None
    probs = [p["test_probs"] for p in preds if p is not None]
    return M.report(first["test_y"], probs, [str(c) for c in first["classes"]])


def _per_class(rows: list[dict], task: str, fracs: list[float], labels: dict[str, str]) -> list[str]:
    """Per-class fold-10 AUROC (mean over seeds) of a task with few classes: where the amplitude
    ablation shows (hypertrophy, HYP, needs absolute voltage)."""
    cells = [r for r in rows if r["task"] == task]
    classes = list(cells[0]["test"]["per_class_auroc"])
    if len(classes) > PER_CLASS_MAX:
        return []
    header = "| method | labels | " + " | ".join(classes) + " |"
    lines = [f"## `{task}`: per-class AUROC on fold 10", "", header, "|---|---|" + "---|" * len(classes)]
    for method in labels:
        for f in fracs:
            cell = [r for r in cells if r["method"] == method and r["fraction"] == f]
            if not cell:
                continue
            means = [np.mean([r["test"]["per_class_auroc"][c] for r in cell]) for c in classes]
            lines.append(f"| {labels[method]} | {f:.0%} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return [*lines, ""]


def seed_pairs(rows: list[dict], a: str, b: str, task: str, frac: float) -> list[tuple[dict, dict]]:
    """The rows of methods ``a`` and ``b`` with the same seed, i.e. trained on the same labels."""
    ra, rb = ({r["seed"]: r for r in cell(rows, m, task, frac)} for m in (a, b))
    return [(ra[s], rb[s]) for s in sorted(ra.keys() & rb.keys())]


def paired_row(goal: str, frac: float, pairs: list[tuple[dict, dict]], tie: str = "") -> str:
    """A goal row of the Goals table: fold-10 macro AUROC (and AUPRC) of A minus B with its
    paired bootstrap 95 % interval (``metrics.paired_bootstrap``); 'met' only when the interval
    lies above zero (``tie`` is added to the verdict of an interval around zero). Rows without
    saved predictions are shown but not judged."""
    kept = [(a, b) for a, b in pairs if "preds" in a and "preds" in b]
    shown = kept or pairs
    ours, base = (np.mean([p[i]["test"]["auroc"] for p in shown]) for i in (0, 1))
    start = f"| {goal} | {frac:.0%} | {len(kept)} of {len(pairs)} | {ours:.3f} | {base:.3f} |"
    if not kept:
        return f"{start} - | - | not judged: rows logged without per-record predictions ({NO_PREDS}) |"
    preds = [(load_preds(a), load_preds(b)) for a, b in kept]
    first = preds[0][0]
    same = all(np.array_equal(p[k], first[k]) for pair in preds for p in pair
               for k in ("classes", "test_ecg_id", "test_y"))  # fmt: skip
    if not same:
        return f"{start} - | - | not judged: scored on different fold-10 records or labels |"
    res = M.paired_bootstrap(first["test_y"], [a["test_probs"] for a, _ in preds],
                             [b["test_probs"] for _, b in preds])  # fmt: skip
    diff = [f"{res[k]:+.3f} [{res[k + '_ci'][0]:+.3f}, {res[k + '_ci'][1]:+.3f}]" for k in ("auroc", "auprc")]
    verdict = "met" if M.better(res) else f"not met: the interval includes 0{tie}"
    if res["auroc_ci"][1] < 0:
        verdict = "not met: the baseline is higher"
    return f"{start} {diff[0]} | {diff[1]} | {verdict} |"


def _bundled_file(name: str) -> bool:
    """Whether ``name`` (a card's or a grid row's) is the app's bundled model file."""
    return Path(name).stem == Path(assets.MODEL).stem


def who(sha: str | None, name: str, shipped_sha: str) -> str:
    """How RESULTS.md names a model: by its weights, not its file name (an earlier bundled model
    kept its name ``clear-hug-bundled``)."""
    if sha == shipped_sha:
        return f"bundled model `{name}`"
    kind = "earlier bundled model" if _bundled_file(name) else "candidate"
    return f"{kind} `{name}` ({sha[:8]}\u2026)" if sha else f"{kind} `{name}` (weights not recorded)"


def compare_with_bundled(
    rows: list[dict], shipped_sha: str, baselines: Iterable[str] = BASELINES
) -> list[str]:
    """Goal rows '<model> beats <baseline>' for every task where the grid holds both a run's
    exported model (``grid._bundled_run``: the row names its weights) and the baseline's 100 %-label
    rows: each baseline seed paired with that model on the same fold-10 records."""
    lines = []
    for own in (r for r in rows if "bundled" in r):
        sha = own.get("weights_sha256")
        for method in baselines:
            base = cell(rows, method, own["task"], 1.0)
            if base:
                goal = f"{who(sha, own['bundled'], shipped_sha)} beats {LABEL[method]} (`{own['task']}`)"
                lines.append(paired_row(goal, 1.0, [(own, b) for b in base], "; not below it either"))
    return lines


def _met(line: str) -> bool:
    return line.endswith("| met |")


def gain_goals(rows: list[dict], recipes: tuple[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Goal rows '<pretrained> beats <random init, same head>' (and fine-tuning against training
    from scratch) per task and label fraction, and one verdict line per comparison: the issue's bar
    is ``MAIN_TASK`` and at least ``OTHERS_NEEDED`` of ``OTHER_TASKS`` met at every fraction (for
    fine-tuning against training from scratch, ``MAIN_TASK`` at every fraction).
    ``recipes``: the fine-tuning recipes fold 9 chose from the pretrained encoder and from random
    weights (``finetune_recipes``): named in the verdicts, and judged as a pair of their own."""
    kinds = {frozen(r["method"]) for r in rows} - {None}
    # against the random-init beat encoder (the product's alternative) and, for another family,
    # against the random-init encoder of its own family (what its pretraining must beat)
    pairs = sorted(
        (f"{ssl}-{head}", f"{random}-{head}")
        for ssl, head in kinds
        if ssl
        for random, family in RANDOM_INIT.items()
        if family in (contract.BEATS, METHODS[ssl].kind)
    )
    pairs += FINETUNE_PAIRS
    if recipes and recipes not in FINETUNE_PAIRS:
        pairs.append(recipes)
    table: list[str] = []
    verdicts: list[str] = []
    for ours, base in pairs:
        met: dict[str, dict[float, bool]] = {}  # task -> fraction run -> met
        for task in (MAIN_TASK, *OTHER_TASKS):
            for frac in FRACTIONS:
                seeds = seed_pairs(rows, ours, base, task, frac)
                if not seeds:
                    continue
                line = paired_row(f"{LABEL[ours]} beats {LABEL[base]} (`{task}`)", frac, seeds)
                table.append(line)
                met.setdefault(task, {})[frac] = _met(line)
        if not met:
            continue
        at_all = {t: all(v.get(f, False) for f in FRACTIONS) for t, v in met.items()}
        both = [t for t in OTHER_TASKS if at_all.get(t)]
        # issue 27 asks fine-tuning to beat training from scratch at both fractions, on no more tasks
        finetune = (ours, base) in FINETUNE_PAIRS or (ours, base) == recipes
        ok = at_all.get(MAIN_TASK, False) and (finetune or len(both) >= OTHERS_NEEDED)
        bar = f"`{MAIN_TASK}`" if finetune else f"`{MAIN_TASK}` and {OTHERS_NEEDED} other tasks"
        tried = [t for t in OTHER_TASKS if t in met]
        main = met.get(MAIN_TASK, {})
        said = ", ".join(f"{'not run' if f not in main else 'met' if main[f] else 'not met'} at {f:.0%}"
                         for f in FRACTIONS)  # fmt: skip
        which = ""
        if recipes and (ours, base) == recipes:
            which = " (each side's recipe chosen on fold 9)"
        elif recipes and (ours, base) in FINETUNE_PAIRS:
            which = " (not the pair fold 9 chose)"
        verdicts.append(
            f"- {LABEL[ours]} against {LABEL[base]}{which}: `{MAIN_TASK}` {said}; "
            f"met at both on {len(both)} of {len(tried)} other tasks run ({', '.join(both) or 'none'}): "
            f"**{'gain proved' if ok else 'gain not proved'}** (the bar: {bar} at both fractions)"
        )
    return table, verdicts


def _goals(rows: list[dict], cards: list[dict], shipped_sha: str) -> list[str]:
    """The issues' goals on fold 10 (task ``super``; issue 27's other tasks and verdicts from
    ``gain_goals``), each comparison paired (``paired_row``)."""
    lines = [
        "## Goals",
        "",
        "Fold 10 (test) macro AUROC of `super` (unless a goal names another task), reported after every",
        "choice was made on fold 9. A comparison pairs the two methods' runs of the same seed (the same",
        f"label subset) on the same fold-10 records; {M.N_BOOT:,} bootstrap draws resample the seed pairs",
        "and the records (plainly, with replacement) together. 'Met' only when the whole 95 % interval",
        "of the difference (ours minus baseline) is above zero; the bundled model's goal only when its",
        "interval is above the goal.",
        f"Rows logged before per-record predictions were kept ({NO_PREDS}) cannot be paired.",
        "",
        "| goal | labels | seeds paired | ours | baseline | AUROC difference [95 %] "
        "| AUPRC difference [95 %] | verdict |",
        "|---" * 8 + "|",
    ]
    for card in cards:
        t = card["labels"]["super"]["test"]
        (lo, hi), auroc = t["auroc_ci"], t["auroc"]
        model = who(card["weights_sha256"], card["name"], shipped_sha)
        verdict = "met" if lo >= BUNDLED_GOAL else f"missed by {BUNDLED_GOAL - auroc:.3f}"
        if lo < BUNDLED_GOAL <= auroc:
            verdict = f"not met: its interval reaches below {BUNDLED_GOAL}"
        shown = f"{auroc:.3f} [{lo:.3f}-{hi:.3f}]"
        lines.append(f"| {model} >= {BUNDLED_GOAL} | 100% | - | {shown} | - | - | - | {verdict} |")
    checks = [
        (a, b, (0.01, 0.1, 1.0)) for a, b in (("clear-linear", "random-linear"), ("clear-hug", "random-hug"))
    ]
    checks += [(a, b, (0.01, 0.1)) for a, b in FINETUNE_PAIRS]
    checks.append(("clear-hug", "clear-hug-linear", (0.01, 0.1, 1.0)))  # our HUG experts vs the paper's
    for ours, base, fracs in checks:
        for f in fracs:
            pairs = seed_pairs(rows, ours, base, "super", f)
            if pairs:
                lines.append(paired_row(f"{LABEL[ours]} beats {LABEL[base]}", f, pairs))
    # the rest of issue 27's bar (the `super` rows of the pairs checked above are there), and its verdicts
    gains, verdicts = gain_goals(rows)
    shown = tuple(f"| {LABEL[a]} beats {LABEL[b]} (`{MAIN_TASK}`) |" for a, b, _ in checks)
    lines += [line for line in gains if not line.startswith(shown)]
    return [*lines, *compare_with_bundled(rows, shipped_sha), "", *verdicts, *([""] if verdicts else [])]


def _pretraining(runs: list[Path], cards: list[dict]) -> list[str]:
    """What each method's pretraining cost: schedule, updates and wall-clock, from its run log."""
    lines = ["## Pretraining runs", "",
             "| method | records | epochs x batch | updates | wall-clock (s) | once per cache (s) | threads "
             "| hardware |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    seen: set[str] = set()  # one row per pretraining, however many run folders share its encoder
    for run in runs:
        for m in METHODS.values():
            path = run / ("pretrain.json" if m.name == "clear" else f"pretrain-{m.name}.json")
            if not path.is_file() or path.read_text() in seen:
                continue
            seen.add(path.read_text())
            info = json.loads(path.read_text())
            card = cards[0] if cards and m.name == "clear" else {}  # the bundled run logged less
            loop = info.get("pretrain_loop") or card.get("training", {}).get("pretrain", {})
            hw = info.get("hardware") or card.get("hardware", {})
            one_machine = ran_on(run, m.name) is not None
            recs = info["pretrain_records"]
            cells = [
                m.label,
                f"{recs['ptbxl']} PTB-XL + {recs['unlabelled']} LUDB",
                f"{loop.get('epochs', '-')} x {loop.get('batch_size', '-')}",
                info.get("pretrain_steps", "-"),
                f"{info['pretrain_s']:.0f}",
                ", ".join(
                    f"{k.removesuffix('_s')} {v:.0f}" for k, v in info.get("preprocessing_s", {}).items()
                )
                or "-",
                hw.get("threads", "-") if one_machine else "-",
                f"{hw.get('cpu', '-')}, GPU {hw.get('gpu')}" if one_machine else SEVERAL_MACHINES,
            ]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
    return [*lines, ""] if len(lines) > 4 else []


def run_card(run: Path) -> dict | None:
    """The model card ``run.json`` names, or ``None`` for a run that exported no model. The path
    is the one written at export; a run kept in the repository (``keep``) holds the card under its
    own folder instead, so the copy of that name there is read."""
    meta = run / "run.json"
    if not meta.is_file():
        return None
    named = Path(json.loads(meta.read_text())["card"])
    found = [named] if named.is_file() else sorted(run.rglob(named.name))
    if not found:
        raise FileNotFoundError(f"{meta}: its model card {named} is missing, and {run} keeps no {named.name}")
    return json.loads(found[0].read_text())


def _own_weights(rows: list[dict], card: dict | None) -> list[dict]:
    """A run folder's exported-model rows scored the weights its ``run.json`` names: rows logged
    before rows carried their SHA-256 get the card's."""
    if card is None:
        return rows
    return [r | {"weights_sha256": card["weights_sha256"]} if "bundled" in r and "weights_sha256" not in r
            else r for r in rows]  # fmt: skip


def _one_row_per_model(rows: list[dict], shipped_sha: str) -> tuple[list[dict], dict[str, str]]:
    """Exported models of different run folders are different models, not seeds of one cell:
    each gets a method key and a table label of its own (``who``). Returns the rows and the
    labels of every method key, in table order."""
    labels = dict(LABEL)
    del labels["exported"]
    out = []
    for r in rows:
        if r["method"] == "exported":
            sha = r.get("weights_sha256")
            key = f"exported-{sha or r['bundled']}"
            labels.setdefault(key, f"{who(sha, r['bundled'], shipped_sha)}, exported (100 % labels)")
            r = r | {"method": key}
        out.append(r)
    return out, labels


def scaling_section(runs: list[Path], figure: Path) -> list[str]:
    """The scaling section (``scaling.py``) of the runs that logged one, with its plot."""
    from training.pretrain.scaling import (
        NEAR,
        SPREAD,
        compute_table,
        scaling_figure,
        scaling_table,
        size_figure,
        size_table,
    )

    found = [r for r in runs if (r / "scaling.jsonl").is_file()]
    if not found:
        return []
    table, points = scaling_table(found)
    scaling_figure(points, figure)
    sizes, by_size = size_table(found)
    sized = []
    if any(len(pts) > 1 for families in by_size.values() for pts in families.values()):
        plot = size_figure(by_size, figure.with_name(figure.stem + "-size.png"))
        sized = ["### Against encoder width and depth", "",
                 "The same pretraining at other encoder sizes (`scaling --size WIDTHxDEPTH`), each at its",
                 "last snapshot beside the random-init encoder of its size (difference paired as above)",
                 "and against the same pretraining's largest encoder (paired: does a smaller one lose?).",
                 "", f"![fold-9 AUROC against encoder parameters]({plot.parent.name}/{plot.name})", "",
                 *sizes]  # fmt: skip
    compute, by_time = compute_table(found)
    timed = []
    if compute:
        plot = scaling_figure(
            by_time, figure.with_name(figure.stem + "-time.png"), "pretraining wall-clock, s"
        )
        timed = ["### Pretexts at equal compute", "",
                 "Pretexts and objectives of the same encoder size, given the same pretraining wall-clock:",
                 "each run logs every epoch's time; the budgets are the shortest run's whole pretraining and",
                 f"each longer run's whole if at least {SPREAD:g} times the last budget (`scaling.budgets`).",
                 "Every run that pretrained that long is read at its snapshot nearest the budget as a ratio,",
                 f"either side, if one lies within a factor {NEAR:g} (snapshots are whole epochs: the",
                 "`pretraining (s)` column says how near). Ranked by fold-9 AUROC; differences paired as",
                 "above. Wall-clock compares runs of one machine, thread count and precision only (the",
                 "`ran on` column); a run whose epochs ran on more than one (resumed elsewhere, as each",
                 "epoch's log says) enters no table here.", "",
                 f"![fold-9 AUROC against pretraining wall-clock]({plot.parent.name}/{plot.name})", "",
                 *compute]  # fmt: skip
    return ["## Pretraining scaling (fold 9)", "",
            "Generated by `python -m training scaling`: each curve is one pretraining run whose encoder was",
            "saved after the listed epochs (snapshots of one cosine schedule: an early point's learning rate",
            "had not decayed, so it understates a run of that length); epoch 0 is the randomly initialised",
            "encoder of the same family and size (ECG-JEPA's is the patch encoder). Each point is the",
            "grid's frozen HUG probe (all training labels),",
            "scored on fold 9 (mean over seeds); the difference from epoch 0 is a paired bootstrap over",
            "the same records and seeds. Fold 10 is not used.", "",
            f"![fold-9 AUROC against pretraining epochs]({figure.parent.name}/{figure.name})", "",
            *table, *sized, *timed]  # fmt: skip


# issue 75: each task of what the app shows at the published per-task best (Strodthoff et al. 2021)
TASK_GOALS = {"all": 0.926, "diag": 0.941, "form": 0.899, "rhythm": 0.957, "super": 0.930}


def _versus(d: dict | None) -> str:
    """A paired difference in AUROC, with whether its interval is above zero, below or holds it."""
    if d is None:
        return "-"
    (lo, hi), side = d["auroc_ci"], "level"
    side = "above" if lo > 0 else "below" if hi < 0 else side
    return f"{d['auroc']:+.4f} [{lo:+.4f}, {hi:+.4f}] ({side})"


def record_head_section(shipped_sha: str) -> list[str]:
    """What the app shows on fold 10: the bundled model with the record head weighed in, from the
    head's card (``python -m training record-head --test``, logged when read), against issue 75's
    goals and paired against the kept CNNs; none where the head was not fitted beside it or not read."""
    path = assets.record_head_path().with_suffix(".json")
    card = json.loads(path.read_text()) if path.is_file() else {}
    test = card.get("test")
    if test is None or card.get("model", {}).get("sha256") != shipped_sha:
        return []
    keys = {k for t in test["tasks"].values() for k in t if k.startswith("both_minus_")}
    cnns = sorted(k.removeprefix("both_minus_") for k in keys - {"both_minus_encoder"})
    lines = [
        "## What the app shows: the bundled model with the record head",
        "",
        f"The 71 statements as the app reads them, with the record head `{path.stem}` weighed in "
        f"([its card](../../resources/models/{path.stem}.md)), fold 10 read once it shipped "
        "(`python -m training record-head --test`, logged in FOLD10.md). A goal is met when the whole "
        "interval is above it; against a CNN (its kept predictions, paired on the same records): "
        "above when the whole interval of the difference is, level when it holds zero.",
        "",
        "| task | records | macro AUROC [95 %] | goal | verdict | minus the encoder alone | "
        + " | ".join(f"minus {c}" for c in cnns)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(cnns),
    ]
    for task, r in test["tasks"].items():
        b, goal = r["both"], TASK_GOALS.get(task)
        (lo, hi), auroc = b["auroc_ci"], b["auroc"]
        verdict = "-"
        if goal is not None:
            verdict = "met" if lo >= goal else f"below by {goal - auroc:.3f}" if auroc < goal else (
                f"not met: its interval reaches below {goal}")  # fmt: skip
        cells = [_versus(r["both_minus_encoder"]), *(_versus(r.get(f"both_minus_{c}")) for c in cnns)]
        lines.append(f"| `{task}` | {r['records']} | {auroc:.4f} [{lo:.4f}, {hi:.4f}] | {goal or '-'} | "
                     f"{verdict} | " + " | ".join(cells) + " |")  # fmt: skip
    return [*lines, ""]


def write_results(runs: list[Path], out: Path, ood: Path | None = None, shipped: Path | None = None) -> Path:
    """Generate RESULTS.md from the grid logs and the model cards of ``runs``, and the
    out-of-distribution section from ``ood`` (``python -m training ood``'s JSON) when it exists.
    A card whose weights are ``shipped`` (default: the app's bundled model; its card beside it is
    always read) is the bundled model; the others are candidates that ``choose`` did not pick."""
    from ecgviewer.weights import sha256

    shipped = shipped or assets.model_path()
    shipped_sha = sha256(shipped)
    rows = []
    # the shipped model's own card first: its section stays when no run folder given exported it
    shipped_card = shipped.with_suffix(".json")
    cards = [json.loads(shipped_card.read_text())] if shipped_card.is_file() else []
    for run in runs:
        card = run_card(run)
        rows += _own_weights(read_rows(run / "grid.jsonl"), card)
        if card:
            cards.append(card)
    rows, labels = _one_row_per_model(rows, shipped_sha)
    lines = [
        "# Results",
        "",
        "Generated by `python -m training results` from the grid logs (`python -m training grid`) and the",
        "bundled model card; do not edit by hand. PTB-XL 100 Hz, folds 1-8 train (label fractions are",
        f"random subsets of the training records, at least {MIN_SEEDS} seeds below 100 %). Fold 9",
        "(validation) makes every choice: each run's epoch, the ranks of the pretraining methods and the",
        "verdict on the bundled model. Fold 10 (test) is only reported: the bundled model's figures, the",
        "Goals and the per-task tables. Frozen-encoder heads train on the lead [CLS] features",
        "standardised per dimension by the mean and SD of their training rows over all leads (MAE's",
        "linear-probe protocol, He et al. 2022). Cells of the per-task tables: fold-10 macro AUROC or",
        "AUPRC, the mean over seeds ± their SD [95 % interval of that mean: "
        f"{M.N_BOOT:,} draws of the records",
        "with replacement and of the seeds together, a class absent from a draw left out of its macro].",
        f"{NO_PREDS}: rows logged before per-record predictions were kept; they cannot enter the paired",
        "goals, and show seed 0's figure with seed 0's logged interval (an earlier bootstrap that",
        "resampled records within their label pattern, too narrow where patterns are unique).",
        "",
    ]
    shas = [c["weights_sha256"] for c in cards]
    cards = [c for k, c in enumerate(cards) if c["weights_sha256"] not in shas[:k]]  # a model once
    for card in cards:
        shown = card["weights_sha256"] == shipped_sha
        title = (
            "Bundled model"
            if shown
            else "Earlier bundled model (replaced; `python -m training choose`)"
            if _bundled_file(card["name"])
            else "Candidate (not shipped, `python -m training choose`)"
        )
        sha = "" if shown else f" ({card['weights_sha256'][:8]}\u2026)"
        lines += [f"## {title} `{card['name']}`{sha}", "",
                  f"Command: `{card['command']}`; hardware: {card['hardware']};",
                  f"timings (s): {card['timings']}.", ""]  # fmt: skip
        for task, lab in card["labels"].items():
            t = lab["test"]
            (a0, a1), (p0, p1) = t["auroc_ci"], t["auprc_ci"]
            lines.append(
                f"- `{task}` (fold 10, n={t['n']}): macro AUROC {t['auroc']:.3f} [{a0:.3f}-{a1:.3f}], "
                f"macro AUPRC {t['auprc']:.3f} [{p0:.3f}-{p1:.3f}]"
            )
        lines.append("")
    lines += record_head_section(shipped_sha)
    lines += _goals(rows, cards, shipped_sha)
    lines += _pretraining(runs, cards)
    lines += scaling_section(runs, out.parent / "figures" / "scaling.png")
    lines += compared(rows)
    for task in dict.fromkeys(r["task"] for r in rows):
        fracs = sorted({r["fraction"] for r in rows if r["task"] == task})
        for key, title in (("auroc", "macro AUROC"), ("auprc", "macro AUPRC")):
            header = " | ".join(f"{f:.0%} labels" for f in fracs)
            lines += [f"## `{task}`: {title} on fold 10", "", f"| method | {header} | wall-clock (s) |",
                      "|---|" + "---|" * (len(fracs) + 1)]  # fmt: skip
            shares: list[float] = []
            for method in labels:
                cell = [r for r in rows if r["task"] == task and r["method"] == method]
                if not cell:
                    continue
                by = [sorted((r for r in cell if r["fraction"] == f), key=lambda r: r["seed"]) for f in fracs]
                secs = sum(r["seconds"] for r in cell)
                src = cell[0].get("from")
                read = f", scored from its `{src}` head" if src else ""
                lines.append(
                    f"| {labels[method]}{read} | "
                    + " | ".join(_fmt(b, key) if b else "-" for b in by)
                    + f" | {secs:.0f}{f' + its `{src}` run' if src else ''} |"  # scoring only: trained once
                )
                shares += [own["left_out_share"] for b in by if b and (own := _own(b))]
            if shares and max(shares) > 0:
                lo, hi = (round(100 * f(shares)) for f in (min, max))
                lines += ["", "A class absent from a draw (no positive or no negative in it) was left out "
                          f"of it in {lo if lo == hi else f'{lo} to {hi}'} % of a cell's draws."]  # fmt: skip
            lines.append("")
        lines += _per_class(rows, task, fracs, labels)
    if ood is not None and ood.is_file():
        from training.validate.ood_report import markdown

        lines += [markdown(json.loads(ood.read_text())), ""]
    lines += ["Hardware of this machine when the file was written: " + json.dumps(hardware()), ""]
    out.write_text("\n".join(lines))
    return out
