"""PRETRAINING.md (issue 27): the pretext beside its trivial answers, and the verdict on the gain
at 1 % and 10 % of the labels, paired seed by seed on fold 10, from a grid of synthetic models."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from training.data import datasets as D
from training.pretrain.report import write_report
from training.supervised import grid as G
from training.validate import metrics as M

CLASSES = ["A", "B", "C", "D", "E"]
# bootstrap draws of each grid row's logged interval (``metrics.report`` in ``run_grid``), which no
# report here reads: with the session's 200 (tests/conftest.py) they were most of this file's time
GRID_DRAWS = 20


def _split(rng: np.random.Generator, n: int, first: int) -> D.Split:
    y = (rng.random((n, len(CLASSES))) < [0.2, 0.1, 0.25, 0.4, 0.25]).astype(np.float32)
    return D.Split(np.arange(n), y, np.arange(first, first + n))


def _grid(
    run_dir: Path,
    quality: dict[str, float],
    tasks: list[str],
    probe: str = G.PROBE,
    fractions: tuple[float, ...] = (0.01, 0.1),
) -> None:
    """``run_grid`` over synthetic models whose signal strength is ``quality[method]`` (the same
    records are hard for every model, as for real ones), a frozen head's a little higher with more
    updates (``probe``). Each row's own interval is drawn ``GRID_DRAWS`` times: the reports judge
    from the kept predictions (their own draws, ``N_BOOT``), never from a row's logged interval."""
    rng = np.random.default_rng(0)
    val, test = _split(rng, 250, 1), _split(rng, 250, 1001)
    hard = {
        f: np.random.default_rng(k).normal(0, 1, s.y.shape)
        for k, (f, s) in enumerate((("val", val), ("test", test)))
    }

    def run(method: str, task: str, frac: float, seed: int, min_steps: int = 0) -> G.RunOut:
        def probs(split: D.Split, fold: str) -> np.ndarray:
            noise = np.random.default_rng(zlib.crc32(f"{method}/{task}/{frac}/{seed}/{fold}".encode()))
            return 1 / (
                1
                + np.exp(
                    -(
                        3 * quality[method] * (1 + min_steps / 10_000) * split.y
                        - 1.5
                        + hard[fold]
                        + 0.5 * noise.normal(0, 1, split.y.shape)
                    )
                )
            )

        vp = probs(val, "val")
        return G.RunOut(
            round(1000 * frac), M.macro(val.y, vp)[0], CLASSES, val, test, vp, probs(test, "test")
        )

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(M, "N_BOOT", GRID_DRAWS)
        mp.setattr(G, "pretrain", lambda ctx, method="clear": None)
        mp.setattr(G, "features", lambda ctx, encoder, family="beats": (None, None))
        mp.setattr(
            G,
            "_frozen_run",
            lambda ctx, rows, feats, method, task, frac, seed, tag, probe: run(
                method, task, frac, seed, G.PROBES[probe]
            ),
        )
        for m in {m for pair in G.FINETUNE_PAIRS for m in pair}:
            mp.setitem(G.RUNNERS, m, lambda ctx, task, frac, seed, tag, m=m: run(m, task, frac, seed))
        G.run_grid(SimpleNamespace(run_dir=run_dir), tasks, list(fractions), 5, list(quality), probe)


def test_report_logs_the_pretext_and_judges_the_gain(tmp_path: Path) -> None:
    strong = tmp_path / "strong"  # pretraining helps everywhere: super and three other tasks
    _grid(
        strong,
        {"clear-hug": 1.0, "random-hug": 0.6, "finetune": 1.0, "scratch": 1.0},
        ["super", "sub", "form", "rhythm"],
    )
    # LP-FT, better than plain fine-tuning on fold 9 from the pretrained encoder, worse from random
    # weights, on super only
    _grid(strong, {"lpft": 1.2, "scratch-lpft": 0.6}, ["super"])
    # the frozen heads again under another protocol: compared on fold 9, not judged
    _grid(strong, {"clear-hug": 1.0, "random-hug": 0.6}, ["super", "sub"], "z-dim")
    few = tmp_path / "few"  # it helps, but only two other tasks were run: not the bar
    _grid(few, {"clear-hug": 0.9, "random-hug": 0.6}, ["super", "sub", "form"])
    _grid(few, {"finetune": 1.0, "scratch": 0.6}, ["super"], fractions=(0.01,))  # 10 % not run yet
    trivial = {"copy_mse": 0.54, "template_mse": 0.54, "scale_copy_mse": 0.23, "scale_template_mse": 0.23}
    log = [{"phase": "pretrain", "epoch": e, "mse": 0.7 - 0.1 * e, "copy_share": 0.0, "scale_mse": 0.4,
            "seconds": 64.9, **trivial} for e in (1, 2)]  # fmt: skip
    (strong / "metrics.jsonl").write_text("\n".join(map(json.dumps, [{"phase": "finetune"}, *log])))

    info = {"pretrain_s": 1644.2, "pretrain_steps": 3264, "pretrain_loop": {"epochs": 24, "batch_size": 128},
            "hardware": {"cpu": "AMD EPYC", "threads": 2, "gpu": None}}  # fmt: skip
    (strong / "pretrain.json").write_text(json.dumps(info))
    other = tmp_path / "other"  # another objective, pretrained once: no choice among its runs
    _grid(other, {"acl-hug": 0.8, "random-hug": 0.6}, ["super"])
    # another objective with a masked pretext logs it under its own phase (PhysioCLR's lead masking)
    rlm = {"phase": "pretrain-physioclr-rlm", "epoch": 1, "mse": 0.45, "con": 2.0, "seconds": 1500.0,
           "copy_share": 0.0, "copy_mse": 0.54, "template_mse": 0.54}  # fmt: skip
    (other / "metrics.jsonl").write_text(json.dumps(rlm))
    gpu = {"pretrain_s": 176.4, "pretrain_steps": 2740, "pretrain_loop": {"epochs": 20, "batch_size": 128},
           "hardware": {"cpu": "Xeon", "threads": 16, "gpu": "NVIDIA H200"}}  # fmt: skip
    (other / "pretrain-physioclr-rlm.json").write_text(json.dumps(gpu))  # its own phase's, not CLEAR's
    patches = tmp_path / "patches"  # ECG-JEPA: against the random beat encoder and its own family's
    _grid(patches, {"jepa-hug": 0.8, "random-hug": 0.9, "random-patches-hug": 0.6}, ["super"])
    # no trivial answer to log: its loss beside its collapse check
    jepa_log = {"phase": "pretrain-jepa", "epoch": 3, "loss": 0.115, "lr": 1e-3, "world": 1,
                "smooth_l1": 0.115, "momentum": 0.997, "target_spread": 0.538, "seconds": 284.9}  # fmt: skip
    (patches / "metrics.jsonl").write_text(json.dumps(jepa_log))
    md = write_report([strong, few, other, patches], tmp_path / "out" / "PRETRAINING.md").read_text()
    jepa = [line for line in md.splitlines() if line.startswith("- ECG-JEPA")]
    assert len(jepa) == 2
    assert jepa[0].startswith("- ECG-JEPA, HUG head (frozen encoder) against random init, HUG (frozen")
    assert "`super` not met at 1%, not met at 10%" in jepa[0]
    assert jepa[1].startswith("- ECG-JEPA, HUG head (frozen encoder) against random init, patch encoder")
    assert "`super` met at 1%, met at 10%" in jepa[1]
    assert (
        "**`other`** (`physioclr-rlm`): 20 epochs x 128 records, 2740 updates, "
        "176 s on Xeon (16 threads, GPU NVIDIA H200)" in md
    )
    assert "| 1 | 0.450 | 0.540 | 0.540 | 0.000 | - | - | - | 1500 |" in md
    assert "| epoch | loss | smooth l1 | momentum | target spread | s |" in md
    assert "| 3 | 0.115 | 0.115 | 0.997 | 0.538 | 285 |" in md
    assert (
        "**`strong`**: 24 epochs x 128 records, 3264 updates, 1644 s on AMD EPYC (2 threads, GPU None)" in md
    )
    assert "| 2 | 0.500 | 0.540 | 0.540 | 0.000 | 0.400 | 0.230 | 0.230 | 65 |" in md
    protocols = md.split("## The frozen heads' protocol (fold 9): `strong`")[1].split("##")[0]
    assert "40 cells (method, task, fraction, seed) under every protocol" in protocols
    table = [line.split(" | ") for line in protocols.splitlines() if line.startswith("| `")]
    assert [r[0] for r in table] == ["| `z-dim`", "| `z-dim-steps2000` (reported)"]
    assert [r[1] for r in table] == ["0", "2,000"] and float(table[1][-1][:6]) > float(table[0][-1][:6])
    assert "## The frozen heads' protocol (fold 9): `few`" not in md  # one protocol only
    rows = [line for line in md.splitlines() if line.startswith("| CLEAR-HUG (frozen encoder) beats")]
    assert len(rows) == 2 * (4 + 3) and all(r.endswith("| met |") for r in rows)
    assert "| 5 of 5 |" in rows[0]
    verdicts = [line for line in md.splitlines() if line.startswith("- ")]
    frozen_bar, tuned_bar = ("(the bar: `super` and 3 other tasks at both fractions)",
                             "(the bar: `super` at both fractions)")  # fmt: skip
    assert verdicts[0].startswith("- CLEAR-HUG (frozen encoder) against random init")
    assert verdicts[0].endswith(
        f"on 3 of 3 other tasks run (sub, form, rhythm): **gain proved** {frozen_bar}"
    )
    assert "`super` met at 1%, met at 10%; met at both" in verdicts[0]
    # fold 9 picks LP-FT from the pretrained encoder and plain training from random weights: both
    # recipes' pairs are judged, and the pair of the two chosen sides too
    other = " (not the pair fold 9 chose)"
    assert verdicts[1].startswith(f"- CLEAR, full fine-tune against supervised from scratch{other}: ")
    assert verdicts[1].endswith(f"**gain not proved** {tuned_bar}")  # the same quality from random weights
    lpft = "CLEAR, LP-FT (frozen HUG head, then full fine-tune)"
    assert verdicts[2].startswith(
        f"- {lpft} against random init, LP-FT (frozen HUG head, then full fine-tune){other}"
    )
    assert verdicts[3].startswith(
        f"- {lpft} against supervised from scratch (each side's recipe chosen on fold 9)"
    )
    # fine-tuning's bar is `super` at both label fractions: met without the other tasks
    for v in verdicts[2:4]:
        assert "`super` met at 1%, met at 10%; met at both on 0 of 0" in v
        assert v.endswith(f"**gain proved** {tuned_bar}")
    recipes = md.split("## The fine-tuning recipe (fold 9): `strong`")[1].split("##")[0]
    assert "logged: 10 from the pretrained encoder, 10 from random weights" in recipes
    marks = [line.split(" | ")[2::2] for line in recipes.splitlines() if line.startswith("| CLEAR")]
    assert marks == [["", "chosen |"], ["chosen", " |"]]
    assert "## The fine-tuning recipe (fold 9): `few`" not in md  # one recipe only
    assert verdicts[4].endswith(f"on 2 of 2 other tasks run (sub, form): **gain not proved** {frozen_bar}")
    choice = md.split("## The encoder whose gains are judged (fold 9)")[1].split("##")[0]
    assert "`clear`: 30 cells (pretrained frozen heads, below 100 % of the labels)" in choice
    assert "`acl`" not in choice
    assert [line.split(" | ")[0::2] for line in choice.splitlines() if line.startswith("| `")] == [
        ["| `strong`", "chosen |"],
        ["| `few`", " |"],
    ]
    assert "## The gain at 1 % and 10 % of the labels (fold 10): `strong` (chosen on fold 9)" in md
    assert "## The gain at 1 % and 10 % of the labels (fold 10): `few` (not chosen)" in md
    assert "## The gain at 1 % and 10 % of the labels (fold 10): `other`\n" in md
    (acl,) = [v for v in verdicts if v.startswith("- ACL-ECG")]
    assert "`super` met at 1%, met at 10%" in acl
    assert (
        verdicts[5].startswith("- CLEAR, full fine-tune against supervised from scratch:")
        and "`super` met at 1%, not run at 10%" in verdicts[5]
    )


def test_results_goals_carry_the_other_tasks_and_the_verdict(tmp_path: Path) -> None:
    """RESULTS.md's Goals hold issue 27's whole bar: the `super` pairs, the other tasks' pairs
    (named by task) and the verdict of each comparison, as PRETRAINING.md judges it."""
    from training.reports.results import write_results

    run = tmp_path / "run"
    _grid(run, {"clear-hug": 0.8, "random-hug": 0.6}, ["super", "sub", "form", "rhythm"])
    md = write_results([run], tmp_path / "RESULTS.md").read_text()
    goals = md.split("## Goals")[1].split("\n## ")[0]
    rows = [line for line in goals.splitlines() if line.startswith("| CLEAR-HUG (frozen encoder) beats")]
    assert len(rows) == 2 * 4 and [r.count("(`") for r in rows].count(1) == 2 * 3
    assert all(r.endswith("| met |") for r in rows)
    assert "met at both on 3 of 3 other tasks run (sub, form, rhythm): **gain proved** (the bar" in goals


def test_results_goals_carry_another_objectives_main_task(tmp_path: Path) -> None:
    """Another objective's `super` pairs (ECG-JEPA against both random-init encoders) are in the
    Goals beside its verdicts: only CLEAR's have rows of their own above."""
    from training.reports.results import write_results

    run = tmp_path / "run"
    quality = {"jepa-hug": 0.8, "random-patches-hug": 0.6, "random-hug": 0.6}
    _grid(run, quality, ["super", "sub", "form", "rhythm"])
    goals = write_results([run], tmp_path / "RESULTS.md").read_text().split("## Goals")[1].split("\n## ")[0]
    rows = [line for line in goals.splitlines() if line.startswith("| ECG-JEPA") and "(`super`)" in line]
    for base in ("random init, patch encoder", "random init, HUG"):
        assert len([r for r in rows if f"beats {base}" in r]) == 2, base
    assert goals.count("**gain proved**") == 2
