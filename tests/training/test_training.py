"""The training package: a tiny end-to-end run through the CLI (export, model card, evaluate,
grid, RESULTS.md), DDP on CPU, the offline PhysioNet download, PTB-XL labels and the metrics.

The commands run in the test process (``training_main``: a child process spent 3-5 s of CPU
starting up), the DDP run in child processes; both at one torch thread (``OMP_NUM_THREADS=1`` for the
children): on a small machine torch's default thread count oversubscribes the cores and makes the
tiny preset several times slower.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.conftest import training_env as _env
from tests.conftest import training_main as _main
from training.supervised.grid import PROBE

SUPER = {"NORM", "MI", "STTC", "CD", "HYP"}


def _parse_ranges(text: str) -> list[int]:
    """Inverse of ``training.data.datasets.id_ranges`` ("1-3,5" -> [1, 2, 3, 5])."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


# --------------------------------------------------------------------------- tiny run (once)
@dataclass
class TinyRun:
    root: Path
    data_root: Path
    run_dir: Path
    cache_dir: Path
    weights: Path
    stdout: str

    @property
    def card(self) -> dict:
        return json.loads(self.weights.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def _tiny_state(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {"root": tmp_path_factory.mktemp("tiny")}


@pytest.fixture
def tiny(shared: Path, tiny_seed: Path, _tiny_state: dict) -> TinyRun:
    """The session's tiny run (``tiny_seed``), copied afresh for each module, whose tests add to its
    run directory, token cache and model: the paths the command wrote into its output and
    ``run.json`` are moved to the copy's (the card keeps the command as it was run), and its
    fold-10 reads are added to this process's ledger."""
    if "run" not in _tiny_state:
        root: Path = _tiny_state["root"]
        shutil.copytree(tiny_seed, root, dirs_exist_ok=True)
        moved = lambda text: text.replace(str(tiny_seed), str(root))  # noqa: E731
        (root / "run" / "run.json").write_text(moved((root / "run" / "run.json").read_text()))
        ledger, reads = Path(os.environ["TRAINING_LEDGER"]), (tiny_seed / "FOLD10.md").read_text()
        if reads not in (ledger.read_text() if ledger.is_file() else ""):
            with ledger.open("a") as f:
                f.write(reads)
        weights = root / "model" / "clear-hug-tiny.safetensors"
        stdout = moved((root / "stdout.txt").read_text())
        _tiny_state["run"] = TinyRun(root, shared, root / "run", root / "cache", weights, stdout)
    return _tiny_state["run"]


def test_tiny_run_exports_loadable_model_with_card(tiny: TinyRun) -> None:
    """The end-to-end run writes weights + JSON/Markdown card that the app can load, and the
    card states what the app and a reader rely on (hash, intended use, contract, thresholds,
    the surfacing rule, and fine-tuning ids that never touch the validation or test folds)."""
    from ecgviewer.ml import contract
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.weights import sha256
    from training.data.datasets import TRAIN_FOLDS, load_labels
    from training.supervised.export import SURFACE_MIN_AUROC, SURFACE_MIN_SUPPORT

    w = tiny.weights
    for path in (w, w.with_suffix(".json"), w.with_suffix(".md")):
        assert path.is_file() and path.stat().st_size > 0, path
    summary = json.loads(tiny.stdout.strip().splitlines()[-1])
    assert Path(summary["weights"]) == w
    assert (tiny.run_dir / "encoder.safetensors").is_file()
    assert json.loads((tiny.run_dir / "run.json").read_text())["weights"] == str(w)

    loaded = load_model(w)
    assert set(loaded.classes) == {"super", "all"}
    assert set(loaded.classes["super"]) == SUPER and len(loaded.classes["super"]) == 5
    assert len(loaded.classes["all"]) == len(set(loaded.classes["all"])) == 71

    card = tiny.card
    assert loaded.card == card
    assert card["weights_sha256"] == sha256(w) == hashlib.sha256(w.read_bytes()).hexdigest()
    use = card["intended_use"].lower()
    assert "research use" in use and "not a medical device" in use
    assert card["intended_use"] in w.with_suffix(".md").read_text()
    assert card["contract"]["version"] == contract.CONTRACT_VERSION
    assert card["preset"] == "tiny"
    assert set(card["labels"]) == {"super", "all"}
    for task, lab in card["labels"].items():
        assert lab["classes"] == loaded.classes[task]
        thr = lab["thresholds"]
        assert set(thr) == set(lab["classes"]) and all(0 <= t <= 1 for t in thr.values()), task
        val = lab["val"]
        expected = [
            c
            for c in lab["classes"]
            if (val["per_class_auroc"][c] or 0) >= SURFACE_MIN_AUROC
            and val["support"][c] >= SURFACE_MIN_SUPPORT
        ]
        assert lab["surfaced"] == expected, task
        for c in lab["surfaced"]:
            assert val["per_class_auroc"][c] >= SURFACE_MIN_AUROC
            assert val["support"][c] >= SURFACE_MIN_SUPPORT
        assert 0 <= lab["test"]["auroc"] <= 1

    labels = load_labels(tiny.data_root / "ptbxl")
    fold = dict(zip(labels.ecg_id.tolist(), labels.fold.tolist(), strict=True))
    ids = _parse_ranges(card["data"]["finetune_ecg_ids"])
    assert ids and len(ids) == len(set(ids))
    assert not [i for i in ids if fold[i] in (9, 10)]
    assert {fold[i] for i in ids} <= set(TRAIN_FOLDS)
    assert card["data"]["records_on_disk"] == 300
    t = card["timings"]  # phase times come from the cache and the logs, so they survive resumes
    phases = [t[k] for k in ("tokenise_s", "pretrain_s", "finetune_s", "export_s")]
    assert all(v > 0 for v in phases) and t["total_s"] == pytest.approx(sum(phases), abs=0.11)
    assert card["data"]["validation_records"] > 0 and card["data"]["test_records"] > 0


def test_tiny_evaluate_reproduces_card(tiny: TinyRun) -> None:
    """``python -m training evaluate`` recomputes the card's test AUROC from the saved file, so
    the numbers in a card can be checked by anyone holding the weights."""
    said = _main("evaluate", "--preset", "tiny", "--model", tiny.weights, "--task", "super", "--split",
                 "test", "--data-root", tiny.data_root, "--cache-dir", tiny.cache_dir,
                 "--no-progress")  # fmt: skip
    out = json.loads(said)
    test = tiny.card["labels"]["super"]["test"]
    assert out["auroc"] == pytest.approx(test["auroc"], abs=1e-9)
    assert out["n"] == test["n"] and out["support"] == test["support"]
    # both reads of fold 10, the export's and this one, are in the (tests' own) ledger
    from ecgviewer.weights import sha256

    lines = Path(os.environ["TRAINING_LEDGER"]).read_text().splitlines()
    ours = [line for line in lines if f"| {sha256(tiny.weights)[:12]} | super |" in line]
    assert any("card (export)" in line for line in ours) and any("(`evaluate`)" in line for line in ours)


def test_evaluate_gives_the_card_of_the_same_weights_its_intervals(tiny: TinyRun, tmp_path: Path) -> None:
    """``evaluate --card`` gives a card written with an earlier bootstrap its intervals again: the
    point must be the card's own, else (other weights, data or contract) it is refused."""
    import shutil

    from training.supervised.export import card_report

    w = tmp_path / tiny.weights.name
    for suffix in (".safetensors", ".json", ".md"):
        shutil.copy(tiny.weights.with_suffix(suffix), w.with_suffix(suffix))
    card = json.loads(w.with_suffix(".json").read_text())
    card["labels"]["super"]["test"]["auroc_ci"] = [0.0, 0.0]  # a stale interval
    w.with_suffix(".json").write_text(json.dumps(card))
    _main("evaluate", "--preset", "tiny", "--model", w, "--task", "super", "--split", "test", "--card",
          "--n-boot", "100", "--data-root", tiny.data_root, "--cache-dir", tiny.cache_dir,
          "--no-progress")  # fmt: skip
    new = json.loads(w.with_suffix(".json").read_text())["labels"]["super"]["test"]
    assert new["auroc"] == pytest.approx(card["labels"]["super"]["test"]["auroc"], abs=1e-9)
    lo, hi = new["auroc_ci"]
    assert lo < new["auroc"] < hi and new["n_boot"] == 100 and "left_out_share" in new
    said = w.with_suffix(".md").read_text()
    assert f"{new['auroc']:.3f} ({lo:.3f}-{hi:.3f})" in said
    assert f"left out of it: {100 * new['left_out_share']:.0f} % of fold 10's" in said
    other = new | {"auroc": new["auroc"] + 0.01}
    with pytest.raises(ValueError, match="not the figures the card was written from"):
        card_report(w, "super", "test", other)


def test_a_candidate_card_does_not_read_fold_10(tiny: TinyRun) -> None:
    """``run --fold9-only``: the card says fold 10 was not read rather than show a figure."""
    from training.supervised.card import markdown

    card = tiny.card
    card["labels"] = {t: lab | {"test": None} for t, lab in card["labels"].items()}
    text = markdown(card)
    assert "Test (fold 10): not read" in text and "Test (fold 10, n=" not in text


def test_shipping_a_candidate_reads_its_fold_10_once_and_keeps_its_provenance(
    tiny: TinyRun, tmp_path: Path
) -> None:
    """``python -m training ship``: a candidate's card (fold 9 only) gets its fold-10 figures, read
    and logged now; the weights are copied byte for byte; the command and hardware stay those of the
    run that trained it; a card of other weights is refused."""
    from ecgviewer.weights import sha256

    cand = tmp_path / "cand" / "candidate.safetensors"
    cand.parent.mkdir()
    cand.write_bytes(tiny.weights.read_bytes())
    card = tiny.card
    card["labels"] = {t: lab | {"test": None} for t, lab in card["labels"].items()}
    # continued from a model whose card sits in the folder it ships to: its pretraining data is inherited
    (tmp_path / "out").mkdir()
    start = tmp_path / "out" / "start.safetensors"
    start.write_bytes(b"the start")
    start.with_suffix(".json").write_text(json.dumps({"weights_sha256": sha256(start), "data": {
        "pretrain_ecg_ids": "1-9", "unlabelled_pretraining": ["ludb"]}}))  # fmt: skip
    card["training"]["start"] = {"file": start.name, "sha256": sha256(start)}
    card["data"]["unlabelled_pretraining"] = []
    cand.with_suffix(".json").write_text(json.dumps(card))
    common = (
        "--preset",
        "tiny",
        "--data-root",
        tiny.data_root,
        "--cache-dir",
        tiny.cache_dir,
        "--no-progress",
    )
    _main("ship", *common, "--model", cand, "--out", tmp_path / "out", "--name", "shipped",
          "--chosen", "a test's fold-9 rule")  # fmt: skip
    shipped = tmp_path / "out" / "shipped.safetensors"
    assert shipped.read_bytes() == tiny.weights.read_bytes()
    out = json.loads(shipped.with_suffix(".json").read_text())
    assert out["name"] == "shipped" and out["command"] == tiny.card["command"]
    assert out["data"]["unlabelled_pretraining"] == ["ludb"] and out["data"]["pretrain_ecg_ids"] == "1-9"
    assert out["labels"]["super"]["test"]["auroc"] == pytest.approx(
        tiny.card["labels"]["super"]["test"]["auroc"]
    )
    text = shipped.with_suffix(".md").read_text()
    assert (
        "candidate `candidate.safetensors`, chosen by a test's fold-9 rule" in text and "not read" not in text
    )
    lines = Path(os.environ["TRAINING_LEDGER"]).read_text().splitlines()
    assert any(f"| {sha256(shipped)[:12]} | super |" in line and "card (ship)" in line for line in lines)
    card["weights_sha256"] = "0" * 64
    cand.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="its card describes other weights"):
        _main("ship", *common, "--model", cand, "--out", tmp_path / "out2", "--chosen", "-")
    assert not (tmp_path / "out2" / "clear-hug-bundled.safetensors").exists()


def test_tiny_model_predicts_probabilities_on_real_record(tiny: TinyRun) -> None:
    """The app's path: a real record (500 Hz, so resampled) through the contract's tokeniser
    and the loaded model gives one probability in [0, 1] per class."""
    import torch
    import wfdb

    from ecgviewer.leads import canonical_lead
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.ml.contract import tokenise

    rec = wfdb.rdrecord(str(tiny.data_root / "ptbxl/records500/00000/00001_hr"))
    tok = tokenise(rec.p_signal.T, rec.fs, [canonical_lead(n) for n in rec.sig_name])
    loaded = load_model(tiny.weights)
    with torch.no_grad():
        logits = loaded.model(*(torch.from_numpy(a) for a in (tok.values, tok.pad, tok.local_rpeaks)))
    for task, classes in loaded.classes.items():
        p = torch.sigmoid(logits[task]).numpy()
        assert p.shape == (tok.n_windows, len(classes))
        assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()


def test_grid_and_results(tiny: TinyRun) -> None:
    """The comparison grid on the tiny run: the expected rows (at least 5 seeds below 100 % though 2
    were asked for, one at 100 %; 100 % fine-tuning taken from the bundled model, not retrained),
    each row's saved predictions, RESULTS.md, and resumability. ``grid`` and ``results`` run in this
    process (``training_main``): a child process spent 3 s of its 3.5 starting up."""
    from training.supervised.grid import MIN_SEEDS, load_preds
    from training.validate import metrics as M

    args = ["--preset", "tiny", "--run-dir", tiny.run_dir, "--cache-dir", tiny.cache_dir,
            "--data-root", tiny.data_root, "--tasks", "super", "--fractions", "0.1,1.0", "--seeds", "2",
            "--methods", "clear-linear,random-hug,finetune,scratch-noamp", "--no-progress"]  # fmt: skip
    _main("grid", *args)
    grid = tiny.run_dir / "grid.jsonl"
    text = grid.read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    keys = [(r["method"], r["task"], r["fraction"], r["seed"]) for r in rows]
    methods = ("clear-linear", "random-hug", "finetune", "scratch-noamp")
    expected = {
        (m, "super", f, s) for m in methods for f, s in [*((0.1, s) for s in range(MIN_SEEDS)), (1.0, 0)]
    }
    assert len(keys) == len(set(keys)) and set(keys) == expected
    for r in rows:
        t = r["test"]
        assert 0 <= t["auroc"] <= 1, r
        lo, hi = t["auroc_ci"]
        assert 0 <= lo <= hi <= 1, r
        assert r["n_train"] > 0
    by = {(r["method"], r["fraction"], r["seed"]): r for r in rows}
    assert by[("clear-linear", 0.1, 0)]["n_train"] < by[("clear-linear", 1.0, 0)]["n_train"]

    card = tiny.card["labels"]["super"]
    ft = by[("finetune", 1.0, 0)]
    assert ft["test"]["auroc"] == pytest.approx(card["test"]["auroc"], abs=1e-9)
    assert ft["bundled"] == tiny.weights.name and "bundled" not in by[("finetune", 0.1, 0)]
    ledger = Path(os.environ["TRAINING_LEDGER"]).read_text()  # the model's fold-10 read names its hash
    assert f"| {ft['weights_sha256'][:12]} | super | macro AUROC {ft['test']['auroc']:.4f} |" in ledger
    for r in rows:  # the row's predictions reproduce its fold-9 and fold-10 scores
        preds = load_preds(r | {"preds": tiny.run_dir / "preds" / r["preds"]})
        assert list(preds["classes"]) == sorted(SUPER) and r["epoch"] >= 1
        assert M.macro(preds["test_y"], preds["test_probs"])[0] == pytest.approx(r["test"]["auroc"], abs=1e-9)
        assert M.macro(preds["val_y"], preds["val_probs"])[0] == pytest.approx(r["val_auroc"], abs=1e-6)
    phases = {json.loads(line)["phase"] for line in (tiny.run_dir / "metrics.jsonl").read_text().splitlines()}
    assert "grid-finetune-super-1.0-0" not in phases  # the bundled model, not a new training
    assert {"grid-finetune-super-0.1-0", "grid-finetune-super-0.1-1"} <= phases
    log = [json.loads(line) for line in (tiny.run_dir / "metrics.jsonl").read_text().splitlines()]
    small = [r for r in log if r["phase"] == "grid-scratch-noamp-super-0.1-0"]
    assert len(small) == 1  # tiny fine-tunes 1 epoch: 10 % labels repeated, not more evaluations
    assert len(list(tiny.run_dir.glob("features-*.pt"))) == 2  # frozen features kept for re-runs

    out = tiny.root / "RESULTS.md"
    said = _main("results", "--runs", tiny.run_dir, "--out", out, "--shipped", tiny.weights)
    assert said.strip() == str(out)
    md = out.read_text()
    assert "## Bundled model `clear-hug-tiny`" in md
    assert any(line.startswith("| CLEAR, linear probe (frozen) |") for line in md.splitlines())
    assert any(line.startswith("| CLEAR, full fine-tune |") for line in md.splitlines())
    assert "## Goals" in md and "| bundled model `clear-hug-tiny` >= 0.925 | 100% |" in md
    assert "## `super`: per-class AUROC" in md and "| HYP |" in md.replace(" | ", " |\n| ")

    _main("grid", *args)  # resumable: every row is already there
    assert grid.read_text() == text
    assert all(r.get("probe") == PROBE for r in rows if r["method"] in ("clear-linear", "random-hug"))

    # a row of the first grids' raw-feature probe neither counts as done nor reaches RESULTS.md
    old = {k: v for k, v in by[("clear-linear", 0.1, 0)].items() if k != "probe"} | {"seed": 2}
    old["test"] = old["test"] | {"auroc": 0.0123}
    with grid.open("a") as fh:
        fh.write(json.dumps(old) + "\n")
    _main("results", "--runs", tiny.run_dir, "--out", out, "--shipped", tiny.weights)
    assert out.read_text().split("Hardware of this machine")[0] == md.split("Hardware of this machine")[0]


def test_scaling_snapshots_probes_and_table(tiny: TinyRun, tmp_path: Path) -> None:
    """``scaling`` on the tiny data with lead-group masking: the encoder saved after each listed
    epoch (and differing between them), one fold-9 row per epoch (0 = random init), task and seed,
    resumable, the trivial baselines in the pretraining log, the table's paired column and plot."""
    from dataclasses import replace

    import torch
    from safetensors.torch import load_file

    from training.context import Context
    from training.engine import LoopConfig, hardware
    from training.presets import PRESETS
    from training.pretrain.pretraining import encoder_path, pretrain_phase, snapshot_path
    from training.pretrain.report import write_report
    from training.pretrain.scaling import (
        compute_table,
        ran_on,
        run_label,
        run_scaling,
        scaling_table,
        size_table,
        sized,
    )
    from training.reports.results import SEVERAL_MACHINES, _pretraining, scaling_section

    base = PRESETS["tiny"]
    preset = replace(base, pretrain=LoopConfig(epochs=9, batch_size=32, lr=1e-3),
                     decoder=replace(base.decoder, masking="groups", amplitude=1.0))  # fmt: skip
    ctx = Context(tiny.data_root, tmp_path / "run", tiny.cache_dir, preset, progress=False)
    with pytest.raises(ValueError, match="each at least 1"):
        run_scaling(ctx, "clear", [0, 2], ["super"], 1)
    ctx = sized(ctx, "64x1")
    assert ctx.run_dir == tmp_path / "run" / "64x1" and ctx.preset.encoder.heads == 2
    assert (ctx.preset.patch.dim, ctx.preset.patch.depth, ctx.preset.patch.heads) == (64, 1, 2)
    from ecgviewer.ml.patches import PatchEncoder
    from training.pretrain.scaling import _parameters

    shape = {"method": "jepa", "encoder": ctx.preset.patch.to_dict()}
    assert _parameters(shape) == sum(p.numel() for p in PatchEncoder(ctx.preset.patch).parameters())
    out = run_scaling(ctx, "clear", [1, 2], ["super"], 2, probe=False)  # the snapshots, no rows
    assert snapshot_path(ctx.run_dir, "clear", 1).is_file() and not out.exists()
    out = run_scaling(ctx, "clear", [1, 2], ["super"], 2)
    text = out.read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert sorted((r["epoch"], r["seed"]) for r in rows) == [(e, s) for e in (0, 1, 2) for s in (0, 1)]
    assert all(r["task"] == "super" and 0 <= r["val_auroc"] <= 1 and r["encoder"]["dim"] == 64 for r in rows)
    assert {r["masking"] for r in rows} == {"groups"}
    one, two = (load_file(snapshot_path(ctx.run_dir, "clear", e)) for e in (1, 2))
    final = load_file(encoder_path(ctx.run_dir, "clear"))
    assert not all(torch.equal(one[k], two[k]) for k in one)
    assert all(torch.equal(two[k], final[k]) for k in two)
    log = [json.loads(line) for line in (ctx.run_dir / "metrics.jsonl").read_text().splitlines()]
    pre = [r for r in log if r["phase"] == "pretrain"]
    assert len(pre) == 2 and all(r["copy_share"] == 0 and r["template_mse"] > 0 for r in pre)
    assert all("scale_copy_mse" in r for r in pre)
    assert all(r["hardware"] == hardware() and r["bf16"] is False for r in pre)  # each epoch's machine
    assert run_scaling(ctx, "clear", [1, 2], ["super"], 2).read_text() == text  # resumes: nothing new

    assert {r["schedule"] for r in rows} == {2}
    # the same pretraining run twice (a copy): two curves, the second named with its run
    again = tmp_path / "again"
    shutil.copytree(ctx.run_dir, again)
    twice = scaling_table([ctx.run_dir, again])[1]["super"]
    assert set(twice) == {"clear (groups+amplitude 1) 64x1, 2-epoch schedule",
                          "clear (groups+amplitude 1) 64x1, 2-epoch schedule, run again"}  # fmt: skip
    assert run_label(ctx.run_dir) == "run/64x1" and run_label(again) == "again"
    # the same snapshots from a longer schedule (a copied run, its rows relabelled): another curve
    longer = tmp_path / "longer"
    shutil.copytree(ctx.run_dir, longer)
    relabelled = [json.dumps({**r, "schedule": 4}) for r in rows]
    (longer / "scaling.jsonl").write_text("\n".join(relabelled) + "\n")
    lines, points = scaling_table([ctx.run_dir, longer])
    name = "clear (groups+amplitude 1) 64x1, 2-epoch schedule"
    table = [line for line in lines if line.startswith(f"| {name} |")]
    assert [line.split(" | ")[1] for line in table] == ["0", "1", "2"]
    assert table[0].endswith("| - |") and all("[" in line.split(" | ")[-1] for line in table[1:])
    assert [e for e, _, _ in points["super"][name]] == [0, 1, 2]
    assert [e for e, _, _ in points["super"][name.replace("2-epoch", "4-epoch")]] == [0, 1, 2]
    # at equal compute: the copy's second epoch logged as 1,000x slower, so at the shorter run's whole
    # pretraining time its nearest snapshot is the first, about half that: too far to be read there
    spent = [sum(r["seconds"] for r in pre[:k]) for k in (1, 2)]
    log_rows = [json.loads(line) for line in (longer / "metrics.jsonl").read_text().splitlines()]

    def logged(first: float) -> None:  # the copy's log again, its epochs' last records re-timed
        slow = [r | {"seconds": first if r["epoch"] == 1 else r["seconds"] * 1000}
                if r["phase"] == "pretrain" else r for r in log_rows]  # fmt: skip
        (longer / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in log_rows + slow) + "\n")

    logged(spent[0])
    assert compute_table([ctx.run_dir, longer])[0] == []
    logged(spent[1])  # its first epoch as long as the shorter run's two: read there
    # the same run logged as pretrained on a GPU (another 8-epoch curve): its seconds are not compared
    on_gpu = tmp_path / "on-gpu"
    shutil.copytree(ctx.run_dir, on_gpu)
    (on_gpu / "scaling.jsonl").write_text("\n".join(json.dumps({**r, "schedule": 8}) for r in rows) + "\n")
    info = json.loads((on_gpu / "pretrain.json").read_text())
    info["hardware"]["gpu"] = "NVIDIA H200"
    (on_gpu / "pretrain.json").write_text(json.dumps(info))
    on_h200 = [r | {"hardware": info["hardware"]} if r["phase"] == "pretrain" else r for r in log]
    (on_gpu / "metrics.jsonl").write_text("\n".join(map(json.dumps, on_h200)) + "\n")
    compute, by_time = compute_table([ctx.run_dir, longer, on_gpu])
    read = {c[0][2:]: (c[1], c[2], c[3].split(", ")[1]) for c in (line.split(" | ") for line in compute)
            if c[0].startswith("| clear")}  # fmt: skip
    assert read == {name: ("2", f"{spent[1]:,.0f}", "fp32"),
                    name.replace("2-epoch", "4-epoch"): ("1", f"{spent[1]:,.0f}", "fp32")}  # fmt: skip
    here = json.loads((ctx.run_dir / "pretrain.json").read_text())["hardware"]
    machine = f"{here['cpu']}, {here['threads']} threads"
    assert [line for line in compute if line.startswith("**")] == [
        f"**super**, 64x1 encoders on {machine}: budget {spent[1]:,.0f} s (fold 9, frozen hug probe)"
    ]
    assert [x for x, _, _ in by_time["super"][f"{name} on {machine}"]] == pytest.approx([0, *spent])
    # the same run resumed with other threads at its second epoch (a copy, a 3-epoch curve): its
    # seconds add up two machines', so it enters no equal-compute table, and its cost says so
    resumed = tmp_path / "resumed"
    shutil.copytree(ctx.run_dir, resumed)
    (resumed / "scaling.jsonl").write_text("\n".join(json.dumps({**r, "schedule": 3}) for r in rows) + "\n")
    assert len(compute_table([ctx.run_dir, longer, resumed])[1]["super"]) == 3  # one machine: it enters
    moved = [r | {"hardware": here | {"threads": 16}} if r["phase"] == "pretrain" and r["epoch"] == 2 else r
             for r in log]  # fmt: skip
    (resumed / "metrics.jsonl").write_text("\n".join(map(json.dumps, moved)) + "\n")
    assert ran_on(resumed, "clear") is None and ran_on(ctx.run_dir, "clear") == (
        machine,
        f"{here['threads']} threads, fp32",
    )
    assert compute_table([ctx.run_dir, longer, on_gpu, resumed]) == (compute, by_time)
    assert SEVERAL_MACHINES in "\n".join(_pretraining([resumed], []))
    assert SEVERAL_MACHINES not in "\n".join(_pretraining([ctx.run_dir], []))
    # the same run at another encoder size (a copy, its rows relabelled 32x1): one family, two sizes
    other = tmp_path / "other-size"
    shutil.copytree(ctx.run_dir, other)
    smaller = [json.dumps({**r, "encoder": {**r["encoder"], "dim": 32, "heads": 1}}) for r in rows]
    (other / "scaling.jsonl").write_text("\n".join(smaller) + "\n")
    sizes, by_size = size_table([ctx.run_dir, other])
    family = "clear (groups+amplitude 1), 2-epoch schedule"
    ends = points["super"][name][0][1], points["super"][name][-1][1]  # epoch 0 and the last snapshot
    assert [(size, (base, end)) for size, _, base, end in by_size["super"][family]] == [
        ("32x1", ends),
        ("64x1", ends),
    ]
    table = [line.split(" | ") for line in sizes if line.startswith(f"| {family} |")]
    assert [cells[1] for cells in table] == ["32x1", "64x1"] and all("[" in cells[-2] for cells in table)
    # the smaller size against the family's largest, paired (the copy's predictions: no difference)
    assert table[0][-1] == "+0.0000 [+0.0000, +0.0000] |" and table[1][-1] == "- |"
    assert int(table[0][2].replace(",", "")) < int(table[1][2].replace(",", ""))
    section = scaling_section(
        [tiny.run_dir, ctx.run_dir, other, longer], tmp_path / "figures" / "scaling.png"
    )
    assert section[0] == "## Pretraining scaling (fold 9)"
    assert "![fold-9 AUROC against pretraining epochs](figures/scaling.png)" in section
    assert "![fold-9 AUROC against encoder parameters](figures/scaling-size.png)" in section
    assert "![fold-9 AUROC against pretraining wall-clock](figures/scaling-time.png)" in section
    figures = ("scaling.png", "scaling-size.png", "scaling-time.png")
    assert all((tmp_path / "figures" / f).stat().st_size > 1000 for f in figures)
    alone = scaling_section([ctx.run_dir], tmp_path / "one.png")
    assert not any("width and depth" in line or "equal compute" in line for line in alone)
    report = write_report([ctx.run_dir], tmp_path / "report" / "PRETRAINING-64x1.md").read_text()
    assert "(figures/pretraining-64x1-scaling.png)" in report  # beside PRETRAINING.md's own figures
    assert (tmp_path / "report" / "figures" / "pretraining-64x1-scaling.png").is_file()
    # another objective's curve in the same run folder: its own snapshots, time and rows
    run_scaling(ctx, "acl", [1], ["super"], 1)
    assert snapshot_path(ctx.run_dir, "acl", 1).is_file()
    with (ctx.run_dir / "metrics.jsonl").open("a") as log:  # its epoch as long as CLEAR's two, for sure
        log.write(json.dumps({"phase": pretrain_phase("acl"), "epoch": 1, "seconds": spent[1]}) + "\n")
    compute, _ = compute_table([ctx.run_dir])
    named = [line.split(" | ")[0] for line in compute if line.startswith("| ")][1:]
    assert sorted(named) == ["| acl 64x1, 1-epoch schedule", f"| {name}"]


def test_equal_compute_reads_each_curve_at_its_snapshot_nearest_the_budget() -> None:
    """Whole-epoch snapshots: a curve 0.1 s over the budget is read at its end, not an epoch early
    at two thirds of it (this session's ECG-JEPA against ACL-ECG's 788 s); nearness is a ratio.
    Runs sized to one budget share its table; a run at least twice as long opens another."""
    from training.pretrain.scaling import budgets, nearest_epoch

    jepa = {0: 0.0, 1: 284.3, 2: 572.4, 3: 867.3}
    assert nearest_epoch(jepa, 788.3) == 3
    assert nearest_epoch(jepa, 450.0) == 2  # 572/450 = 1.27 is nearer than 450/284 = 1.58
    assert nearest_epoch(jepa, 10_000.0) == 3 and nearest_epoch(jepa, 1.0) == 1
    with pytest.raises(ValueError, match="no pretrained snapshot"):
        nearest_epoch({0: 0.0}, 788.3)
    # the four ~800 s runs share one table, a 48-epoch run opens another, and a 30-epoch one a third
    assert budgets([867.3, 788.3, 817.0, 988.0, 3938.6, 8771.6]) == [788.3, 3938.6, 8771.6]


def test_probe_protocols_log_rows_of_their_own(tiny: TinyRun) -> None:
    """The reported probe protocol (``z-dim-steps2000``) repeats a head's few labels until it has
    made 2,000 updates over the probe's epochs; ``grid --probe z-dim`` (one pass an epoch) logs
    rows of its own, which stay out of the reported rows and of their done cells; an unknown
    protocol is refused by name."""
    import torch

    from training.engine import LoopConfig
    from training.presets import PRESETS
    from training.supervised.finetune import repeated
    from training.supervised.grid import PROBES, probe_steps, read_rows

    loop = LoopConfig(epochs=3, batch_size=64, lr=1e-3)
    assert torch.equal(repeated(100, 0, loop), torch.arange(100))
    more = repeated(100, 2000, loop)
    assert (len(more) // 64) * 3 >= 2000 and torch.bincount(more).min() >= len(more) // 100
    run_dir = tiny.root / "probe-steps"
    args = ["--preset", "tiny", "--run-dir", run_dir, "--cache-dir", tiny.cache_dir, "--data-root",
            tiny.data_root, "--tasks", "super", "--fractions", "1.0", "--seeds", "1", "--methods",
            "random-linear", "--no-progress"]  # fmt: skip
    _main("grid", *args)
    log = run_dir / "grid.jsonl"
    (row,) = read_rows(log)
    assert row["probe"] == PROBE == "z-dim-steps2000" and PROBES[PROBE] == 2000

    def updates(probe: str) -> int:
        path = run_dir / f"grid-random-linear-{probe}-super-1.0-0.ckpt"
        return torch.load(path, weights_only=True)["sched"]["last_epoch"]

    steps = probe_steps(PRESETS["tiny"])  # the tiny preset scales the protocol's 2,000 down
    assert steps == math.ceil(2000 * PRESETS["tiny"].probe_step_scale) and updates(PROBE) >= steps
    _main("grid", *args, "--probe", "z-dim")  # another protocol's cell is not done yet: it runs
    assert [r["probe"] for r in read_rows(log, probe=None)] == [PROBE, "z-dim"]
    assert [r["probe"] for r in read_rows(log)] == [PROBE] and updates("z-dim") < steps
    with pytest.raises(ValueError, match="unknown probe protocol 'z-dim-steps7'"):
        _main("grid", *args, "--probe", "z-dim-steps7")


def test_cnn_baselines_score_the_finer_tasks_from_their_all_model(tiny: TinyRun) -> None:
    """At 100 % labels a CNN baseline's `rhythm` is scored from its 71-statement model, as the
    bundled model's is (no model of its own for `rhythm`); its row says so and its predictions are
    that model's aggregated probabilities."""
    from training.supervised.grid import load_preds

    run_dir = tiny.root / "cnn"
    args = ["--preset", "tiny", "--run-dir", run_dir, "--cache-dir", tiny.cache_dir, "--data-root",
            tiny.data_root, "--tasks", "rhythm", "--fractions", "1.0", "--seeds", "1", "--methods",
            "inception1d", "--no-progress"]  # fmt: skip
    _main("grid", *args)
    (row,) = [json.loads(line) for line in (run_dir / "grid.jsonl").read_text().splitlines()]
    assert row["task"] == "rhythm" and row["from"] == "all"
    phases = {json.loads(line)["phase"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()}
    assert phases == {"grid-inception1d-all-1.0-0"}
    teacher = np.load(run_dir / "teacher-grid-inception1d-all-1.0-0.npz")
    preds = load_preds(row | {"preds": run_dir / "preds" / row["preds"]})
    assert teacher["probs"].shape[1] == 71 and preds["test_probs"].shape == (
        len(preds["test_ecg_id"]), len(preds["classes"]))  # fmt: skip
    assert np.isfinite(preds["test_probs"]).all() and 0 < len(preds["classes"]) < 71
    ledger = Path(os.environ["TRAINING_LEDGER"]).read_text()  # the cell's fold-10 read, logged
    assert (
        f"| rhythm | macro AUROC {row['test']['auroc']:.4f} | `grid` cell grid-inception1d-rhythm-1.0-0 |"
        in ledger
    )


def test_frozen_heads_train_on_standardised_features(tiny: TinyRun, tmp_path: Path) -> None:
    """An encoder whose features carry a large common offset and scale (ECG-JEPA's did) gets the
    same frozen head, and the same test predictions, as one without: the head standardises each
    dimension by its training rows' statistics over all leads and keeps them for prediction."""
    import torch

    from training.context import Context
    from training.presets import PRESETS
    from training.supervised.finetune import Standardise, train_head

    ctx = Context(tiny.data_root, tmp_path, tiny.cache_dir, PRESETS["tiny"], progress=False)
    rows = np.arange(len(ctx.ptbxl.cache))
    feats = torch.randn(len(rows), 12, 8, generator=torch.Generator().manual_seed(0))
    shifted = feats * 40 + 300
    plain, _, _ = train_head(ctx, feats, rows, "super", 1.0, 0, "linear", "plain")
    moved, _, _ = train_head(ctx, shifted, rows, "super", 1.0, 0, "linear", "shifted")
    with torch.no_grad():
        torch.testing.assert_close(plain(feats), moved(shifted), atol=1e-4, rtol=1e-4)

    # one z-score per dimension over rows and leads: the leads' offsets from each other stay
    offset = torch.linspace(-1, 1, 12)[None, :, None]
    z = Standardise(feats + offset)(feats + offset)
    flat = z.reshape(-1, z.shape[-1])
    torch.testing.assert_close(flat.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, correction=0), torch.ones(8), atol=1e-5, rtol=0)
    lead_means = z.mean(dim=(0, 2))
    assert lead_means[-1] - lead_means[0] > 1.0


@pytest.mark.parametrize("head", ["hug", "linear"])
def test_the_heads_z_score_folds_into_their_first_layer(head: str) -> None:
    """``probe.fold_standardise``: the folded head gives what z-score-then-head gave, so a frozen
    export is a plain Classifier of the same size."""
    import torch

    from ecgviewer.ml.heads import HEADS
    from training.supervised.finetune import Standardise
    from training.supervised.probe import fold_standardise

    g = torch.Generator().manual_seed(0)
    train = torch.randn(50, 12, 8, generator=g) * 30 + 200
    std, net = Standardise(train), HEADS[head](8, 5).eval()
    x = torch.randn(4, 12, 8, generator=g) * 30 + 200
    with torch.no_grad():
        want = net(std(x))
        torch.testing.assert_close(fold_standardise(std, net)(x), want, atol=1e-4, rtol=1e-4)


def test_a_frozen_encoder_export_runs_in_the_app(tiny: TinyRun, tmp_path: Path) -> None:
    """``run --frozen``: the pretrained encoder is exported unchanged, the heads are the grid's
    frozen cells (fold-9 scores equal), and the card says how the model was trained."""
    import torch
    from safetensors.torch import load_file

    from ecgviewer.ml.bundle import load_model

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for f in ("encoder.safetensors", "pretrain.json"):
        shutil.copy(tiny.run_dir / f, run_dir / f)
    _main("run", "--preset", "tiny", "--data-root", tiny.data_root, "--run-dir", run_dir, "--cache-dir",
          tiny.cache_dir, "--out", tmp_path / "model", "--frozen", "--no-progress")  # fmt: skip
    loaded = load_model(tmp_path / "model" / "clear-hug-frozen-tiny.safetensors")
    encoder = load_file(str(run_dir / "encoder.safetensors"))
    for k, v in loaded.model.encoder.state_dict().items():
        assert torch.equal(v, encoder[k]), k
    card = loaded.card
    assert "frozen" in card["training"]["encoder"] and "finetune" not in card["training"]
    assert card["timings"]["heads_s"] > 0 and "finetune_s" not in card["timings"]
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for task in card["labels"]:
        best = max(r["val_auroc"] for r in log if r["phase"] == f"grid-clear-hug-{PROBE}-{task}-1.0-0")
        assert card["labels"][task]["val"]["auroc"] == pytest.approx(best, abs=1e-6)


def test_lp_ft_starts_from_the_probe_heads(tiny: TinyRun, tmp_path: Path) -> None:
    """``run --from-probe`` (LP-FT): fine-tuning starts from the frozen-encoder heads, not from
    random ones: with a zero learning rate the fine-tuned model is the probe, parameter for
    parameter; the CLI run reports both phases and its card says so."""
    from dataclasses import replace

    import torch

    from training.context import Context
    from training.engine import LoopConfig
    from training.presets import PRESETS
    from training.supervised.finetune import bundled_model
    from training.supervised.probe import frozen_model

    run_dir, cli_dir = tmp_path / "run", tmp_path / "cli"
    for d in (run_dir, cli_dir):
        d.mkdir()
        for f in ("encoder.safetensors", "pretrain.json"):
            shutil.copy(tiny.run_dir / f, d / f)
    ctx = Context(tiny.data_root, run_dir, tiny.cache_dir, PRESETS["tiny"], progress=False)
    ctx.preset = replace(ctx.preset, finetune=LoopConfig(epochs=1, batch_size=32, lr=0.0))
    enc = run_dir / "encoder.safetensors"
    probe = frozen_model(ctx, enc)[0]
    still = bundled_model(ctx, enc, init=probe)[0].state_dict()
    assert all(torch.equal(v, still[k]) for k, v in probe.state_dict().items())
    fresh = bundled_model(ctx, enc)[0].state_dict()
    assert not all(torch.equal(v, fresh[k]) for k, v in probe.state_dict().items() if k.startswith("heads."))

    _main("run", "--preset", "tiny", "--data-root", tiny.data_root, "--run-dir", cli_dir, "--cache-dir",
          tiny.cache_dir, "--out", tmp_path / "model", "--from-probe", "--no-progress")  # fmt: skip
    card = json.loads((tmp_path / "model" / "clear-hug-tiny.json").read_text())
    assert card["training"]["recipe"]["from_probe"] and card["timings"]["heads_s"] > 0
    assert card["timings"]["finetune_s"] > 0
    assert "LP-FT" in (tmp_path / "model" / "clear-hug-tiny.md").read_text()


def test_the_grids_lp_ft_cells_start_from_their_frozen_cells(tiny: TinyRun, tmp_path: Path) -> None:
    """The grid's ``lpft`` and ``scratch-lpft`` cells start from the frozen HUG cell of the same
    task, fraction and seed (the pretrained or the grid's random-init encoder): the starting
    classifier predicts what that cell saved, its head is not trained again, and both cells log rows."""
    import torch

    from training.context import Context, predict, task_data
    from training.presets import PRESETS
    from training.supervised import grid as G

    for f in ("encoder.safetensors", "pretrain.json"):
        shutil.copy(tiny.run_dir / f, tmp_path / f)
    ctx = Context(tiny.data_root, tmp_path, tiny.cache_dir, PRESETS["tiny"], progress=False)
    G.run_grid(ctx, ["super"], [1.0], 1, ["clear-hug", "random-hug"])
    saved = set(tmp_path.glob("*.ckpt"))
    val = task_data(ctx, ("super",), 1.0, 0).val["super"]
    for pretrained, cell in ((True, "clear-hug"), (False, "random-hug")):
        start = G.lpft_start(ctx, "super", 1.0, 0, pretrained).eval()
        with torch.no_grad():
            got = predict(start, ctx.tensors, val.rows, ctx.preset.batch_eval, ctx.dist.device)["super"]
        frozen = np.load(tmp_path / "preds" / f"grid-{cell}-{PROBE}-super-1.0-0.npz")["val_probs"]
        np.testing.assert_allclose(got, frozen, atol=1e-4)
    assert set(tmp_path.glob("*.ckpt")) == saved
    G.run_grid(ctx, ["super"], [1.0], 1, ["lpft", "scratch-lpft"])
    rows = G.read_rows(tmp_path / "grid.jsonl")
    assert {r["method"] for r in rows} == {"clear-hug", "random-hug", "lpft", "scratch-lpft"}
    assert all(0 <= r["test"]["auroc"] <= 1 and "epoch" in r for r in rows)


def test_a_longer_fine_tune_starts_from_the_exported_classifier(tiny: TinyRun, tmp_path: Path) -> None:
    """``run --init-model``: the exported classifier's encoder and heads are the start (with a zero
    learning rate the result is that classifier, parameter for parameter), nothing is pretrained,
    and a file that is not one classifier with the preset's heads is refused by name."""
    from dataclasses import replace

    import torch

    from ecgviewer.ml.bundle import load_model
    from ecgviewer.weights import sha256
    from training.context import Context
    from training.engine import LoopConfig
    from training.presets import PRESETS
    from training.supervised.card import how_trained
    from training.supervised.finetune import bundled_model, continued_from

    ctx = Context(tiny.data_root, tmp_path / "run", tiny.cache_dir, PRESETS["tiny"], progress=False)
    ctx.run_dir.mkdir()
    ctx.preset = replace(ctx.preset, finetune=LoopConfig(epochs=1, batch_size=32, lr=0.0))
    enc, init = continued_from(ctx, tiny.weights, "clear")
    still = bundled_model(ctx, enc, init=init, start="continued")[0].state_dict()
    shipped = load_model(tiny.weights).model.state_dict()
    assert still.keys() == shipped.keys()
    assert all(torch.equal(v, still[k]) for k, v in shipped.items())
    assert not (ctx.run_dir / "encoder.safetensors").exists()  # no pretraining happened
    # the card names the start by its hash: the file may be replaced by the model trained from it
    assert ctx.start == {"file": tiny.weights.name, "sha256": sha256(tiny.weights)}
    said = how_trained({"start": ctx.start, "finetune": {}, "recipe": {}})
    assert f"continued from `{tiny.weights.name}` ({sha256(tiny.weights)[:12]}" in said
    # what the encoder was pretrained on is the start's, not this run's (which pretrains nothing)
    start_data = tiny.card["data"]
    assert ctx.lineage == {k: start_data[k] for k in ("pretrain_ecg_ids", "unlabelled_pretraining")}
    # and the run that pretrained it is the start's own (its card has no start of its own)
    own = tiny.card
    assert ctx.ancestry == [{"name": own["name"], "sha256": sha256(tiny.weights), "created": own["created"],
                             "command": own["command"],
                             "pretrained": own["training"]["pretrain"]}]  # fmt: skip

    # its own probabilities as the teacher of the continued fine-tune, named as such on the card
    from types import SimpleNamespace

    from training.supervised.export import teachers
    from training.supervised.finetune import model_teacher, teacher_probs

    made = model_teacher(ctx, tiny.weights)
    assert [p.name for p in made] == [f"teacher-{tiny.weights.stem}-{t}-1.0-0.npz" for t in ("super", "all")]
    rows = ctx.ptbxl.cache.index_of(str(e) for e in ctx.ptbxl.ecg_id)
    probs = teacher_probs(ctx.run_dir, "super", len(ctx.tensors.values))[rows]
    assert probs.shape == (len(rows), 5) and np.isfinite(probs).all() and (probs > 0).all()
    named = teachers(ctx, SimpleNamespace(classes={"super": [], "all": []}))
    said = how_trained({"finetune": {}, "recipe": {"distill": 0.5}, "teachers": named})
    assert f"predictions of {tiny.weights.name} ({sha256(tiny.weights)[:12]})" in said
    assert "supervised baselines" not in said

    ctx.preset = replace(ctx.preset, tasks=("super",))
    with pytest.raises(ValueError, match=tiny.weights.name):
        continued_from(ctx, tiny.weights, "clear")


@pytest.fixture(scope="session")
def pretrained_share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the smoke runs leave each method's tiny encoder for the grid test (one folder for every
    test process): pretrained there with the same arguments, the grid need not pretrain it again
    (it did, about 45 s for the three methods, when the smoke runs had run in the other process)."""
    base = tmp_path_factory.getbasetemp()
    share = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-pretrained"
    share.mkdir(exist_ok=True)
    return share


@pytest.mark.parametrize("method", ["jepa", "physioclr", "physioclr-rlm", "acl"])
def test_pretrain_method_smoke_run(
    tiny: TinyRun, method: str, tmp_path: Path, pretrained_share: Path
) -> None:
    """``pretrain --method`` for each objective besides CLEAR (CLEAR's runs in the tiny run): one
    epoch of the tiny preset on its PTB-XL records (without LUDB's, whose PhysioCLR features alone
    took 45 s), the encoder saved with its family, every loss component logged and finite, and the
    encoder's per-lead features ready for the heads."""
    import torch

    from training.presets import PRESETS
    from training.pretrain.pretraining import load_encoder

    said = _main("pretrain", "--method", method, "--preset", "tiny", "--run-dir", tiny.run_dir,
                 "--cache-dir", tiny.cache_dir, "--data-root", tiny.data_root, "--no-progress",
                 "--unlabelled", tmp_path)  # fmt: skip
    out = json.loads(said.strip().splitlines()[-1])
    path = Path(out["encoder"])
    assert path == tiny.run_dir / f"encoder-{method}.safetensors" and out["method"] == method
    log = [json.loads(line) for line in (tiny.run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["phase"] == f"pretrain-{method}"]
    parts = {"jepa": {"smooth_l1", "momentum", "target_spread"}, "physioclr": {"con", "rec", "peak"},
             "physioclr-rlm": {"con", "rec", "peak", "mse", "copy_mse", "template_mse"},
             "acl": {"intra", "inter"}}  # fmt: skip
    assert len(epochs) == 1 and parts[method] <= set(epochs[0]), epochs
    assert all(math.isfinite(epochs[0][k]) for k in ("loss", *parts[method]))
    info = json.loads((tiny.run_dir / f"pretrain-{method}.json").read_text())
    assert info["pretrain_steps"] > 0 and info["pretrain_records"]["ptbxl"] > 0

    enc = load_encoder(path, PRESETS["tiny"].encoder)  # the file's own config wins
    kind = "PatchEncoder" if method == "jepa" else "Encoder"
    assert type(enc).__name__ == kind
    trained = dict(enc.named_parameters())
    tiny_preset = PRESETS["tiny"]
    config = tiny_preset.patch if method == "jepa" else tiny_preset.encoder
    fresh = dict(load_encoder(None, config, seed=99).named_parameters())
    assert trained.keys() == fresh.keys()
    assert any(not torch.equal(trained[k], fresh[k]) for k in trained)
    for name in (f"pretrain-{method}.json", path.name):  # the encoder last: all there once it is
        shutil.copy(tiny.run_dir / name, pretrained_share / f"{name}.part")
        (pretrained_share / f"{name}.part").replace(pretrained_share / name)


def test_grid_takes_an_encoder_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``grid --size`` runs the grid on the preset's encoder resized, in the run's size subfolder
    (where ``scaling --size`` pretrained it), so a wider encoder's label grid sits beside its curve."""
    import training.supervised.grid
    from training.__main__ import main

    seen = {}
    monkeypatch.setattr(
        training.supervised.grid, "run_grid", lambda ctx, *rest: seen.update(ctx=ctx, rest=rest)
    )
    main(["grid", "--data-root", str(tmp_path), "--run-dir", str(tmp_path / "run"), "--preset", "tiny",
          "--size", "64x2", "--tasks", "super", "--methods", "clear-hug,random-hug"])  # fmt: skip
    ctx = seen["ctx"]
    assert ctx.run_dir == tmp_path / "run" / "64x2"
    assert (ctx.preset.encoder.dim, ctx.preset.encoder.depth, ctx.preset.encoder.heads) == (64, 2, 2)
    assert seen["rest"][0] == ["super"] and seen["rest"][3] == ["clear-hug", "random-hug"]


def test_grid_compares_pretraining_methods(tiny: TinyRun, tmp_path: Path, pretrained_share: Path) -> None:
    """The frozen-encoder grid runs on every method's encoder under the one protocol, and
    RESULTS.md gains the pretraining runs and the side-by-side comparison with its verdict."""
    import torch

    for method in ("jepa", "physioclr", "acl"):  # those the smoke runs made, in either process
        encoder = pretrained_share / f"encoder-{method}.safetensors"
        if encoder.is_file() and not (tiny.run_dir / encoder.name).is_file():
            shutil.copy(pretrained_share / f"pretrain-{method}.json", tiny.run_dir)
            shutil.copy(encoder, tiny.run_dir)
    args = ["--preset", "tiny", "--run-dir", tiny.run_dir, "--cache-dir", tiny.cache_dir,
            "--data-root", tiny.data_root, "--unlabelled", tmp_path,  # the smoke runs' arguments
            "--tasks", "super", "--fractions", "1.0", "--seeds", "1",
            "--methods", "jepa-linear,physioclr-linear,acl-linear,random-linear,random-patches-linear,"
            "clear-linear",
            "--no-progress"]  # fmt: skip
    _main("grid", *args)
    lines = (tiny.run_dir / "grid.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    got = {r["method"]: r for r in rows if r["fraction"] == 1.0}
    for m in ("jepa-linear", "physioclr-linear", "acl-linear", "random-patches-linear"):
        assert 0 <= got[m]["test"]["auroc"] <= 1
    # the random-init patch encoder (ECG-JEPA's family) has features of its own beside the beat one's
    (beats,) = tiny.run_dir.glob("features-random1234-[0-9]*.pt")
    (patches,) = tiny.run_dir.glob("features-random1234-patches-*.pt")
    assert not torch.equal(torch.load(beats), torch.load(patches))
    for method in ("jepa", "physioclr", "acl"):  # pretrained once, by the smoke runs or here
        assert (tiny.run_dir / f"encoder-{method}.safetensors").is_file()
    out = tiny.root / "RESULTS-methods.md"
    _main("results", "--runs", tiny.run_dir, "--out", out, "--shipped", tiny.weights)
    md = out.read_text()
    assert "## Pretraining runs" in md and "| ECG-JEPA |" in md and "| ACL-ECG |" in md
    title = "## Pretraining methods compared: linear probe on the frozen encoder"
    table = md.split(title)[1].split("Best on")[0]
    for label in ("ECG-JEPA", "PhysioCLR", "ACL-ECG", "random init (no pretraining)"):
        assert f"| {label} |" in table
    assert "Best on this data (linear probe" in md
    verdict = md.split("Best on this data (linear probe")[1].splitlines()[1]
    assert "the bundled model stays on CLEAR" in verdict or "of 1 shared cells" in verdict, verdict


def test_bundled_verdict_needs_most_cells_beyond_seed_noise() -> None:
    """The bundled model changes only for a method higher than CLEAR by more than the seed SD in
    most cells; a one-seed cell needs CLEAR_GAIN."""
    import numpy as np

    from training.reports.ranking import bundled_verdict
    from training.supervised.grid import CLEAR_GAIN

    cells = [("super", 0.1), ("sub", 0.1), ("form", 1.0)]
    clear = {cells[0]: [0.80, 0.81, 0.79], cells[1]: [0.70, 0.72, 0.68], cells[2]: [0.60]}
    acl = {cells[0]: [0.83, 0.84, 0.82], cells[1]: [0.71, 0.73, 0.69], cells[2]: [0.60 + 2 * CLEAR_GAIN]}
    seeds = {(s, c): np.array(v) for s, table in (("clear", clear), ("acl", acl)) for c, v in table.items()}
    means = {s: {c: seeds[s, c].mean() for c in cells} for s in ("clear", "acl")}
    text = bundled_verdict("acl", "ACL-ECG", seeds, means, cells)
    assert "higher in 3 of 3 shared cells, by more than the larger seed SD" in text
    assert "in 2: the bundled model should change to the ACL-ECG encoder" in text  # super and form
    seeds["acl", cells[2]] = np.array([0.60 + CLEAR_GAIN / 2])
    means["acl"][cells[2]] = seeds["acl", cells[2]].mean()
    assert "in 1: that is not enough" in bundled_verdict("acl", "ACL-ECG", seeds, means, cells)
    assert "stays" in bundled_verdict("clear", "CLEAR", seeds, means, cells)


def test_ddp_pretrain_two_cpu_processes(tiny: TinyRun, tmp_path: Path) -> None:
    """``torchrun`` with two CPU processes (gloo): pretraining finishes on both ranks, only rank
    0 writes the encoder and logs the epoch, and the loss is finite. Reuses the tiny run's token
    cache, so no rank has to tokenise."""
    empty = tmp_path / "empty"
    empty.mkdir()
    run_dir = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training", "pretrain", "--preset", "tiny", "--data-root", str(tiny.data_root),
           "--run-dir", str(run_dir), "--cache-dir", str(tiny.cache_dir), "--no-progress",
           "--unlabelled", str(empty)]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    enc = run_dir / "encoder.safetensors"
    assert enc.is_file()
    printed = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [p["encoder"] for p in printed] == [str(enc)] * 2
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    pre = [r for r in records if r["phase"] == "pretrain"]
    assert len(pre) == 1 and math.isfinite(pre[0]["loss"]) and pre[0]["loss"] > 0
    from safetensors import safe_open

    with safe_open(str(enc), framework="pt") as f:
        assert json.loads(f.metadata()["encoder"])["dim"] == 32


@pytest.mark.parametrize("asked", [False, True])
def test_cpu_bf16_autocast_only_when_asked_and_native(tmp_path: Path, asked: bool) -> None:
    """``--cpu-bf16`` runs the training steps under bf16 autocast on a CPU with native bf16, and
    only then; the weights and optimiser stay fp32, and the run still checkpoints and learns."""
    import torch
    from torch import nn

    from training.engine import Dist, LoopConfig, fit

    d = Dist(cpu_bf16=asked)
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert d.amp == (asked and native)
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    net, seen = nn.Linear(8, 1), set()

    def loss_fn(m: nn.Module, rows: torch.Tensor, step: int) -> torch.Tensor:
        out = m(x[rows])
        seen.add(out.dtype)
        return ((out.float() - y[rows]) ** 2).mean()

    before = loss_fn(net, torch.arange(64), 0).item()
    fit(net, loss_fn, 64, LoopConfig(epochs=3, batch_size=16, lr=1e-2), tmp_path, "amp", d, progress=False)
    assert (torch.bfloat16 in seen) == d.amp
    assert net.weight.dtype == torch.float32 and (tmp_path / "amp.ckpt").is_file()
    assert loss_fn(net, torch.arange(64), 0).item() < before


# --------------------------------------------------------------------------- download
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_from_local_mirror(shared: Path, tmp_path: Path) -> None:
    """``training.data.download`` against a fake PhysioNet tree served locally: only the first N
    100 Hz records and the tables arrive, byte for byte; the result loads as PTB-XL labels;
    wfdb's global index URL is left as it was."""
    import wfdb.io.download as wdl

    from training.data.datasets import load_labels
    from training.data.download import download

    src = shared / "ptbxl"
    site = tmp_path / "site"
    db = site / "ptb-xl" / "1.0.3"
    (db / "records100/00000").mkdir(parents=True)
    (db / "records500/00000").mkdir(parents=True)
    for name in ("ptbxl_database.csv", "scp_statements.csv", "LICENSE.txt"):
        shutil.copy(src / name, db / name)
    for i in (1, 2, 3):
        for ext in (".hea", ".dat"):
            shutil.copy(src / f"records100/00000/{i:05d}_lr{ext}", db / f"records100/00000/{i:05d}_lr{ext}")
    for ext in (".hea", ".dat"):
        shutil.copy(src / f"records500/00000/00001_hr{ext}", db / f"records500/00000/00001_hr{ext}")
    # the 500 Hz record first: it must be skipped, not count towards ``records``
    names = ["records500/00000/00001_hr", *(f"records100/00000/{i:05d}_lr" for i in (1, 2, 3))]
    (db / "RECORDS").write_text("\n".join(names) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    before = wdl.config.db_index_url
    sentinel = "https://mirror.invalid/files/"
    wdl.config.db_index_url = sentinel
    try:
        dest = tmp_path / "dest"
        summary = download(dest, records=2, url=f"http://127.0.0.1:{server.server_address[1]}/")
        assert wdl.config.db_index_url == sentinel
    finally:
        wdl.config.db_index_url = before
        server.shutdown()
        server.server_close()
        thread.join(5)

    assert summary.startswith("2 records")
    out = dest / "ptbxl"
    got = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    want = {"ptbxl_database.csv", "scp_statements.csv", "LICENSE.txt"} | {
        f"records100/00000/{i:05d}_lr{ext}" for i in (1, 2) for ext in (".hea", ".dat")
    }
    assert got == want
    for rel in want:
        assert (out / rel).read_bytes() == (db / rel).read_bytes(), rel

    labels = load_labels(out)  # no statements table here: parses scp_codes
    ref = load_labels(src)
    classes, y = labels.task("super")
    ref_classes, ref_y = ref.task("super")
    assert classes == ref_classes
    row = {int(e): i for i, e in enumerate(labels.ecg_id)}
    ref_row = {int(e): i for i, e in enumerate(ref.ecg_id)}
    for e in (1, 2):
        np.testing.assert_array_equal(y[row[e]], ref_y[ref_row[e]])
    assert y[row[1]].any()


# --------------------------------------------------------------------------- labels
def test_finer_tasks_are_read_off_the_all_head(tiny: TinyRun) -> None:
    """The exported model has `super` and `all` heads; its `sub` and `rhythm` cells are its
    71-statement probabilities aggregated as the task's labels are (a subclass scored by its most
    probable member statement), scored on the task's own fold-9 and fold-10 records."""
    import torch

    from ecgviewer.ml.bundle import load_model
    from training.context import Context, predict
    from training.presets import PRESETS
    from training.supervised.grid import load_preds
    from training.validate import metrics as M

    _main("grid", "--preset", "tiny", "--run-dir", tiny.run_dir, "--cache-dir", tiny.cache_dir,
          "--data-root", tiny.data_root, "--tasks", "sub,rhythm", "--fractions", "1.0",
          "--methods", "exported", "--no-progress")  # fmt: skip
    rows = [json.loads(line) for line in (tiny.run_dir / "grid.jsonl").read_text().splitlines()]
    rows = {r["task"]: r for r in rows if r["method"] == "exported"}
    assert set(rows) == {"sub", "rhythm"} and all(r["from"] == "all" for r in rows.values())
    ctx = Context(tiny.data_root, tiny.run_dir, tiny.cache_dir, PRESETS["tiny"], progress=False)
    model = load_model(tiny.weights).model
    for task, row in rows.items():
        classes, test = ctx.ptbxl.split(task, [10])
        statements = predict(model, ctx.tensors, test.rows, 64, torch.device("cpu"))["all"]
        names, probs = ctx.ptbxl.labels.aggregate(task, statements)
        assert names == classes and probs.shape == test.y.shape
        if task == "sub":  # a subclass's score is its most probable member statement
            col = ctx.ptbxl.labels.statements.index
            assert np.array_equal(probs[:, classes.index("IMI")],
                                  statements[:, [col(c) for c in ("IMI", "ILMI", "IPMI", "IPLMI", "INJIN",
                                                                   "INJIL")]].max(axis=1))  # fmt: skip
        assert row["test"]["auroc"] == pytest.approx(M.macro(test.y, probs)[0], abs=1e-6)
        preds = load_preds(row | {"preds": tiny.run_dir / "preds" / row["preds"]})
        assert row["val_auroc"] == pytest.approx(M.macro(preds["val_y"], preds["val_probs"])[0], abs=1e-9)


def test_an_ensemble_is_exported_with_its_own_card(tiny: TinyRun, tmp_path: Path) -> None:
    """``ensemble`` of the tiny model with itself: the same probabilities, so the same fold-9 and
    fold-10 figures as the member's card; the card names its members and the app loads it."""
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.ml.model import Ensemble

    said = _main("ensemble", tiny.weights, tiny.weights, "--name", "pair", "--out", tmp_path,
                 "--preset", "tiny", "--data-root", tiny.data_root, "--cache-dir", tiny.cache_dir,
                 "--run-dir", tiny.run_dir, "--no-progress")  # fmt: skip
    weights = tmp_path / "pair.safetensors"
    assert said.strip() == str(weights)
    card = json.loads(weights.with_suffix(".json").read_text())
    assert [m["weights_sha256"] for m in card["training"]["members"]] == [tiny.card["weights_sha256"]] * 2
    assert len(card["architecture"]["members"]) == 2 and "ensemble" in weights.with_suffix(".md").read_text()
    for task, lab in tiny.card["labels"].items():
        for split in ("val", "test"):
            assert card["labels"][task][split]["auroc"] == pytest.approx(lab[split]["auroc"], abs=1e-6)
    assert isinstance(load_model(weights).model, Ensemble)


def test_label_tasks_class_counts(shared: Path) -> None:
    """The six PTB-XL benchmark tasks have their published class counts."""
    from training.data.datasets import TASKS, load_labels

    labels = load_labels(shared / "ptbxl")
    assert len(labels.ecg_id) == 21799
    counts = {name: len(labels.task(name)[0]) for name in TASKS}
    assert counts == {"super": 5, "sub": 23, "form": 19, "rhythm": 12, "diag": 44, "all": 71}
    classes, y = labels.task("super")
    assert set(classes) == SUPER
    assert y.shape == (21799, 5) and set(np.unique(y)) <= {0, 1}
    with pytest.raises(ValueError):
        labels.task("nope")


def test_labels_from_database_csv_match_statements_table(shared: Path, tmp_path: Path) -> None:
    """PhysioNet's ``ptbxl_database.csv`` (what a download gives) and the shared 0/1 table give
    the same folds and targets for every record they share, in every task."""
    from training.data.datasets import TASKS, load_labels

    for name in ("scp_statements.csv", "ptbxl_database.csv"):
        shutil.copy(shared / "ptbxl" / name, tmp_path / name)
    db = load_labels(tmp_path)
    ref = load_labels(shared / "ptbxl")
    ref_row = {int(e): i for i, e in enumerate(ref.ecg_id)}
    common = [i for i, e in enumerate(db.ecg_id) if int(e) in ref_row]
    assert len(common) >= 480  # 500 rows, a few duplicates absent from v1.0.3
    ri = [ref_row[int(db.ecg_id[i])] for i in common]
    np.testing.assert_array_equal(db.fold[common], ref.fold[ri])
    for name in TASKS:
        c_db, y_db = db.task(name)
        c_ref, y_ref = ref.task(name)
        assert c_db == c_ref, name
        np.testing.assert_array_equal(y_db[common], y_ref[ri], err_msg=name)


# --------------------------------------------------------------------------- metrics
def test_class_auroc_and_ap_match_sklearn_with_ties() -> None:
    """The vectorised metrics equal scikit-learn's per column, ties included; a class with no
    positives (or no negatives) is NaN, not a number that would bias the macro mean."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from training.validate.metrics import class_scores, macro

    rng = np.random.default_rng(0)
    n, k = 300, 5
    y = (rng.random((n, k)) < [0.1, 0.3, 0.5, 0.05, 0.2]).astype(np.float32)
    p = np.round(np.clip(0.3 * y + rng.random((n, k)) * 0.8, 0, 1), 2)  # few distinct values: ties
    assert len(np.unique(p[:, 0])) < n / 2
    y_none = np.concatenate([y, np.zeros((n, 1)), np.ones((n, 1))], axis=1)
    p_none = np.concatenate([p, rng.random((n, 2))], axis=1)
    auc, ap = class_scores(y_none, p_none)
    for j in range(k):
        assert auc[j] == pytest.approx(roc_auc_score(y[:, j], p[:, j]), abs=1e-12)
        assert ap[j] == pytest.approx(average_precision_score(y[:, j], p[:, j]), abs=1e-12)
    assert np.isnan(auc[k:]).all() and np.isnan(ap[k:]).all()
    m_auc, m_ap = macro(y_none, p_none)
    assert m_auc == pytest.approx(np.mean(auc[:k])) and m_ap == pytest.approx(np.mean(ap[:k]))


def test_weighted_scores_equal_scores_of_the_resampled_records() -> None:
    """A bootstrap draw as record weights over the one sort (``Ranked.scores``) gives what sorting
    the resampled records gives (records drawn twice, never, tied scores), the same for every
    record counted 300 times, and NaN for a class a draw leaves without positives."""
    from training.validate.metrics import Ranked, class_scores

    rng = np.random.default_rng(3)
    n, k = 200, 4
    y = (rng.random((n, k)) < [0.1, 0.3, 0.5, 0.2]).astype(np.float32)
    p = np.round(np.clip(0.3 * y + rng.random((n, k)) * 0.8, 0, 1), 2)  # ties
    ranked = Ranked(y, p)
    for _ in range(5):
        idx = rng.integers(0, n, n)
        got = ranked.scores(np.bincount(idx, minlength=n))
        for a, b in zip(got, class_scores(y[idx], p[idx]), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    whole = ranked.scores()
    heavy = ranked.scores(np.full(n, 300))  # 60,000 in all: past the narrowest integer's counts
    for a, b in zip(whole, heavy, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    only = np.zeros(n, dtype=np.int64)
    only[np.flatnonzero(y[:, 0] == 0)[:20]] = 1  # no positive of class 0 drawn
    auc, ap = ranked.scores(only)
    assert np.isnan(auc[0]) and np.isnan(ap[0])


def test_report_ci_contains_point_estimate() -> None:
    """Bootstrap 95 % intervals bracket the point estimates, and per-class numbers line up."""
    from training.validate.metrics import report

    rng = np.random.default_rng(1)
    y = (rng.random((200, 3)) < 0.3).astype(np.float32)
    p = np.clip(0.4 * y + rng.random((200, 3)) * 0.7, 0, 1)
    r = report(y, p, ["a", "b", "c"], n_boot=200)
    for key in ("auroc", "auprc"):
        lo, hi = r[f"{key}_ci"]
        assert lo <= r[key] <= hi and lo < hi
    assert r["n"] == 200 and r["support"] == {c: int(s) for c, s in zip("abc", y.sum(0), strict=True)}
    assert all(0.5 < v <= 1 for v in r["per_class_auroc"].values())


def test_report_ci_is_not_lifted_by_a_rare_class_s_absence() -> None:
    """A rare, badly predicted class is absent from some draws (two positives: about e^-2 of
    them) and left out of them, counted in ``left_out_share``; each draw is compared with the
    point over the same classes, so the interval brackets the point instead of sitting above it
    (comparing a macro without 'rare' with one with it would reach 1.0)."""
    from training.validate.metrics import report

    rng = np.random.default_rng(2)
    y = (rng.random((300, 3)) < 0.3).astype(np.float32)
    y[:, 2] = 0
    y[[5, 17], 2] = 1  # two positives, scored below most negatives
    p = np.clip(0.5 * y + rng.random((300, 3)) * 0.5, 0, 1)
    p[[5, 17], 2] = 0.1
    r = report(y, p, ["a", "b", "rare"], n_boot=300)
    assert r["n_boot"] == 300 and 0.07 < r["left_out_share"] < 0.22
    lo, hi = r["auprc_ci"]
    assert lo <= r["auprc"] <= hi < r["auprc"] + 0.1


def test_f1_thresholds_reproduce_best_f1() -> None:
    """The chosen threshold (predict positive when p >= t) reaches the best F1 over all cut-offs;
    a class without positives falls back to 0.5."""
    from training.validate.metrics import f1_thresholds

    y = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [0, 0], [1, 0], [0, 0], [1, 0]], dtype=float)
    p = np.array([[0.1, 0.2], [0.4, 0.9], [0.35, 0.1], [0.8, 0.3], [0.2, 0.5],
                  [0.9, 0.6], [0.7, 0.4], [0.3, 0.7]])  # fmt: skip

    def f1(t: float) -> float:
        pred = p[:, 0] >= t
        tp = (pred & (y[:, 0] == 1)).sum()
        return 2 * tp / (pred.sum() + y[:, 0].sum())

    best = max(f1(t) for t in p[:, 0])
    thr = f1_thresholds(y, p)
    assert f1(thr[0]) == pytest.approx(best)
    assert best == pytest.approx(0.8)  # t = 0.3: 4 of 6 predicted positives right, all 4 found
    assert thr[1] == 0.5


def test_id_ranges_and_fraction() -> None:
    """Card id lists are compact ranges; label fractions are seeded, sorted, without repeats."""
    from training.data.datasets import fraction, id_ranges

    assert id_ranges([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
    assert id_ranges([8, 7, 5, 3, 2, 1]) == "1-3,5,7-8"
    assert id_ranges([]) == ""
    assert _parse_ranges(id_ranges([4, 9, 10, 11, 20])) == [4, 9, 10, 11, 20]
    a, b = fraction(1000, 0.1, 0), fraction(1000, 0.1, 1)
    for f in (a, b):
        assert len(f) == 100 and len(np.unique(f)) == 100
        assert (np.diff(f) > 0).all() and f.min() >= 0 and f.max() < 1000
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, fraction(1000, 0.1, 0))
    np.testing.assert_array_equal(fraction(50, 1.0, 3), np.arange(50))
    assert len(fraction(50, 0.001, 0)) == 1


def test_an_exported_jepa_classifier_runs_in_the_app(
    tiny: TinyRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run --method jepa`` exports the method's encoder with a HUG head and a card naming its
    tokeniser, architecture and objective; the model picker lists it and ``ecgviewer analyze``
    explains a recording with it on the beat grid. Both commands run in this process (a child
    process of each spent 4-5 s starting up; tests/ml/test_analyze.py runs ``analyze`` in one)."""
    from ecgviewer.cli import main as ecgviewer_main
    from ecgviewer.ml.registry import describe

    said = _main("run", "--method", "jepa", "--preset", "tiny", "--data-root", tiny.data_root,
                 "--run-dir", tiny.run_dir, "--cache-dir", tiny.cache_dir, "--out", tmp_path,
                 "--no-progress")  # fmt: skip
    weights = Path(json.loads(said.strip().splitlines()[-1])["weights"])
    assert weights == tmp_path / "jepa-hug-tiny.safetensors"
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["tokenizer"].startswith("patches: 12 leads") and card["architecture"]["kind"] == "patches"
    assert card["pretraining"]["method"] == "jepa" and card["pretraining"]["objective"]["ema"] == [0.996, 1.0]
    md = weights.with_suffix(".md").read_text()
    assert "patch-token CroPA encoder (ECG-JEPA)" in md and f"Tokeniser: {card['tokenizer']}" in md
    info = describe(weights)
    assert info.error is None and info.kind == "patches" and info.tokenizer == card["tokenizer"]
    assert info.architecture.startswith("ECG-JEPA encoder, ")

    sample = tiny.data_root / "ptbxl/records100/00000/00009_lr.hea"
    capsys.readouterr()
    analyze = ["analyze", str(sample), "--model", str(weights), "--method", "gxi", "--device", "cpu"]
    code = ecgviewer_main(analyze)
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    result = json.loads(out.out)
    assert "jepa-hug-tiny" in json.dumps(result["model"]) and result["records"][0]["explanation"]
