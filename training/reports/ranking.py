"""The pretraining methods ranked on the frozen encoder (RESULTS.md's "Pretraining methods
compared" sections): each method's mean fold-9 macro AUROC per grid cell, its mean rank over the
cells every method has, and whether the bundled model's method should change (``bundled_verdict``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data import datasets as D
from training.pretrain.methods import METHODS
from training.supervised.grid import CLEAR_GAIN, frozen


def cell(rows: list[dict], method: str, task: str, frac: float) -> list[dict]:
    """The rows (one per seed) of a grid cell."""
    return [r for r in rows if (r["method"], r["task"], r["fraction"]) == (method, task, frac)]


def scores(rows: list[dict], method: str, task: str, frac: float, fold: str = "val") -> np.ndarray:
    """Each seed's macro AUROC of a cell on fold 9 (``val``, what every choice uses) or on fold 10
    (``test``, reported only)."""
    return np.array(
        [r["val_auroc"] if fold == "val" else r["test"]["auroc"] for r in cell(rows, method, task, frac)]
    )


# The frozen encoders compared: each pretraining method, and the random-init encoder.
SUBJECTS = {m.name: m.label for m in METHODS.values()} | {"random": "random init (no pretraining)"}


@dataclass
class Ranking:
    """The frozen encoders under one head, ranked by mean fold-9 macro AUROC over the cells every
    one of them has, so a method run on more tasks neither gains nor loses by it. The fold-10
    means are carried only to be shown."""

    head: str
    cells: list[tuple[str, float]]  # (task, fraction) of every row of the head
    common: list[tuple[str, float]]  # the cells every encoder has: the ranked ones
    val: dict[str, dict[tuple[str, float], float]]  # encoder -> cell -> mean fold-9 macro AUROC
    test: dict[str, dict[tuple[str, float], float]]  # the same on fold 10
    mean_rank: dict[str, float]
    winners: list[str]  # the best mean rank ("clear" first on a tie: it is in use)
    verdict: str | None  # whether the bundled model (CLEAR's encoder) should change


def rank_methods(rows: list[dict], head: str) -> Ranking | None:
    """The ranking of the frozen encoders under ``head`` (None with fewer than two encoders or no
    shared cell): fold-9 numbers only, so fold 10's labels cannot move it."""
    ours = [r for r in rows if frozen(r["method"]) and frozen(r["method"])[1] == head]
    cells = sorted({(r["task"], r["fraction"]) for r in ours}, key=lambda c: (D.TASKS.index(c[0]), c[1]))
    seeds = {(s, c): scores(rows, f"{s}-{head}", *c) for s in SUBJECTS for c in cells}
    val = {s: {c: float(seeds[s, c].mean()) for c in cells if len(seeds[s, c])} for s in SUBJECTS}
    val = {s: m for s, m in val.items() if m}
    common = [c for c in cells if all(c in m for m in val.values())]
    if len(val) < 2 or not common:
        return None
    ranks: dict[str, list[int]] = {s: [] for s in val}
    for c in common:
        for k, s in enumerate(sorted(val, key=lambda s: -val[s][c])):
            ranks[s].append(k + 1)
    mean_rank = {s: float(np.mean(r)) for s, r in ranks.items()}
    winners = [s for s in val if mean_rank[s] == min(mean_rank.values())]
    test = {s: {c: float(scores(rows, f"{s}-{head}", *c, "test").mean()) for c in m} for s, m in val.items()}
    verdict = (
        bundled_verdict(winners[0], SUBJECTS[winners[0]], seeds, val, common) if "clear" in val else None
    )
    return Ranking(head, cells, common, val, test, mean_rank, winners, verdict)


def _bold(value: float, bold: bool) -> str:
    return f"**{value:.3f}**" if bold else f"{value:.3f}"


def compared(rows: list[dict]) -> list[str]:
    """The pretraining methods side by side (frozen encoder) with their ranks and the verdict."""
    lines = []
    for head, title in (("hug", "HUG head"), ("hug-linear", "the paper's linear HUG head"),
                        ("linear", "linear probe")):  # fmt: skip
        rk = rank_methods(rows, head)
        if rk is None:
            continue
        header = " | ".join(f"{t} {f:.0%}" for t, f in rk.cells)
        lines += [f"## Pretraining methods compared: {title} on the frozen encoder", "",
                  "Fold-9 (validation) macro AUROC, mean over seeds: it ranks the methods (bold: the best",
                  "of each column) and decides the verdict. In parentheses the fold-10 (test) macro AUROC,",
                  "reported only. '-': not run.", "",
                  f"| method | {header} | mean fold-9 rank ({len(rk.common)} shared cells) |",
                  "|---|" + "---|" * (len(rk.cells) + 1)]  # fmt: skip
        best = {c: max(m[c] for m in rk.val.values() if c in m) for c in rk.cells}
        for s in sorted(rk.val, key=rk.mean_rank.get):
            vals = ["-" if c not in rk.val[s] else _bold(rk.val[s][c], rk.val[s][c] == best[c])
                    + f" ({rk.test[s][c]:.3f})" for c in rk.cells]  # fmt: skip
            lines.append(f"| {SUBJECTS[s]} | " + " | ".join(vals) + f" | {rk.mean_rank[s]:.2f} |")
        named = " and ".join(f"**{SUBJECTS[s]}**" for s in rk.winners)
        tie = ", tied" if len(rk.winners) > 1 else ""
        lines += [
            "",
            f"Best on this data ({title}, mean fold-9 rank over {len(rk.common)} cells{tie}): {named}.",
        ]
        lines += [rk.verdict, ""] if rk.verdict else [""]
    return lines


def bundled_verdict(winner: str, label: str, seeds: dict, means: dict, cells: list) -> str:
    """Whether the bundled model (a CLEAR encoder) should change: only for a method that beats CLEAR
    on fold 9 in most shared cells by more than the larger seed SD (``CLEAR_GAIN`` where a cell has
    one seed). ``seeds`` and ``means`` are fold-9 macro AUROC."""
    if winner == "clear":
        return (
            "CLEAR, the bundled model's objective, ranks first or shares it: the bundled model stays on "
            "CLEAR (whether a newer CLEAR encoder helps it is `choose`'s call on fold 9: the candidates "
            "above)."
        )
    shared = [c for c in cells if c in means[winner] and c in means["clear"]]

    def noise(c: tuple) -> float:
        sds = [seeds[s, c].std(ddof=1) for s in (winner, "clear") if len(seeds[s, c]) > 1]
        return max(sds) if sds else CLEAR_GAIN

    higher = [c for c in shared if means[winner][c] > means["clear"][c]]
    clearly = [c for c in higher if means[winner][c] - means["clear"][c] > noise(c)]
    change = len(clearly) > len(shared) / 2
    verdict = (f"the bundled model should change to the {label} encoder" if change
               else "that is not enough to change the bundled model (CLEAR)")  # fmt: skip
    return (f"Against CLEAR on fold 9, {label} is higher in {len(higher)} of {len(shared)} shared cells, "
            f"by more than the larger seed SD (one seed: {CLEAR_GAIN}) in {len(clearly)}: "
            f"{verdict}.")  # fmt: skip
