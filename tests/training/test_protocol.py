"""The evaluation protocol of ``training/``: fold 9 makes every choice and fold 10 is only
reported (its labels are permuted here and nothing chosen may move), comparisons are paired on
the same records and seeds, and the bootstrap draws records plainly, leaving a class absent from a
draw out of that draw's macro."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from training.data import datasets as D
from training.reports import ranking as RK
from training.reports import results as R
from training.supervised import grid as G
from training.validate import metrics as M

SUPER = ["CD", "HYP", "MI", "NORM", "STTC"]


# --------------------------------------------------------------------------- bootstrap
def _rare_classes(
    seed: int, n: int = 2000, common: int = 10, rare: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Labels like PTB-XL ``all`` on fold 10: a few common classes and many with 1-3 positives,
    those positives scored near the top (a rare class's AP is then large and swings most)."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, common + rare), np.float32)
    y[:, :common] = rng.random((n, common)) < rng.uniform(0.05, 0.3, common)
    for k in range(common, common + rare):
        y[rng.choice(n, rng.integers(1, 4), replace=False), k] = 1
    p = np.clip(0.4 * y + rng.random(y.shape), 0, 1)
    hit = y[:, common:] == 1
    p[:, common:][hit] = rng.uniform(0.99, 1.0, hit.sum())
    return y, p


def _within_pattern(y: np.ndarray, p: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The bootstrap this project used until issue 75, kept here to show what was wrong with it:
    each record replaced by a random record of its own label pattern; macro AUROC of each draw."""
    _, group = np.unique(y, axis=0, return_inverse=True)
    members = [np.flatnonzero(group.ravel() == g) for g in group.ravel()]
    draws = [[m[rng.integers(len(m))] for m in members] for _ in range(n_boot)]
    return np.array([M.macro(y[i], p[i])[0] for i in draws])


def test_within_pattern_intervals_were_too_narrow_and_record_draws_are_not() -> None:
    """A case built for it: twelve classes, so that most records are alone in their label pattern
    (as 26 % of PTB-XL `all`'s fold 10 are). The spread of macro AUROC over 200 test sets drawn
    from the same population is the truth; the record bootstrap of one test set finds it, while
    resampling within label patterns, which draws a lone record once every time, finds far less."""
    rng = np.random.default_rng(0)
    rates = rng.uniform(0.1, 0.5, 12)

    def test_set(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random((n, 12)) < rates).astype(np.float32)
        return y, 0.6 * y + rng.normal(0, 1, y.shape)

    truth = np.std([M.macro(*test_set())[0] for _ in range(200)])
    y, p = test_set()
    assert len(np.unique(y, axis=0)) > 0.6 * len(y)  # most patterns unique
    width = np.subtract(*M.report(y, p, [str(k) for k in range(12)], n_boot=300)["auroc_ci"][::-1])
    old = np.subtract(*np.percentile(_within_pattern(y, p, 300, rng), [97.5, 2.5]))
    assert 0.7 < width / (2 * 1.96 * truth) < 1.4, (width, truth)
    assert old < 0.6 * width, (old, width)


@pytest.mark.parametrize("seed", range(3))
def test_a_class_absent_from_a_draw_is_left_out_of_its_macro_and_counted(seed: int) -> None:
    """PTB-XL `all` has classes with one to three positives on fold 10: a draw often has none of
    them. Such a class is left out of that draw (no draw is rejected or redrawn, which biased the
    old intervals upwards) and the report says how often; the draw is compared with the point over
    the classes it kept, so the point stays inside its interval."""
    y, p = _rare_classes(seed)
    r = M.report(y, p, [str(k) for k in range(y.shape[1])], n_boot=200)
    assert r["n_boot"] == 200 and r["left_out_share"] > 0.9  # 20 classes of 1-3 positives
    for key in ("auroc", "auprc"):
        lo, hi = r[f"{key}_ci"]
        assert lo <= r[key] <= hi and lo < hi, (key, r[key], lo, hi)
    common = M.report(y[:, :10], p[:, :10], [str(k) for k in range(10)], n_boot=200)
    assert common["left_out_share"] == 0.0


def test_the_seeds_mean_comes_with_its_own_interval() -> None:
    """Several seeds: the point is their mean macro AUROC and the draws resample seeds with the
    records, so the point sits inside its own interval (RESULTS.md once printed the mean beside
    seed 0's interval, and 32 of 111 cells lay outside it)."""
    y, a, _ = _two_models(2, 0.0)
    shifted = [q + 0.15 * k * y for k, q in enumerate(a)]  # seeds that differ in quality
    r = M.report(y, shifted, SUPER, n_boot=200)
    assert r["seeds"] == 5
    assert r["auroc"] == pytest.approx(np.mean([M.macro(y, q)[0] for q in shifted]), abs=1e-12)
    lo, hi = r["auroc_ci"]
    assert lo <= r["auroc"] <= hi
    seed0 = M.report(y, shifted[0], SUPER, n_boot=200)["auroc_ci"]
    assert not seed0[0] <= r["auroc"] <= seed0[1]  # the old cell: a mean outside seed 0's interval


def _two_models(seed: int, gain: float, n: int = 1500, seeds: int = 5) -> tuple:
    """Labels and two models' per-seed probabilities sharing each record's difficulty: B's signal
    is ``gain`` weaker than A's."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 5)) < [0.2, 0.1, 0.25, 0.4, 0.25]).astype(np.float32)
    hard = rng.normal(0, 1, y.shape)  # what makes a record hard, for both models alike

    def model(signal: float) -> list[np.ndarray]:
        return [signal * y + hard + 0.3 * rng.normal(0, 1, y.shape) for _ in range(seeds)]

    return y, model(1.0), model(1.0 - gain)


def test_paired_bootstrap_point_symmetry_and_no_difference() -> None:
    """The point difference is the mean over seeds of the macro differences on all records;
    swapping A and B negates it and its interval draw for draw; A against itself is exactly 0."""
    y, a, b = _two_models(0, 0.1)
    res = M.paired_bootstrap(y, a, b, n_boot=200)
    expected = np.mean([np.subtract(M.macro(y, pa), M.macro(y, pb)) for pa, pb in zip(a, b, strict=True)], 0)
    assert [res["auroc"], res["auprc"]] == pytest.approx(expected.tolist(), abs=1e-12)
    assert res["n_boot"] == 200 and res["seeds"] == 5 and res["n"] == len(y)
    swapped = M.paired_bootstrap(y, b, a, n_boot=200)
    for key in ("auroc", "auprc"):
        assert swapped[key] == pytest.approx(-res[key])
        assert swapped[f"{key}_ci"] == pytest.approx([-res[f"{key}_ci"][1], -res[f"{key}_ci"][0]])
    same = M.paired_bootstrap(y, a, a, n_boot=50)
    assert same["auroc_ci"] == [0.0, 0.0] and not M.better(same)
    assert M.better(res) and not M.better({"auroc": 0.02, "auroc_ci": [-0.001, 0.04]})  # the interval decides
    with pytest.raises(ValueError, match="as many seeds"):
        M.paired_bootstrap(y, a, b[:3])


def test_paired_bootstrap_sees_a_gain_that_separate_intervals_hide() -> None:
    """Both models find the same records hard, so their separate intervals overlap, while the
    paired difference, where record difficulty cancels, excludes zero."""
    y, a, b = _two_models(1, 0.08)
    res = M.paired_bootstrap(y, a, b, n_boot=300)
    assert M.better(res), res
    sep_a, sep_b = (M.report(y, p[0], SUPER, n_boot=300)["auroc_ci"] for p in (a, b))
    assert sep_b[1] > sep_a[0]  # overlapping: not separable one model at a time
    null = M.paired_bootstrap(y, a, a[::-1], n_boot=300)  # one model's seeds against each other
    assert null["auroc_ci"][0] <= 0 <= null["auroc_ci"][1] and not M.better(null), null


# --------------------------------------------------------------------------- fold 10 decides nothing
QUALITY = {"acl": 1.0, "clear": 0.85, "random": 0.7, "finetune": 0.8, "scratch": 0.5}  # signal per method
FROZEN = ["clear-hug", "random-hug", "acl-hug"]
TRAINED = ["finetune", "scratch"]
BUNDLED = "clear-hug-fake.safetensors"
SHIPPED = b"the fake bundled model's weights"


@dataclass
class Folds:
    """Synthetic fold 9 and fold 10 of ``super``."""

    val: D.Split
    test: D.Split  # the labels the grid scores against (permuted or not)
    truth: np.ndarray  # the test labels the synthetic models predict


def _folds(permute: bool) -> Folds:
    rng = np.random.default_rng(0)

    def split(n: int, first: int) -> D.Split:
        y = (rng.random((n, len(SUPER))) < [0.2, 0.1, 0.25, 0.4, 0.25]).astype(np.float32)
        y[np.arange(n), rng.integers(0, len(SUPER), n)] = 1  # every record has a label, as in split()
        return D.Split(np.arange(n), y, np.arange(first, first + n))

    val, test = split(300, 1), split(300, 1001)
    shown = test.y[np.random.default_rng(1).permutation(len(test.y))] if permute else test.y
    return Folds(val, D.Split(test.rows, shown, test.ecg_id), test.y)


def _synthetic(folds: Folds, method: str, frac: float, seed: int) -> G.RunOut:
    """A model's cell: its predictions depend on the method, label fraction and seed, never on the
    labels the grid is given for fold 10 (a model cannot see them)."""
    ssl = method.split("-")[0]
    signal = QUALITY[ssl] * (1.0 if frac >= 1 else 0.7)

    def probs(y: np.ndarray, fold: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(f"{method}/{frac}/{seed}/{fold}".encode()))
        return 1 / (1 + np.exp(-(3 * signal * y - 1.5 + rng.normal(0, 1, y.shape))))

    val_probs = probs(folds.val.y, "val")
    info = {"epoch": 1 + (seed + len(method)) % 3}
    if method == "finetune" and frac >= 1:
        info |= {"bundled": BUNDLED, "weights_sha256": hashlib.sha256(SHIPPED).hexdigest()}
    return G.RunOut(round(1000 * frac), M.macro(folds.val.y, val_probs)[0], SUPER, folds.val, folds.test,
                    val_probs, probs(folds.truth, "test"), info)  # fmt: skip


def _grid(run_dir: Path, permute: bool) -> None:
    """``run_grid`` on synthetic models (seeds=1 asked: it must run ``MIN_SEEDS`` below 100 %)."""
    folds = _folds(permute)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(G, "pretrain", lambda ctx, method="clear": None)
        mp.setattr(G, "features", lambda ctx, encoder, family="beats": (None, None))
        mp.setattr(G, "_frozen_run", lambda ctx, rows, feats, method, task, frac, seed, tag, probe:
                   _synthetic(folds, method, frac, seed))  # fmt: skip
        for m in TRAINED:
            mp.setitem(G.RUNNERS, m, lambda ctx, task, frac, seed, tag, m=m: _synthetic(folds, m, frac, seed))
        G.run_grid(SimpleNamespace(run_dir=run_dir), ["super"], [0.1, 1.0], 1, FROZEN + TRAINED)


@pytest.fixture(scope="module")
def two_grids(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The same synthetic grid twice: fold-10 labels as they are, and permuted."""
    root = tmp_path_factory.mktemp("protocol")
    runs = {permute: root / ("permuted" if permute else "plain") for permute in (False, True)}
    for permute, run in runs.items():
        run.mkdir()
        _grid(run, permute)
    return runs


CHOICES = ("method", "task", "fraction", "seed", "n_train", "val_auroc", "epoch", "bundled")
CHOSEN = ("Best on", "Against CLEAR", "CLEAR, the bundled")  # RESULTS.md's lines of the ranks' outcome


def _assert_same_choices(runs: dict[bool, Path], out: Path) -> None:
    """Everything chosen on fold 9 is the same in both runs and the fold-10 numbers are not (so
    the permutation reached them): each row's fold-9 score and selected epoch, the fold-9
    predictions and the F1 thresholds they give, the ranking of the frozen encoders, the verdict
    on the bundled model and the ranked tables of RESULTS.md."""
    plain, permuted = (G.read_rows(runs[p] / "grid.jsonl") for p in (False, True))
    assert [[r.get(k) for k in CHOICES] for r in plain] == [[r.get(k) for k in CHOICES] for r in permuted]
    assert [r["test"]["auroc"] for r in plain] != [r["test"]["auroc"] for r in permuted]
    for a, b in zip(plain, permuted, strict=True):
        pa, pb = G.load_preds(a), G.load_preds(b)
        for key in ("classes", "val_ecg_id", "val_y", "val_probs"):
            np.testing.assert_array_equal(pa[key], pb[key])
        np.testing.assert_array_equal(M.f1_thresholds(pa["val_y"], pa["val_probs"]),
                                      M.f1_thresholds(pb["val_y"], pb["val_probs"]))  # fmt: skip
    ranked = 0
    for head in ("hug", "linear"):
        ra, rb = RK.rank_methods(plain, head), RK.rank_methods(permuted, head)
        if ra is None:
            assert rb is None
            continue
        ranked += 1
        for name in ("cells", "common", "val", "mean_rank", "winners", "verdict"):
            assert getattr(ra, name) == getattr(rb, name), name
        assert ra.test != rb.test
    assert ranked

    md = {p: R.write_results([runs[p]], out / f"RESULTS-{p}.md", shipped=_shipped(out)).read_text()
          for p in (False, True)}  # fmt: skip
    chosen = [[line for line in md[p].splitlines() if line.startswith(CHOSEN)] for p in (False, True)]
    assert chosen[0] == chosen[1] and len(chosen[0]) == 2 * ranked
    for title in re.findall(r"## Pretraining methods compared: [^\n]*", md[False]):
        # the ranked table without the fold-10 numbers in parentheses is the same table
        tables = [md[p].split(title)[1].split("Best on")[0] for p in (False, True)]
        assert tables[0] != tables[1]
        assert re.sub(r" \(\d\.\d{3}\)", "", tables[0]) == re.sub(r" \(\d\.\d{3}\)", "", tables[1])


def test_permuting_fold_10_labels_changes_no_choice(two_grids: dict[bool, Path], tmp_path: Path) -> None:
    """On synthetic models whose fold-9 and fold-10 quality agree, permuting fold 10's labels
    scrambles the fold-10 numbers but moves no choice; ACL-ECG, the best on fold 9, wins."""
    _assert_same_choices(two_grids, tmp_path)
    ranking = RK.rank_methods(G.read_rows(two_grids[True] / "grid.jsonl"), "hug")
    assert ranking.winners == ["acl"] and "should change to the ACL-ECG encoder" in ranking.verdict


def _shipped(folder: Path) -> Path:
    """A weights file whose SHA-256 the synthetic 'finetune' rows carry: the shipped model."""
    path = folder / "shipped.safetensors"
    path.write_bytes(SHIPPED)
    return path


def _goal(md: str, start: str) -> list[str]:
    """The cells of the Goals row that begins with ``start``."""
    (line,) = [line for line in md.split("## Goals")[1].splitlines() if line.startswith(f"| {start}")]
    return [c.strip() for c in line.strip("|").split("|")]


def test_goals_are_paired_fold_10_differences(two_grids: dict[bool, Path], tmp_path: Path) -> None:
    """Each goal is a paired difference with its interval, 'met' only when the interval is above
    zero: met with the true fold-10 labels, not met once they are permuted. The bundled model is
    compared with each baseline at 100 % labels; rows without predictions are shown, not judged."""
    shipped = _shipped(tmp_path)
    md = {p: R.write_results([two_grids[p]], tmp_path / f"R-{p}.md", shipped=shipped).read_text()
          for p in (False, True)}  # fmt: skip
    hug = f"{G.LABEL['clear-hug']} beats {G.LABEL['random-hug']} | 10%"
    hug100 = hug.replace("10%", "100%")
    cells = _goal(md[False], hug)
    assert cells[2] == f"{G.MIN_SEEDS} of {G.MIN_SEEDS}" and cells[-1] == "met", cells
    lo, hi = map(float, re.findall(r"[+-]\d\.\d{3}", cells[5])[1:])
    assert 0 < lo < hi
    assert _goal(md[True], hug)[-1].startswith("not met"), _goal(md[True], hug)
    # permuted, CLEAR-HUG is ahead at 100 % by chance: a positive point is not enough
    point, lo, hi = map(float, re.findall(r"[+-]\d\.\d{3}", _goal(md[True], hug100)[5]))
    assert lo < 0 < point < hi and _goal(md[True], hug100)[-1] == "not met: the interval includes 0"
    bundled = _goal(md[False], f"bundled model `{BUNDLED}` beats {G.LABEL['scratch']} (`super`)")
    assert bundled[1:3] == ["100%", "1 of 1"] and bundled[-1] == "met", bundled
    # the same rows when other weights ship: named a candidate by its weights, not its file name
    other = R.write_results([two_grids[False]], tmp_path / "R-other.md").read_text()
    # (the app's own bundled model has its card's goal row there, and beats nothing in these rows)
    goals = other.split("## Goals")[1].splitlines()
    assert not [line for line in goals if line.startswith("| bundled") and " beats " in line]
    sha = hashlib.sha256(SHIPPED).hexdigest()[:8]
    assert _goal(other, f"candidate `{BUNDLED}` ({sha}\u2026) beats {G.LABEL['scratch']} (`super`)")
    assert "clearly" not in md[False]

    # a cell logged before predictions were kept: shown (marked), and its goal row not judged
    old = tmp_path / "old"
    shutil.copytree(two_grids[False], old)
    rows = [json.loads(line) for line in (old / "grid.jsonl").read_text().splitlines()]
    for r in rows:
        if r["fraction"] == 1.0:
            del r["preds"]
    (old / "grid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = R.write_results([old], tmp_path / "R-old.md", shipped=shipped).read_text()
    assert _goal(text, hug100)[-1].startswith("not judged")
    row = next(line for line in text.split("## `super`: macro AUROC")[1].splitlines()
               if line.startswith(f"| {G.LABEL['clear-hug']} |"))  # fmt: skip
    assert row.split("|")[2].strip()[-1] != G.NO_PREDS and row.split("|")[3].strip()[-1] == G.NO_PREDS


def test_grid_runs_at_least_five_seeds_below_full_labels(two_grids: dict[bool, Path]) -> None:
    """Asked for one seed, the grid ran ``MIN_SEEDS`` at 10 % labels and one at 100 %, and every
    row names its predictions file, written whole."""
    rows = G.read_rows(two_grids[False] / "grid.jsonl")
    for m in FROZEN + TRAINED:
        assert sorted(r["seed"] for r in rows if r["method"] == m and r["fraction"] == 0.1) == list(range(5))
        assert [r["seed"] for r in rows if r["method"] == m and r["fraction"] == 1.0] == [0]
    assert all(r["preds"].is_file() for r in rows)
    assert not list((two_grids[False] / "preds").glob("*.tmp"))


def test_every_grid_method_has_a_runner() -> None:
    """A method is a frozen-encoder head or has a runner, so ``run_grid`` can dispatch it."""
    assert all(G.frozen(m) or m in G.RUNNERS for m in G.LABEL)
    assert all(m in G.LABEL for m in [*G.RUNNERS, *G.BASELINES])


def test_frozen_names_split_at_the_head() -> None:
    """A head's name may hold a dash (the paper's ``hug-linear``): the method is what precedes it."""
    assert G.frozen("clear-hug-linear") == ("clear", "hug-linear")
    assert G.frozen("random-hug") == (None, "hug")
    assert G.frozen("acl-pull-linear") == ("acl-pull", "linear")
    assert G.frozen("finetune") is None and G.frozen("clear-mlp") is None
    assert G.frozen("random-patches-hug") == (None, "hug")
    assert G.random_family("random-hug-linear") == "beats"
    assert G.random_family("random-patches-hug") == "patches"
    with pytest.raises(ValueError, match="not a random-init"):
        G.random_family("jepa-hug")


# --------------------------------------------------------------------------- the same on real training
def _permute_fold_10(pt: D.PtbxlData) -> None:
    """Shuffle the labels among the fold-10 records on disk (every statement of a record moves
    together), in place: the records, their signals and every other fold stay as they were."""
    lab = pt.labels
    test = np.flatnonzero((lab.fold == D.TEST_FOLD) & np.isin(lab.ecg_id, pt.ecg_id))
    lab.y[test] = lab.y[np.random.default_rng(0).permutation(test)]


@pytest.fixture(scope="module")
def tiny_grids(shared: Path, tiny_seed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The grid of the tiny preset, trained for real, twice over one token cache and one pretrained
    CLEAR encoder (a copy of the session's tiny run's): frozen linear and HUG heads on CLEAR and
    random init (5 seeds at 50 % labels) and supervised training from scratch at 100 %; the second
    time with fold 10's labels permuted."""
    import torch

    from training.context import Context
    from training.presets import PRESETS

    root = tmp_path_factory.mktemp("tiny-protocol")
    cache, threads = root / "cache", torch.get_num_threads()
    shutil.copytree(tiny_seed / "cache", cache)
    encoder = tiny_seed / "run" / "encoder.safetensors"
    runs = {}
    torch.set_num_threads(1)  # the machine is shared; the tiny models do not need more
    try:
        for permute in (False, True):
            runs[permute] = root / ("permuted" if permute else "plain")
            runs[permute].mkdir()
            for f in (encoder, encoder.with_name("pretrain.json")):
                shutil.copy(f, runs[permute] / f.name)
            ctx = Context(shared, runs[permute], cache, PRESETS["tiny"], progress=False)
            if permute:
                _permute_fold_10(ctx.ptbxl)
            frozen = ["clear-linear", "random-linear", "clear-hug", "random-hug"]
            G.run_grid(ctx, ["super"], [0.5, 1.0], 1, frozen)
            G.run_grid(ctx, ["super"], [1.0], 1, ["scratch"])
    finally:
        torch.set_num_threads(threads)
    return runs


def test_permuting_fold_10_labels_changes_no_trained_choice(
    tiny_grids: dict[bool, Path], tmp_path: Path
) -> None:
    """Real training on the tiny preset: with fold 10's labels permuted, every epoch's fold-9 score
    (so every selected epoch), the fold-9 predictions and thresholds, the ranks and the verdict
    are unchanged, while the fold-10 scores are not."""
    _assert_same_choices(tiny_grids, tmp_path)

    def epochs(run: Path) -> list[tuple]:
        log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["phase"], r["epoch"], r["val_auroc"]) for r in log]

    plain = epochs(tiny_grids[False])
    assert plain == epochs(tiny_grids[True]) and len(plain) == 4 * 6 * 3 + 1  # 3 probe epochs, 1 fine-tune


def test_the_shipped_model_is_chosen_on_fold_9(
    shared: Path, tiny_grids: dict[bool, Path], tmp_path: Path
) -> None:
    """``choose`` compares saved classifiers on fold 9: permuting fold 10's labels changes neither
    its figures nor its verdict (while the reported fold-10 comparison moves), a model never beats
    itself (the current one is among the candidates), and a fold-10 comparison ships nothing."""
    import torch

    from ecgviewer.ml.bundle import save_model
    from ecgviewer.ml.model import Classifier
    from training.context import Context
    from training.presets import PRESETS
    from training.supervised.choose import choose, compare

    cache = tiny_grids[False].parent / "cache"
    ctxs = {p: Context(shared, run, cache, PRESETS["tiny"], progress=False) for p, run in tiny_grids.items()}
    _permute_fold_10(ctxs[True].ptbxl)
    classes = {t: ctxs[False].ptbxl.split(t, D.TRAIN_FOLDS)[0] for t in ("super", "all")}
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    sizes = {t: len(c) for t, c in classes.items()}
    for seed, path in enumerate(paths):
        torch.manual_seed(seed)
        save_model(path, Classifier(PRESETS["tiny"].encoder, sizes), classes)
    val = {p: choose(ctx, paths, paths[1], ["super", "all"], n_boot=200) for p, ctx in ctxs.items()}
    assert val[False] == val[True] and val[False]["ships"] in (None, str(paths[0]))
    test = {p: choose(ctx, paths[:1], paths[1], ["super"], "test", n_boot=200) for p, ctx in ctxs.items()}
    assert test[False]["compared"] != test[True]["compared"] and test[False]["ships"] is None
    same = compare(ctxs[False], paths[0], paths[0], ["super"], n_boot=200)
    assert same["tasks"]["super"]["difference"] == 0 and same["tasks"]["super"]["difference_ci"] == [0.0, 0.0]
    assert not same["better"]


def test_of_the_candidates_that_beat_the_current_model_the_best_on_fold_9_ships(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a candidate better on every task may ship; of those, the highest mean fold-9 AUROC,
    whatever their order; a candidate that is higher but not beyond the interval never ships."""
    from training.supervised import choose as C

    fake = {"a": (True, 0.90), "b": (True, 0.95), "c": (False, 0.99)}

    def compare(ctx, candidate, current, tasks, split="val", n_boot=1000, not_worse=()):
        better, auroc = fake[str(candidate)]
        return {"candidate": str(candidate), "better": better,
                "tasks": {t: {"candidate_auroc": auroc} for t in tasks}}  # fmt: skip

    monkeypatch.setattr(C, "compare", compare)
    for order in (["a", "b", "c"], ["c", "b", "a"]):
        assert C.choose(None, [Path(x) for x in order], Path("now"), ["super", "all"])["ships"] == "b"
    assert C.choose(None, [Path("c")], Path("now"), ["super"])["ships"] is None
    assert C.choose(None, [Path("b")], Path("now"), ["super"], "test")["ships"] is None


def test_a_task_named_not_worse_only_has_to_stay_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """``choose --not-worse super``: a candidate aimed at ``all`` ships when it beats the current
    model there and is level on ``super``, and not when ``super`` is clearly below."""
    from types import SimpleNamespace

    from training.supervised import choose as C

    rng = np.random.default_rng(0)
    y = (rng.random((600, 3)) < 0.3).astype(int)
    noise, other = rng.normal(0, 1, y.shape), rng.normal(0, 1, y.shape)
    probs = {
        ("now", "all"): y + noise * 1.5, ("now", "super"): y + noise,
        ("new", "all"): y + noise * 0.8, ("new", "super"): y + other,
        ("bad", "all"): y + noise * 0.8, ("bad", "super"): y + noise * 2.0,
    }  # fmt: skip
    monkeypatch.setattr(C, "load_model", lambda path: SimpleNamespace(model=str(path)))
    monkeypatch.setattr(
        C, "evaluate_split", lambda m, ctx, task, split, n_boot: {"y": y, "probs": probs[m, task]}
    )
    level = C.compare(None, Path("new"), Path("now"), ["all"], n_boot=200, not_worse=("super",))
    assert level["tasks"]["all"]["better"] and not level["tasks"]["super"]["worse"] and level["better"]
    assert not C.compare(None, Path("new"), Path("now"), ["all", "super"], n_boot=200)["better"]
    assert not C.compare(None, Path("bad"), Path("now"), ["all"], n_boot=200, not_worse=("super",))["better"]


def test_results_name_a_model_by_its_weights() -> None:
    """The shipped weights are the bundled model; the bundled file's earlier weights are named as
    such, not as a candidate that was never shipped; other exports are candidates."""
    shipped, old = "a" * 64, "b" * 64
    assert R.who(shipped, "clear-hug-bundled", shipped) == "bundled model `clear-hug-bundled`"
    assert (
        R.who(old, "clear-hug-bundled", shipped)
        == "earlier bundled model `clear-hug-bundled` (bbbbbbbb\u2026)"
    )
    assert R.who(old, "clear-hug-bundled.safetensors", shipped).startswith("earlier bundled")  # grid rows
    assert R.who(old, "clear-hug-release", shipped).startswith("candidate `clear-hug-release`")


def test_the_shipped_card_is_read_without_its_run_folder(two_grids: dict[bool, Path], tmp_path: Path) -> None:
    """The bundled model's section and goal come from the card beside its weights, so RESULTS.md
    keeps them when the run folder that exported it is gone; a card of other weights there is not
    called the bundled model."""
    shipped = _shipped(tmp_path)
    test = {"auroc": 0.93, "auroc_ci": [0.926, 0.935], "auprc": 0.8, "auprc_ci": [0.79, 0.81], "n": 2158}
    sha = hashlib.sha256(SHIPPED).hexdigest()
    card = {"name": "clear-hug-bundled", "command": "python -m training run", "hardware": {}, "timings": {},
            "labels": {"super": {"test": test}}, "weights_sha256": sha}  # fmt: skip
    shipped.with_suffix(".json").write_text(json.dumps(card))
    md = R.write_results([two_grids[False]], tmp_path / "R.md", shipped=shipped).read_text()
    assert "## Bundled model `clear-hug-bundled`\n" in md
    assert _goal(md, f"bundled model `clear-hug-bundled` >= {G.BUNDLED_GOAL}")[-1] == "met"
    shipped.with_suffix(".json").write_text(json.dumps(card | {"weights_sha256": "0" * 64}))
    md = R.write_results([two_grids[False]], tmp_path / "R.md", shipped=shipped).read_text()
    assert "## Bundled model" not in md and "## Earlier bundled model (replaced" in md
