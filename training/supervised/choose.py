"""``python -m training choose``: which saved classifier ships, decided on fold 9 only.

A candidate may replace the bundled model only when it beats it on the validation fold: for every
task asked, the paired bootstrap (``metrics.paired_bootstrap``: the same fold-9 records, resampled
with replacement) puts the whole 95 % interval of the macro-AUROC difference above zero,
and for every task named "not worse" (a change aimed at other tasks) the interval does not lie
wholly below zero.
Of several candidates that do, the one with the highest mean fold-9 macro AUROC over the tasks
ships (the fine-tuning's own selection metric), so the verdict does not depend on their order.
Fold 10 never enters the choice (a test permutes its labels and checks the verdict stays); with
``--split test`` the same comparison is only reported, after the choice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgviewer.ml.bundle import load_model
from training.context import Context
from training.supervised.export import evaluate_split
from training.validate import metrics as M


def compare(ctx: Context, candidate: Path, current: Path, tasks: list[str], split: str = "val",
            n_boot: int = 1000, not_worse: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Each task's macro AUROC of both models on ``split`` and their paired difference; ``better``
    when every one of ``tasks`` has its interval above zero and none of ``not_worse`` below it."""
    models = {name: load_model(path).model for name, path in (("candidate", candidate), ("current", current))}
    out: dict = {"candidate": str(candidate), "current": str(current), "split": split, "tasks": {}}
    for task in (*tasks, *not_worse):
        res = {name: evaluate_split(m, ctx, task, split, n_boot=0) for name, m in models.items()}
        y = res["candidate"]["y"]
        paired = M.paired_bootstrap(y, [res["candidate"]["probs"]], [res["current"]["probs"]], n_boot)
        out["tasks"][task] = {
            "n": len(y),
            "candidate_auroc": M.macro(y, res["candidate"]["probs"])[0],
            "current_auroc": M.macro(y, res["current"]["probs"])[0],
            "difference": paired["auroc"],
            "difference_ci": paired["auroc_ci"],
            "better": M.better(paired),
            "worse": M.worse(paired),
        }
    t = out["tasks"]
    out["better"] = all(t[k]["better"] for k in tasks) and not any(t[k]["worse"] for k in not_worse)
    return out


def choose(ctx: Context, candidates: list[Path], current: Path, tasks: list[str], split: str = "val",
           n_boot: int = 1000, not_worse: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Every candidate against ``current``; ``ships`` names the candidate to export as the bundled
    model (None: the current one stays), only on fold 9 (``split="val"``)."""
    compared = [compare(ctx, c, current, tasks, split, n_boot, not_worse) for c in candidates]
    winners = [c for c in compared if c["better"]]
    mean = lambda c: sum(t["candidate_auroc"] for t in c["tasks"].values()) / len(tasks)  # noqa: E731
    best = max(winners, key=mean) if winners and split == "val" else None
    return {"split": split, "compared": compared, "ships": best and best["candidate"]}


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("candidates", type=Path, nargs="+", help="classifiers that may replace the current one")
    p.add_argument("--current", type=Path, required=True, help="the classifier in use (resources/models/...)")
    p.add_argument("--tasks", default="super,all", help="every one must improve on fold 9")
    p.add_argument("--not-worse", default="", help="tasks that need only not be worse on fold 9")
    p.add_argument("--split", choices=["val", "test"], default="val", help="test: report only")
    p.add_argument("--n-boot", type=int, default=1000)
