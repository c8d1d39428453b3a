"""``python -m training record-head``: the record head (``ecgviewer.ml.record_head``) fitted on the
beat list's rhythm and dominant-beat features of PTB-XL's training folds (1-8, at 100 Hz, read by
the app's reader) for every PTB-XL statement,
the weight of its evidence beside the encoder chosen on fold 9 against the bundled model's kept fold-9 window
probabilities (``every_beat``, read every beat as the app reads them), then its thresholds and
which of its statements the app shows, by the encoder card's rules, on fold 9. Fold 10 is never read
here. ``RECORD_HEAD.md`` reports fold 9: the encoder alone, the head alone and both, paired.

The models are scikit-learn's: perceptrons (``MLPClassifier``, one output per statement), a
logistic regression and gradient-boosted trees (``HistGradientBoostingClassifier``) per statement;
the app runs their weights and walks their trees in NumPy. For the rhythm statements alone, trees
scored fold 9 alike (0.980 with the encoder against 0.978, session 112); over all 71 with the
dominant beat's features, the three kinds averaged beat the perceptrons alone (``Config``).

Tried and not kept (session 124, fold 9, the head refitted with and without, weight 3 for both):
each lead's count of QRS turns standing out by 0.05 mV (``scipy.signal.find_peaks`` prominence; the
notches and slurs of a fragmented QRS, Das et al., Circulation 2006;113:2495) among the dominant
beat's features: form +0.0075 [-0.0022, +0.0215], all +0.0010 [-0.0021, +0.0059], diag -0.0021
[-0.0046, -0.0000]; abnormal QRS (ABQRS) 0.782 -> 0.787, Q waves 0.893 -> 0.892. Session 127, the
same way: the heart's vector derived from the dominant beat's features (the QRS areas and the T
waves' larger deflections of I, II and V1-V6 through Kors's regression to X, Y and Z, Kors et al.,
Eur Heart J 1990;11:1083; the frontal QRS and T axes from I and aVF; the frontal and spatial QRS-T
angles, the vectors' magnitudes and Z parts: 8 features, each weight chosen again on fold 9): all
-0.0011 [-0.0046, +0.0029], form +0.0004 [-0.0133, +0.0139], diag -0.0022 [-0.0043, -0.0002],
rhythm -0.0019 [-0.0039, -0.0003], super (mixed) +0.0002 [-0.0003, +0.0008]: the models already read
the leads' amplitudes. Session 128, the same way: 13 criteria counted over the leads as a reader
counts them (aVR left out): leads with a pathological Q wave (30 ms, or a quarter of the R and 0.1
mV) and the largest Q/R, leads with ST depression of 0.05 mV at J + 60 ms and with ST elevation of
0.1 mV at J, the lowest and highest ST, leads with a low (under a tenth of an R of 0.3 mV or
more), flat (under 0.05 mV) or inverted (0.1 mV) T wave (III and V1 left out), Sokolow-Lyon's and
Cornell's voltages, the largest limb and chest QRS: form -0.0037 [-0.0123, +0.0066] (non-specific
ST 0.839 -> 0.849, abnormal QRS 0.783 -> 0.789, high voltage 0.817 -> 0.779), all -0.0000
[-0.0025, +0.0032], diag +0.0005 [-0.0013, +0.0023], rhythm -0.0012 [-0.0028, +0.0006], super
(mixed) +0.0005 [-0.0002, +0.0012].
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.forest import Forest
from ecgviewer.measure import beat_shape_features as S
from ecgviewer.measure import rhythm_features as RF
from ecgviewer.ml import record_head as H
from training import REPO, REPORTS, RUN_LOGS, RUNS, SHARED_DATA
from training.data import datasets as D
from training.supervised import forest as T

if TYPE_CHECKING:
    from training.supervised.export import Weigh

COMMAND = "python -m training record-head"
CACHE = RUNS / "record-head"
SAVE_EVERY = 2000  # records read between saves of the features' cache
# the head's weight beside the encoder: fold 9 picks (the three kinds' averaged log-odds are milder
# than the perceptrons' alone, and fold 9 chose 2 of them: the grid reaches past it)
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
Beside = tuple[H.RecordHead, np.ndarray]  # the head and its probabilities (records, codes)
Statements = np.ndarray | None  # the encoder's (records, codes) probabilities of the head's statements
TASKS = ("rhythm", "form", "diag", "all")  # the tasks the head's statements are reported in


@dataclass(frozen=True)
class Config:
    """The three kinds of model (``ml.record_head``); session 114 chose, on fold 9, the three
    averaged over the perceptrons alone, with a linear model or with trees (all: 0.9309, 0.9332,
    0.9356, three 0.9365)."""

    hidden: int = 64  # fold 9, session 113: 32 for the rhythm features alone, 64 with the beat's
    depth: int = 2
    members: int = 3  # seeds, probabilities averaged
    # L2 penalty; 0.1 (session 116, fold 9, the other kinds kept): all -0.0008 [-0.0030, +0.0014],
    # form -0.0028 [-0.0115, +0.0057]
    alpha: float = 1e-2
    max_iter: int = 300
    linear_c: float = 0.1  # the logistic regressions' inverse L2 penalty
    trees: int = 200  # at most, per statement (each stops when a tenth held out stops improving)
    tree_rate: float = 0.05
    tree_leaves: int = 15
    tree_l2: float = 1.0


def _features_of(path: str) -> np.ndarray:
    """One record's features (a worker: the beat list's delineator loaded once a process); NaN
    throughout where the record cannot be read, which the caller reports."""
    from ecgviewer.io import load

    try:
        return H.recording_features(load(path))
    except Exception:  # counted and named by ``run``
        return np.full(len(H.NAMES), np.nan)


def _key() -> str:
    """The cache's key: what the features depend on (the beat list's modules and models, its
    classifier too: the share of each beat kind is a feature)."""
    from ecgviewer.assets import beat_classifier_path, delineator_path
    from ecgviewer.weights import sha256
    from training.supervised.beat_classifier import _key as beats_key

    h = hashlib.sha256(beats_key(delineator_path()).encode())  # ``H.measuring_delineator``
    h.update(sha256(beat_classifier_path()).encode())
    h.update(Path(RF.__file__).read_bytes())
    h.update(Path(S.__file__).read_bytes())
    h.update(inspect.getsource(H.recording_features).encode())
    return h.hexdigest()[:12]


def features(paths: dict[int, Path], workers: int = 2, cache: Path = CACHE) -> np.ndarray:
    """(records, H.NAMES) of ``paths`` (ecg_id -> .hea), in their order; cached by ecg_id under
    ``cache`` (the records already there are not read again), saved every SAVE_EVERY records so
    that a run stopped part of the way carries on from there."""
    import io

    from ecgviewer.storage import atomic_write_bytes

    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"features-{_key()}.npz"
    known: dict[int, np.ndarray] = {}
    if file.is_file():
        with np.load(file) as z:
            known = dict(zip(z["ecg_id"].tolist(), z["X"], strict=True))
    todo = [e for e in paths if e not in known]
    pool = ProcessPoolExecutor(workers) if workers > 1 and todo else None
    try:
        for a in range(0, len(todo), SAVE_EVERY):
            chunk = todo[a : a + SAVE_EVERY]
            files = [str(paths[e]) for e in chunk]
            # in this process with one worker: a worker would import torch and load the delineator again
            read = pool.map(_features_of, files, chunksize=32) if pool else map(_features_of, files)
            known.update(zip(chunk, read, strict=True))
            buf = io.BytesIO()
            np.savez_compressed(buf, ecg_id=np.array(list(known)), X=np.array(list(known.values())))
            atomic_write_bytes(file, buf.getvalue())
    finally:
        if pool:
            pool.shutdown()
    return np.array([known[e] for e in paths])


def fit(x: np.ndarray, y: np.ndarray, cfg: Config) -> dict[str, np.ndarray]:
    """The head's arrays fitted on features ``x`` (records, H.NAMES) and targets ``y``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    median = np.nanmedian(x, axis=0)
    median = np.where(np.isfinite(median), median, 0.0)
    z = H.inputs(x, median)
    mean, scale = z.mean(axis=0), z.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.clip((z - mean) / scale, -H.CLIP, H.CLIP)
    prior = np.clip(np.asarray(y, np.float64).mean(axis=0), 1e-4, 1 - 1e-4)  # a class never seen: 1e-4
    arrays = {"median": median, "mean": mean, "scale": scale, "prior": prior}
    for m in range(cfg.members):
        net = MLPClassifier((cfg.hidden,) * cfg.depth, alpha=cfg.alpha, max_iter=cfg.max_iter, random_state=m)
        with warnings.catch_warnings():  # max_iter is the setting (Config), not a failure
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(z, y)
        for i, (w, b) in enumerate(zip(net.coefs_, net.intercepts_, strict=True)):
            arrays[f"m{m}_l{i}_weight"], arrays[f"m{m}_l{i}_bias"] = w, b
    arrays["linear_weight"], arrays["linear_bias"] = _linear(z, y, prior, cfg)
    return arrays | _forest(x, y, prior, cfg)


def _linear(z: np.ndarray, y: np.ndarray, prior: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression per statement on the perceptrons' inputs ``z``: (weights (inputs,
    codes), biases); a statement seen in only one state keeps its share of the records."""
    from sklearn.linear_model import LogisticRegression

    w, b = np.zeros((z.shape[1], y.shape[1])), H.logit(prior)
    for k in range(y.shape[1]):
        if 0 < y[:, k].sum() < len(y):
            m = LogisticRegression(C=cfg.linear_c, max_iter=500).fit(z, y[:, k])
            w[:, k], b[k] = m.coef_[0], m.intercept_[0]
    return w, b


def _forest(x: np.ndarray, y: np.ndarray, prior: np.ndarray, cfg: Config) -> dict[str, np.ndarray]:
    """Gradient-boosted trees per statement on the features (unmeasured ones as missing), as the
    flat arrays ``ecgviewer.forest.Forest`` walks; a statement with fewer than 2 records either way
    has no trees and keeps its share of the records."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.where(np.isfinite(x), x, np.nan)
    trees, base = [], H.logit(prior)
    for k in range(y.shape[1]):
        if min(y[:, k].sum(), len(y) - y[:, k].sum()) < 2:
            continue
        m = HistGradientBoostingClassifier(
            max_iter=cfg.trees, learning_rate=cfg.tree_rate, max_leaf_nodes=cfg.tree_leaves,
            l2_regularization=cfg.tree_l2, early_stopping=True, random_state=k,
        ).fit(x, y[:, k])  # fmt: skip
        (sequence,), (base[k],) = T.per_output(m)  # one sequence: a binary target
        trees.append((k, sequence))
    return T.arrays(trees, base)


def head(
    arrays: dict[str, np.ndarray], codes: list[str], cfg: Config, weight: float,
    calibration: tuple[float, float] = (1.0, 0.0), **decided: object,
) -> H.RecordHead:  # fmt: skip
    """The app's head from ``fit``'s arrays; ``decided``: what fold 9 chose beside the weight and
    the calibration (the encoder it was chosen with, thresholds, the statements shown and their
    fold-9 figures)."""
    layers = cfg.depth + 1
    members = tuple(
        tuple((arrays[f"m{m}_l{i}_weight"], arrays[f"m{m}_l{i}_bias"]) for i in range(layers))
        for m in range(cfg.members)
    )
    meta = {"features": list(H.NAMES), "codes": codes, "layers": layers, "members": cfg.members,
            "weight": weight, "calibration": list(calibration), **asdict(cfg), **decided}  # fmt: skip
    a = arrays
    linear, forest = (a["linear_weight"], a["linear_bias"]), Forest.from_arrays(a)
    return H.RecordHead(tuple(codes), a["median"], a["mean"], a["scale"], members, linear, forest, weight,
                        a["prior"], calibration, meta)  # fmt: skip


def beside(encoder_sha256: str, ids: np.ndarray, data_root: Path, workers: int = 2) -> Beside | None:
    """The bundled head and its probabilities of the PTB-XL records ``ids`` (their 100 Hz files
    under ``data_root``), where the app weighs it beside the encoder of ``encoder_sha256``
    (``infer.record_head_for``); None where it does not: the validation commands then read the
    encoder alone, as the app does."""
    from ecgviewer.ml.infer import record_head_for

    head = record_head_for(encoder_sha256)
    if head is None:
        return None
    root = D.ptbxl_root(data_root)
    paths = {int(e): D.ptbxl_record(root, int(e)).with_suffix(".hea") for e in ids}
    return head, head.probabilities(features(paths, workers))


def weigher(model_file: Path, data_root: Path) -> Weigh | None:
    """``export.evaluate_split``'s ``weigh``: a task's probabilities with the head weighed in, where
    the app weighs it beside ``model_file`` (``beside``); None where it does not."""
    from ecgviewer.ml.infer import record_head_for

    sha = _sha(model_file)
    if record_head_for(sha) is None:
        return None

    def weigh(classes: list[str], p: np.ndarray, ids: np.ndarray, statements: Statements) -> np.ndarray:
        b = beside(sha, ids, data_root)
        return p if b is None else b[0].weighed(classes, p, b[1], statements)

    return weigh


def described(b: Beside | None) -> str:
    """The head weighed in, in words for a report ("" without one)."""
    if b is None:
        return ""
    from ecgviewer.assets import record_head_path

    name = record_head_path().name
    sup = b[0].meta.get("super")
    mixed = ""
    if sup is not None:
        mixed = (f" The superclasses too: each read off its likeliest statement so read, mixed "
                 f"{sup['weight']:g} with the encoder's own super head and calibrated, with their own "
                 f"thresholds (`{COMMAND} --superclasses`).")  # fmt: skip
    return (f" The {len(b[0].codes)} statements are read with the record head `{name}` weighed "
            f"in (weight {b[0].weight:g}, its own thresholds and shown statements: `{COMMAND}`), as the "
            f"app reads them.{mixed}")  # fmt: skip


def record_paths(
    labels: D.Labels, folds: tuple[int, ...], roots: list[Path], limit: int | None
) -> dict[int, Path]:
    """ecg_id -> the first root's 100 Hz record of each of ``folds``' records found (the first
    ``limit`` of each fold: tests)."""
    out: dict[int, Path] = {}
    for fold in folds:
        ids = labels.ecg_id[labels.fold == fold][:limit]
        for e in ids.tolist():
            for root in roots:
                if (p := D.ptbxl_record(root, e).with_suffix(".hea")).is_file():
                    out[e] = p
                    break
    return out


def encoder_fold9(
    model_file: Path, paths: dict[int, Path], labels: D.Labels, workers: int, task: str = "all"
) -> np.ndarray:
    """(records, classes) fold-9 probabilities of the encoder's ``task`` head as the app reads a
    record (every beat, beat-weighted), from its kept window probabilities (``every_beat``) or
    computed afresh."""
    from ecgviewer.ml import contract
    from ecgviewer.weights import sha256
    from training.supervised import every_beat as E

    ids = np.array(list(paths))
    kept_file = E.kept_path(E.LOGS, 9, sha256(model_file), contract.CONTRACT_VERSION)
    kept = E.load(kept_file) if kept_file.is_file() else None
    if kept is None or not np.isin(ids, kept["ecg_id"]).all():
        root = paths[int(ids[0])].parents[2]
        kept = E.window_probabilities(model_file, root, ids, workers)
    p = E.combine(kept, task, "beats")
    row = {int(e): i for i, e in enumerate(kept["ecg_id"])}
    return p[[row[int(e)] for e in ids]]


def choose(
    y: np.ndarray, encoder: np.ndarray, alone: np.ndarray, rh: H.RecordHead
) -> tuple[float, list[dict]]:
    """The weight of WEIGHTS with the highest fold-9 macro AUROC (the smaller on a tie), and each's."""
    from training.validate.metrics import macro

    rows = [
        {"weight": w, "auroc": macro(y, replace(rh, weight=w).combined(encoder, alone))[0]} for w in WEIGHTS
    ]
    best = max(rows, key=lambda r: (round(r["auroc"], 6), -r["weight"]))
    return float(best["weight"]), rows


def calibrate(y: np.ndarray, p: np.ndarray, prior: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) that fit targets ``y`` best (log-loss, every statement's findings pooled)
    when applied to the evidence of ``p`` (records, codes) over each statement's share ``prior``
    (``RecordHead.combined``): Platt scaling with the share as an offset, two numbers that fold 9
    can set. Without the offset, on session 114's head, the fold-9 class-wise calibration error was
    0.017 against 0.007 with it (SR's mean probability 0.52 where 0.77 of the records have it)."""
    from scipy.optimize import minimize

    share = np.broadcast_to(H.logit(prior), p.shape)
    evidence = H.logit(p) - share

    def loss(t: np.ndarray) -> tuple[float, np.ndarray]:
        q = H.sigmoid(share + t[0] * evidence + t[1])
        eps = 1e-12
        nll = -np.mean(y * np.log(q + eps) + (1 - y) * np.log(1 - q + eps))
        r = q - y
        return float(nll), np.array([np.mean(r * evidence), np.mean(r)])

    t = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x
    return float(t[0]), float(t[1])


def scored(labels: D.Labels, task: str, y: np.ndarray, encoder: np.ndarray, both: np.ndarray) -> dict:
    """``task`` as it is scored (its statements, on the records with one of them) from the 71
    statements' targets and probabilities: the encoder alone and with the head, paired."""
    from training.validate.metrics import paired_bootstrap, report

    names = labels.task(task)[0]
    yt, et, bt = (labels.aggregate(task, m)[1] for m in (y, encoder, both))
    keep = yt.any(axis=1)
    yt, et, bt = yt[keep], et[keep], bt[keep]
    return {"records": int(keep.sum()), "encoder": report(yt, et, names), "combined": report(yt, bt, names),
            "combined_minus_encoder": paired_bootstrap(yt, [bt], [et])}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    from ecgviewer.assets import model_path, record_head_path
    from training.supervised.export import surfaced
    from training.validate.metrics import f1_thresholds, paired_bootstrap, report

    root = D.ptbxl_root(args.data_root)
    labels = D.load_labels(root)
    roots = [root, *([args.records] if args.records else [])]
    codes = list(labels.statements)
    targets = labels.y
    row = {int(e): i for i, e in enumerate(labels.ecg_id)}
    train = record_paths(labels, D.TRAIN_FOLDS, roots, args.limit)
    listed = [int(e) for f in D.TRAIN_FOLDS for e in labels.ecg_id[labels.fold == f][: args.limit]]
    absent = [e for e in listed if e not in train]
    val = record_paths(labels, (D.VAL_FOLD,), roots, args.limit)
    x_train, x_val = features(train, args.workers), features(val, args.workers)
    unread = [e for e, x in zip([*train, *val], [*x_train, *x_val], strict=True) if np.isnan(x).all()]
    cfg = Config()
    arrays = fit(x_train, targets[[row[e] for e in train]], cfg)
    model_file = args.model or model_path()
    rh = head(arrays, codes, cfg, 1.0)
    # every fold-9 record, each statement scored over all of them as the app decides on any record
    y = targets[[row[e] for e in val]].astype(np.float32)
    encoder = encoder_fold9(model_file, val, labels, args.workers)
    alone = rh.probabilities(x_val)
    weight, rows = choose(y, encoder, alone, rh)
    calibration = calibrate(y, replace(rh, weight=weight).combined(encoder, alone), rh.prior)
    both = replace(rh, weight=weight, calibration=calibration).combined(encoder, alone)
    val_report = report(y, both, codes)
    thresholds = dict(zip(codes, map(float, f1_thresholds(y, both)), strict=True))
    shown = [c for c in codes if surfaced(val_report, c)]
    val_figures = {k: val_report[k] for k in ("per_class_auroc", "support")}
    rh = head(arrays, codes, cfg, weight, calibration, encoder_sha256=_sha(model_file), thresholds=thresholds,
              surfaced=shown, val=val_figures)  # fmt: skip
    results = {
        "encoder": report(y, encoder, codes),
        "head": report(y, alone, codes),
        "combined": val_report,
        "combined_minus_encoder": paired_bootstrap(y, [both], [encoder]),
        "tasks": {t: scored(labels, t, y, encoder, both) for t in TASKS},
        "weights": rows,
        "weight": weight,
        "calibration": {"slope": calibration[0], "intercept": calibration[1]},
        "thresholds": thresholds,
        "surfaced": shown,
        "records": {"train": len(train), "val": len(val), "unread": unread, "absent": absent},
        "model": {"file": model_file.name, "sha256": _sha(model_file)},
    }  # fmt: skip
    out = args.out or record_head_path()
    _write(out, rh, arrays, results)
    if args.out is None:  # the bundled head: the encoder's card says it is read beside it
        _beside_card(model_file, out, results)
    (args.report).write_text(markdown(results, out.name))
    return results


def _sha(path: Path) -> str:
    from ecgviewer.weights import sha256

    return sha256(path)


def _write(out: Path, rh: H.RecordHead, arrays: dict[str, np.ndarray], results: dict) -> None:
    """The weights (safetensors, the head's settings as metadata) and the card beside them."""
    import torch

    from ecgviewer.weights import save_weights, write_card

    def stored(k: str, v: np.ndarray) -> np.ndarray:  # indices whole; split values exact (float64)
        v = np.asarray(v)
        if v.dtype.kind in "biu":
            return v.astype(np.int32)
        return v.astype(np.float64 if k == "tree_threshold" else np.float32)

    tensors = {k: torch.from_numpy(np.ascontiguousarray(stored(k, v))) for k, v in arrays.items()}
    sha = save_weights(out, _module(tensors), "record_head", rh.meta)
    folds = ", ".join(map(str, D.TRAIN_FOLDS))
    card = {
        "name": out.stem,
        "task": "PTB-XL's statements from the beat list's rhythm and dominant-beat features, beside the "
        "encoder",
        "architecture": {
            "kind": "perceptrons, a logistic regression and gradient-boosted trees per statement, "
            "their log-odds averaged",
            "features": {"rhythm": RF.FEATURES, "dominant_beat": S.FEATURES},  # PR and QRS are in both
            **asdict(Config()),
        },
        "training_data": f"PTB-XL 1.0.3 at 100 Hz: the {results['records']['train']} records of strat_folds "
        f"{folds} found under the data roots; those absent are listed in records.absent, those the "
        "reader could not read (features all missing) in records.unread",
        "command": COMMAND,
        **results,
        "weights_sha256": sha,
    }
    write_card(out, card, markdown(results, out.name))


def _module(tensors: dict):  # -> torch.nn.Module
    """A module holding ``tensors`` (name -> torch tensor) as buffers, for ``save_weights``."""
    import torch

    module = torch.nn.Module()
    for k, v in tensors.items():
        module.register_buffer(k, v)
    return module


def _beside_card(model_file: Path, head_file: Path, results: dict) -> None:
    """The encoder's card (JSON and Markdown) names the head the app weighs beside it."""
    from ecgviewer.weights import read_card, write_card
    from training.supervised.card import markdown as card_markdown

    card = read_card(model_file)
    if card is None:
        return
    section = {"file": head_file.name, "card": head_file.with_suffix(".md").name,
               "sha256": _sha(head_file), "codes": list(results["thresholds"]), "weight": results["weight"],
               "tasks": {t: {"encoder_auroc": r["encoder"]["auroc"], "auroc": r["combined"]["auroc"]}
                         for t, r in results["tasks"].items()}}  # fmt: skip
    new = card | {"record_head": section}
    write_card(model_file, new, card_markdown(new))


def _tasks(tasks: dict) -> list[str]:
    """Each task as it is scored (its statements, the records with one), a line each."""
    out = []
    for task, t in tasks.items():
        d = t["combined_minus_encoder"]
        out.append(f"- `{task}` as it is scored ({t['records']} records with one of its statements): encoder "
                   f"{t['encoder']['auroc']:.4f}, both **{t['combined']['auroc']:.4f}**, paired "
                   f"{d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}].")  # fmt: skip
    return out


def markdown(results: dict, name: str) -> str:
    """The fold-9 figures in words and tables (the card's Markdown and RECORD_HEAD.md)."""
    enc, alone, both = (results[k] for k in ("encoder", "head", "combined"))
    d = results["combined_minus_encoder"]
    ci = lambda r: f"[{r['auroc_ci'][0]:.3f}, {r['auroc_ci'][1]:.3f}]"  # noqa: E731
    lines = [
        f"# {name}: the record head (research use, not a medical device)",
        "",
        f"Generated by `{COMMAND}`; do not edit by hand. Fold 9 (development) only: fold 10 is not "
        "read by this command.",
        "",
        f"- Encoder `{results['model']['file']}` ({results['model']['sha256'][:12]}), read every beat as "
        f"the app reads it; every one of the {results['records']['val']} fold-9 records; the head fitted "
        f"on {results['records']['train']} records of folds 1-8. Its statements: PTB-XL's "
        f"{len(results['thresholds'])}.",
        "- Weight of the head's evidence (its log-odds over each statement's share of the training records) "
        f"added to the encoder's log-odds, chosen on fold 9: **{results['weight']:g}** "
        "(" + ", ".join(f"{r['weight']:g}: {r['auroc']:.4f}" for r in results["weights"]) + ").",
        "- The two models' evidence then calibrated on fold 9 (Platt scaling about each statement's share, "
        f"every statement's findings pooled): times {results['calibration']['slope']:.3f}, plus "
        f"{results['calibration']['intercept']:+.3f}; "
        "every ranking, and so every AUROC, is the same.",
        f"- Macro AUROC over its statements: encoder {enc['auroc']:.4f} {ci(enc)}, head alone "
        f"{alone['auroc']:.4f} {ci(alone)}, both **{both['auroc']:.4f}** {ci(both)}; both minus encoder, "
        f"paired: {d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}].",
        *_tasks(results["tasks"]),
        "- Shown in the app by the encoder card's rule (fold-9 AUROC and positives): "
        + ", ".join(results["surfaced"])
        + ".",
        "",
        "| statement | fold-9 positives | encoder | head alone | both | threshold (F1, fold 9) |",
        "|---|---|---|---|---|---|",
    ]
    for c, n in both["support"].items():
        a = [r["per_class_auroc"][c] for r in (enc, alone, both)]
        cells = " | ".join("-" if v is None else f"{v:.3f}" for v in a)
        lines.append(f"| {c} | {n} | {cells} | {results['thresholds'][c]:.3f} |")
    lines += ["", "Features: the rhythm's (`ecgviewer/measure/rhythm_features.py`)", ""]
    lines += [f"- `{k}`: {v}" for k, v in RF.FEATURES.items()]
    lines += ["", "and the dominant beat's (`ecgviewer/measure/beat_shape_features.py`), each lead's:", ""]
    per_lead = {f"<lead>_{k}": v for k, v in S.PER_LEAD.items()}
    lines += [f"- `{k}`: {v}" for k, v in {**S.GLOBAL, **per_lead}.items()]
    return "\n".join(lines) + "\n"


ENCODER_ROWS = RUN_LOGS / "bundled"  # the bundled encoder's kept fold-10 predictions (grid rows)
BASELINES = (RUN_LOGS / "inception1d",)  # the CNNs' kept fold-10 predictions, compared with


def _kept(folder: Path, task: str) -> dict[str, np.ndarray] | None:
    """The 100 %-label cell of ``task`` kept in ``folder`` (``grid.read_rows``), or None."""
    from training.supervised.grid import load_preds, read_rows

    rows = [r for r in read_rows(folder / "grid.jsonl", None) if r["task"] == task and r["fraction"] == 1.0]
    return load_preds(rows[0]) if rows else None


def test(data_root: Path, head_file: Path, workers: int = 2, limit: int | None = None) -> dict:
    """Fold 10, read once the head ships (each task's read logged in ``training/FOLD10.md``): the
    bundled encoder's kept predictions of each of TASKS (and of ``super`` where the head
    ``mixes`` the superclasses) alone and with the head ``head_file`` weighed in, paired on the
    same records, and against each kept CNN baseline (``limit``: the first N records only, tests)."""
    from ecgviewer.assets import model_path
    from training.data.ledger import record
    from training.validate.metrics import paired_bootstrap, report

    head = H.RecordHead.load(head_file)
    out: dict = {"head_sha256": _sha(head_file), "tasks": {}}
    for task in (*TASKS, *(["super"] if head.superclasses else [])):
        enc = _kept(ENCODER_ROWS, task)
        if enc is None:
            continue
        enc = {k: v[:limit] if k.startswith("test_") else v for k, v in enc.items()}
        ids, y, classes = enc["test_ecg_id"], enc["test_y"], [str(c) for c in enc["classes"]]
        root = D.ptbxl_root(data_root)
        paths = {int(e): D.ptbxl_record(root, int(e)).with_suffix(".hea") for e in ids}
        statements = _statements(ENCODER_ROWS, ids, head) if head.mixes(classes) else None
        both = head.weighed(
            classes, enc["test_probs"], head.probabilities(features(paths, workers)), statements
        )
        row = {"records": len(ids), "both": report(y, both, classes),
               "both_minus_encoder": paired_bootstrap(y, [both], [enc["test_probs"]])}  # fmt: skip
        for folder in BASELINES:  # the CNN's run for the task alone where one is kept (super's)
            cnn = _kept(folder, task) or _kept(folder.with_name(f"{folder.name}-{task}"), task)
            if cnn is not None and np.array_equal(cnn["test_ecg_id"][:limit], ids):
                row[f"both_minus_{folder.name}"] = paired_bootstrap(y, [both], [cnn["test_probs"][:limit]])
        out["tasks"][task] = row
        what = f"{model_path().name} with {head_file.name} (`{COMMAND} --test`)"
        record(_sha(model_path()), task, f"macro AUROC {row['both']['auroc']:.4f}", what)
    return out


def check(data_root: Path, head_file: Path, against: Path | None = None, workers: int = 2,
          limit: int | None = None) -> dict:  # fmt: skip
    """Fold 9 read again with today's beat list (fits nothing): each task's macro AUROC of the head
    ``head_file`` beside the encoder, against the figure its card was fitted with, and paired against
    another head ``against`` (one fitted again) on the same features. Whether the head must be
    fitted again after the beat list changed (its kinds are features) is asked here."""
    from ecgviewer.assets import model_path
    from ecgviewer.weights import read_card
    from training.validate.metrics import macro, paired_bootstrap

    labels = D.load_labels(D.ptbxl_root(data_root))
    val = record_paths(labels, (D.VAL_FOLD,), [D.ptbxl_root(data_root)], limit)
    row = {int(e): i for i, e in enumerate(labels.ecg_id)}
    y = labels.y[[row[e] for e in val]].astype(np.float32)
    x, encoder = features(val, workers), encoder_fold9(model_path(), val, labels, workers)
    heads = {
        "head": H.RecordHead.load(head_file),
        **({"against": H.RecordHead.load(against)} if against else {}),
    }
    both = {k: h.combined(encoder, h.probabilities(x)) for k, h in heads.items()}
    fitted = (read_card(head_file) or {}).get("tasks", {})
    out: dict = {"head_sha256": _sha(head_file), "records": len(val), "tasks": {}}
    for task in TASKS:
        yt, *p = (labels.aggregate(task, m)[1] for m in (y, *both.values()))
        keep = yt.any(axis=1)
        t = {
            "auroc": macro(yt[keep], p[0][keep])[0],
            "fitted": fitted.get(task, {}).get("combined", {}).get("auroc"),
        }
        if against:
            t["minus_against"] = paired_bootstrap(yt[keep], [p[0][keep]], [p[1][keep]])
        out["tasks"][task] = t
    return out


def check_lines(c: dict) -> list[str]:
    """``check``'s figures as lines of text."""
    lines = [f"fold 9, {c['records']} records, today's beat list, head {c['head_sha256'][:12]}:"]
    for task, t in c["tasks"].items():
        fitted = "-" if t["fitted"] is None else f"{t['fitted']:.4f}"
        line = f"- `{task}` {t['auroc']:.4f} (as fitted: {fitted})"
        if "minus_against" in t:
            d = t["minus_against"]
            line += (
                f"; minus the other head {d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}]"
            )
        lines.append(line)
    return lines


def _statements(folder: Path, ids: np.ndarray, head: H.RecordHead) -> np.ndarray:
    """(ids, the head's codes) fold-10 probabilities of the `all` model kept in ``folder``."""
    kept = _kept(folder, "all")
    if kept is None:
        raise FileNotFoundError(f"{folder}: no kept `all` predictions to read the superclasses off")
    row = {int(e): i for i, e in enumerate(kept["test_ecg_id"])}
    col = [[str(c) for c in kept["classes"]].index(c) for c in head.codes]
    return kept["test_probs"][np.ix_([row[int(e)] for e in ids], col)]


def test_markdown(t: dict) -> str:
    """RECORD_HEAD.md's fold-10 section."""
    iv = lambda r: f"{r['auroc']:+.4f} [{r['auroc_ci'][0]:+.4f}, {r['auroc_ci'][1]:+.4f}]"  # noqa: E731
    lines = ["", "## Fold 10 (read once the head shipped, logged in training/FOLD10.md)", "",
             f"Head `{t['head_sha256'][:12]}`; the bundled encoder's kept fold-10 predictions "
             f"(`{ENCODER_ROWS.relative_to(REPO)}`), alone and with the head weighed in, paired on the "
             "same records, and against the kept CNN baselines' (100 % labels, from their `all` models; "
             "`super` from the one trained for it).",
             "", "| task | records | both: macro AUROC | both minus encoder | "
             + " | ".join(f"both minus {f.name}" for f in BASELINES) + " |",
             "|---|---|---|---|" + "---|" * len(BASELINES)]  # fmt: skip
    for task, r in t["tasks"].items():
        b = r["both"]
        cells = [iv(r[f"both_minus_{f.name}"]) if f"both_minus_{f.name}" in r else "-" for f in BASELINES]
        point = f"{b['auroc']:.4f} [{b['auroc_ci'][0]:.4f}, {b['auroc_ci'][1]:.4f}]"
        lines.append(
            f"| {task} | {r['records']} | {point} | {iv(r['both_minus_encoder'])} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


# The share of the superclasses' log-odds read off the 71 statements with the head weighed in (the
# rest the encoder's own super head's), the fold-9 grid of ``superclasses``
SUPER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def mixed(statements: np.ndarray, super_head: np.ndarray, weight: float) -> np.ndarray:
    """The superclasses' probabilities: ``weight`` of the log-odds read off the statements, the rest
    the super head's."""
    return H.sigmoid(weight * H.logit(statements) + (1 - weight) * H.logit(super_head))


def superclasses(data_root: Path, head_file: Path, workers: int = 2, limit: int | None = None) -> dict:
    """Fold 9: do the superclasses gain from the head? The encoder's own super head does not see
    it (``RecordHead.applies``). Read off the 71 statements instead, with the head weighed in, each
    superclass is its likeliest diagnostic statement, as PTB-XL's own labels aggregate them
    (``Labels.aggregate``): voltage, intervals and ST levels measured over every beat then count for
    HYP, CD and STTC. Each weight of SUPER_WEIGHTS mixes the two readings' log-odds; each weight's
    macro AUROC over the records with a superclass, and the best's per class and paired against the
    super head alone (``limit``: the first N fold-9 records, tests). The best is then calibrated
    (Platt scaling) and given F1 thresholds and the card's rule for what is shown, all on fold 9:
    ``decided``, which the app reads (``RecordHead.mixes``) where SHIP_RULE holds."""
    from ecgviewer.assets import model_path
    from ecgviewer.weights import read_card
    from training.supervised.export import surfaced
    from training.validate.metrics import f1_thresholds, paired_bootstrap, report

    head = H.RecordHead.load(head_file)
    root = D.ptbxl_root(data_root)
    labels = D.load_labels(root)
    val = record_paths(labels, (D.VAL_FOLD,), [root], limit)
    row = {int(e): i for i, e in enumerate(labels.ecg_id)}
    y = labels.y[[row[e] for e in val]].astype(np.float32)
    encoder = encoder_fold9(model_path(), val, labels, workers)
    own = encoder_fold9(model_path(), val, labels, workers, "super")
    both = head.weighed(list(labels.statements), encoder, head.probabilities(features(val, workers)))
    classes, ys = labels.aggregate("super", y)
    keep = ys.any(axis=1)
    ys, own, read = ys[keep], own[keep], labels.aggregate("super", both)[1][keep]
    mixes = {w: mixed(read, own, w) for w in SUPER_WEIGHTS}
    scores = {w: report(ys, p, classes, n_boot=0) for w, p in mixes.items()}
    best = max(SUPER_WEIGHTS, key=lambda w: (round(scores[w]["auroc"], 6), -w))
    calibration = calibrate(ys, mixes[best], np.full(len(classes), 0.5))  # plain Platt: no share offset
    p = H.sigmoid(calibration[0] * H.logit(mixes[best]) + calibration[1])
    best_report = report(ys, p, classes)
    members = labels.members("super")
    decided = {"weight": best, "calibration": list(calibration), "members": members,
               "thresholds": dict(zip(classes, map(float, f1_thresholds(ys, p)), strict=True)),
               "surfaced": [c for c in classes if surfaced(best_report, c)],
               "val": {k: best_report[k] for k in ("per_class_auroc", "support")}}  # fmt: skip
    shown = statements_shown(head, list(labels.statements), both[keep])
    card = read_card(model_path()) or {}
    before = card.get("labels", {}).get("super", {}).get("thresholds")
    agree = {"mixed": agreement(classes, p, decided["thresholds"], members, shown)}
    if before:
        agree["super_head"] = agreement(classes, own, before, members, shown)
    ludb_root = data_root / "ludb"
    return {"head_sha256": _sha(head_file), "records": int(keep.sum()), "classes": classes,
            "agreement": agree,
            "weights": [{"weight": w, "auroc": scores[w]["auroc"],
                         "per_class_auroc": scores[w]["per_class_auroc"]} for w in SUPER_WEIGHTS],
            "weight": best, "best": best_report,
            "ece": {"super_head": ece(ys, own), "mixed": ece(ys, mixes[best]), "calibrated": ece(ys, p)},
            "best_minus_super_head": paired_bootstrap(ys, [p], [own]), "decided": decided,
            "ludb": _ludb_superclasses(ludb_root, head, labels, best, limit) if ludb_root.is_dir()
            else None}  # fmt: skip


def statements_shown(head: H.RecordHead, codes: list[str], p: np.ndarray) -> dict[str, np.ndarray]:
    """Code -> (records,) whether the app states it: shown by the head's rule and at or above its
    threshold, of (records, ``codes``) probabilities with the head weighed in."""
    return {
        c: p[:, k] >= head.meta["thresholds"][c] for k, c in enumerate(codes) if c in head.meta["surfaced"]
    }


def agreement(
    classes: list[str], p: np.ndarray, thresholds: dict, members: dict, shown: dict[str, np.ndarray]
) -> dict[str, dict[str, int]]:
    """What a reader meets where a superclass and its statements disagree: for each superclass but
    NORM (its one statement is itself), the records it is positive in (``p`` at ``thresholds``),
    those of them with none of its statements stated, and those with one stated but not it."""
    out = {}
    for k, c in enumerate(classes):
        if c == "NORM":
            continue
        positive = p[:, k] >= thresholds[c]
        stated = np.zeros(len(p), bool)
        for m in members[c]:
            stated |= shown.get(m, False)
        out[c] = {"positive": int(positive.sum()), "none_of_its_statements": int((positive & ~stated).sum()),
                  "a_statement_without_it": int((~positive & stated).sum())}  # fmt: skip
    return out


# The app reads the superclasses mixed (``decided``) where, on fold 9, the mix beats the super head
# alone: the lower end of the paired interval of the macro AUROC above zero
def ships(study: dict) -> bool:
    return study["best_minus_super_head"]["auroc_ci"][0] > 0


def ece(y: np.ndarray, p: np.ndarray) -> float:
    """Expected calibration error over every (record, class), ``likelihood``'s reliability bins."""
    from training.validate.likelihood import reliability

    return float(reliability(p.ravel(), y.ravel())[1])


def decide(head_file: Path, study: dict, model_file: Path | None) -> str:
    """Write what fold 9 decided for the superclasses (``superclasses``) into the head's metadata,
    or take it out where ``ships`` does not hold (the head's arrays as they are); where the head is
    read beside ``model_file``, that encoder's card names the new weights. Their SHA-256."""
    from ecgviewer.weights import read_card, read_weights, save_weights, write_card

    meta, tensors = read_weights(head_file, "record_head", "record head")
    meta = {k: v for k, v in meta.items() if k != "super"}
    if ships(study):
        meta["super"] = study["decided"]
    sha = save_weights(head_file, _module(tensors), "record_head", meta)
    enc = read_card(model_file) if model_file is not None else None
    if model_file is not None and enc and enc.get("record_head"):
        from training.supervised.card import markdown as card_markdown

        section = {k: v for k, v in enc["record_head"].items() if k != "superclasses"} | {"sha256": sha}
        if ships(study):
            first = study["weights"][0]["auroc"]  # weight 0: the super head alone
            section["superclasses"] = {"weight": study["weight"], "encoder_auroc": first,
                                       "auroc": study["best"]["auroc"]}  # fmt: skip
        enc = enc | {"record_head": section}
        write_card(model_file, enc, card_markdown(enc))
    return sha


def _ludb_superclasses(
    root: Path, head: H.RecordHead, labels: D.Labels, weight: float, limit: int | None
) -> dict | None:
    """LUDB read by the app (``ood``'s label mapping, the same records as its LUDB table): the super
    head alone against the mix at fold 9's ``weight``, paired, over the classes with at least
    ``ood.MIN_COUNT`` positives and negatives (None without one; the first ``limit`` records, tests)."""
    from ecgviewer.io import load
    from training.validate import ood
    from training.validate.metrics import paired_bootstrap, report

    analyzer = _app(head)
    classes, rows, ys, own, read = labels.task("super")[0], ood.read_ludb(root), [], [], []
    for n in sorted(rows)[:limit]:
        y, _ = ood.map_labels(rows[n], classes)
        if y is None:
            continue
        tasks = analyzer.analyse(load(root / "data" / f"{n}.hea")).predictions.tasks
        found = {c.code: c.probability for c in tasks["all"]}
        ys.append([y[c] for c in classes])
        alone = {r.code: r.record_head[0] if r.record_head else r.probability for r in tasks["super"]}
        own.append([alone[c] for c in classes])
        read.append(labels.aggregate("super", np.array([[found[c] for c in labels.statements]]))[1][0])
    y, own_p, read_p = (np.array(v, dtype=np.float64).reshape(-1, len(classes)) for v in (ys, own, read))
    enough = [k for k in range(len(classes)) if ood.MIN_COUNT <= y[:, k].sum() <= len(y) - ood.MIN_COUNT]
    if not enough:
        return None
    names = [classes[k] for k in enough]
    y, own_p, read_p = y[:, enough], own_p[:, enough], read_p[:, enough]
    mix = mixed(read_p, own_p, weight)
    return {"records": len(y), "classes": names, "super_head": report(y, own_p, names),
            "statements": report(y, read_p, names, n_boot=0), "mixed": report(y, mix, names),
            "mixed_minus_super_head": paired_bootstrap(y, [mix], [own_p])}  # fmt: skip


def superclasses_markdown(r: dict) -> str:
    """RECORD_HEAD.md's section on the superclasses read off the statements (fold 9)."""
    d = r["best_minus_super_head"]
    shipped = "decided" in r and ships(r)
    read = "the app reads them so" if shipped else "a study: the app reads the super head alone"
    title = f"## The superclasses read off the statements (fold 9; {read})"
    lines = ["", title,
             "", f"Head `{r['head_sha256'][:12]}`. The {r['records']} fold-9 records with a superclass; each "
             "superclass read off the 71 statements with the head weighed in (its likeliest diagnostic "
             "statement, as PTB-XL aggregates its labels), its log-odds mixed with the encoder's own super "
             "head's at each weight (0: the super head alone; 1: the statements alone). "
             f"Best on fold 9: **{r['weight']:g}**, macro AUROC {r['best']['auroc']:.4f} "
             f"[{r['best']['auroc_ci'][0]:.4f}, {r['best']['auroc_ci'][1]:.4f}], minus the super head alone, "
             f"paired: {d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}].", "",
             "| weight | macro AUROC | " + " | ".join(r["classes"]) + " |",
             "|---|---|" + "---|" * len(r["classes"])]  # fmt: skip
    for w in r["weights"]:
        cells = [
            "-" if w["per_class_auroc"][c] is None else f"{w['per_class_auroc'][c]:.4f}" for c in r["classes"]
        ]
        lines.append(f"| {w['weight']:g} | {w['auroc']:.4f} | " + " | ".join(cells) + " |")
    if (dec := r.get("decided")) is not None:
        e, slope, intercept = r["ece"], *dec["calibration"]
        lines += ["", f"Calibrated on fold 9 (Platt scaling of the mix's log-odds: times {slope:.3f}, plus "
                  f"{intercept:+.3f}; every ranking kept): expected calibration error over every record and "
                  f"superclass {e['super_head']:.4f} for the super head alone, {e['mixed']:.4f} for the mix, "
                  f"{e['calibrated']:.4f} calibrated. Thresholds (F1, fold 9): "
                  + ", ".join(f"{c} {t:.3f}" for c, t in dec["thresholds"].items())
                  + f"; shown by the card's rule: {', '.join(dec['surfaced'])}. Rule for the app: the mix "
                  "replaces the super head where the paired interval's lower end lies above zero: "
                  f"**{'met: the app reads the mix' if shipped else 'not met'}**."]  # fmt: skip
    if (agree := r.get("agreement")) is not None and "super_head" in agree:
        rows = ["", "Where the superclass and its statements disagree on fold 9 (the statements as the app "
                "states them: shown, at their thresholds; each reading at its own thresholds): positive "
                "records, those with none of its statements stated, and those with one of its statements "
                "stated but not it.", "",
                "| superclass | super head alone | the mix |", "|---|---|---|"]  # fmt: skip
        for c, now in agree["mixed"].items():
            was = agree["super_head"][c]
            cells = [
                f"{x['positive']}, {x['none_of_its_statements']}, {x['a_statement_without_it']}"
                for x in (was, now)
            ]
            rows.append(f"| {c} | {cells[0]} | {cells[1]} |")
        lines += rows
    if (lu := r.get("ludb")) is not None:
        d = lu["mixed_minus_super_head"]
        alone, mix = lu["super_head"], lu["mixed"]
        by_class = ", ".join(
            f"{c} {alone['per_class_auroc'][c]:.3f} to {mix['per_class_auroc'][c]:.3f}" for c in lu["classes"]
        )
        lines += ["", f"LUDB read by the app (another hospital; `ood`'s label mapping), the mix at "
                  f"{r['weight']:g}: {lu['records']} records, macro AUROC over {', '.join(lu['classes'])}: "
                  f"super head {alone['auroc']:.4f}, statements alone {lu['statements']['auroc']:.4f}, "
                  f"the mix **{mix['auroc']:.4f}**, paired "
                  f"{d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}]; "
                  f"by class {by_class}."]  # fmt: skip
    return "\n".join(lines) + "\n"


# LUDB's rhythm line (each record's header: "#Rhythm: ...") -> the PTB-XL statement it is scored as
LUDB_RHYTHMS = {"Sinus rhythm": "SR", "Sinus bradycardia": "SBRAD", "Sinus tachycardia": "STACH",
                "Sinus arrhythmia": "SARRH", "Irregular sinus rhythm": "SARRH", "Atrial fibrillation": "AFIB",
                "Atrial flutter, typical": "AFLT"}  # fmt: skip


# LUDB's other diagnoses (a header line beginning so) -> the PTB-XL statement scored; the conduction,
# hypertrophy, ectopy and pacing lines only: its ischaemia, scar and repolarisation lines name walls
# that PTB-XL's infarction and ST-T statements do not split alike
LUDB_FINDINGS = {"Left ventricular hypertrophy": "LVH", "Left atrial hypertrophy": "LAO/LAE",
                 "Left atrial overload": "LAO/LAE", "Right atrial overload": "RAO/RAE",
                 "Right atrial hypertrophy": "RAO/RAE", "Incomplete right bundle branch block": "IRBBB",
                 "Complete right bundle branch block": "CRBBB",
                 "Incomplete left bundle branch block": "ILBBB",
                 "Complete left bundle branch block": "CLBBB", "Left anterior hemiblock": "LAFB",
                 "I degree AV block": "1AVB", "Non-specific intravintricular conduction delay": "IVCD",
                 "Ventricular extrasystole": "PVC", "Atrial extrasystole": "PAC",
                 "UNIpolar ventricular pacing": "PACE", "BIpolar ventricular pacing": "PACE",
                 "Biventricular pacing": "PACE", "UNIpolar atrial pacing": "PACE"}  # fmt: skip


Scored = tuple[list, list, list]  # targets, the encoder's probabilities and both's, a row per record


def _add(into: Scored, found: dict, codes: list[str], present: set[str]) -> None:
    """A record's row of ``codes``: present or not, the encoder's probability and both's."""
    y, alone, both = into
    y.append([float(c in present) for c in codes])
    alone.append([found[c].record_head[0] if found[c].record_head else found[c].probability for c in codes])
    both.append([found[c].probability for c in codes])


def _paired(y: list, alone: list, both: list, codes: list[str]) -> dict:
    """The encoder alone and with the head on the same records, paired."""
    from training.validate.metrics import paired_bootstrap, report

    ys, a, b = (np.array(v) for v in (y, alone, both))
    return {"records": len(ys), "encoder": report(ys, a, codes), "both": report(ys, b, codes),
            "both_minus_encoder": paired_bootstrap(ys, [b], [a])}  # fmt: skip


def _app(head: H.RecordHead):
    """The app's ``Analyzer`` (the bundled encoder) with ``head`` weighed in where it was chosen
    beside that encoder."""
    from ecgviewer.ml.infer import Analyzer

    analyzer = Analyzer(device="cpu")
    analyzer.record_head = head if head.meta.get("encoder_sha256") == analyzer.sha256 else None
    return analyzer


def ludb(folder: Path, head_file: Path, limit: int | None = None) -> dict:
    """LUDB (another hospital and country, 500 Hz; its ``data/*.hea``, the first ``limit`` records)
    read by the app's ``Analyzer`` (the bundled encoder, with ``head_file`` weighed in): each
    record's rhythm statement by LUDB_RHYTHMS, and its other diagnoses by LUDB_FINDINGS (each
    statement present where a line says so, absent elsewhere), the encoder alone and with the head,
    paired."""
    import re

    from ecgviewer.io import load

    analyzer = _app(H.RecordHead.load(head_file))
    codes = list(dict.fromkeys(LUDB_RHYTHMS.values()))
    findings = list(dict.fromkeys(LUDB_FINDINGS.values()))
    rhythm: Scored = ([], [], [])
    other: Scored = ([], [], [])
    unmapped = []
    for hea in sorted(Path(folder, "data").glob("*.hea"), key=lambda p: int(p.stem))[:limit]:
        text = hea.read_text()
        found = {c.code: c for c in analyzer.analyse(load(hea)).predictions.tasks["all"]}
        said = re.search(r"#Rhythm: (.*?)\.?\s*$", text, re.MULTILINE)
        if said is None or said.group(1) not in LUDB_RHYTHMS:
            unmapped.append(hea.stem)
        else:
            _add(rhythm, found, codes, {LUDB_RHYTHMS[said.group(1)]})
        lines = {v for k, v in LUDB_FINDINGS.items() if re.search(rf"^#{re.escape(k)}\b", text, re.MULTILINE)}
        _add(other, found, findings, lines)
    return {**_paired(*rhythm, codes), "unmapped": unmapped, "mapping": LUDB_RHYTHMS,
            "findings": {**_paired(*other, findings), "mapping": LUDB_FINDINGS}}  # fmt: skip


def ludb_markdown(r: dict) -> str:
    """RECORD_HEAD.md's LUDB section."""
    lines = ["", "## LUDB: another hospital, read by the app", "",
             f"The {r['records'] + len(r['unmapped'])} LUDB records (Lobachevsky University, 500 Hz, 12 "
             "leads, 10 s) analysed by the app (`ecgviewer.ml.infer.Analyzer`), the encoder alone and with "
             "the head, paired on the same records."]  # fmt: skip
    parts = ((r, "header's rhythm"), (r["findings"], "other diagnoses (absent where no line names it)"))
    for part, what in parts:
        d = part["both_minus_encoder"]
        mapped = "; ".join(f"{k} -> {v}" for k, v in part["mapping"].items())
        unmapped = f"; records unmapped: {', '.join(r['unmapped']) or 'none'}" if part is r else ""
        lines += ["", f"Each record scored on its {what} ({mapped}{unmapped}): {part['records']} records, "
                  f"macro AUROC encoder {part['encoder']['auroc']:.4f}, with the head "
                  f"**{part['both']['auroc']:.4f}**, paired {d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, "
                  f"{d['auroc_ci'][1]:+.4f}].", "",
                  "| statement | records with it | encoder | with the head |",
                  "|---|---|---|---|"]  # fmt: skip
        for c, n in part["both"]["support"].items():
            each = (part["encoder"]["per_class_auroc"][c], part["both"]["per_class_auroc"][c])
            cells = ["-" if x is None else f"{x:.3f}" for x in each]
            lines.append(f"| {c} | {n} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def card_text(card: dict, name: str) -> str:
    """The head's card in words: fold 9, then fold 10 and LUDB where they were read."""
    text = markdown(card, name)
    if "test" in card:
        text += test_markdown(card["test"])
    if "ludb" in card:
        text += ludb_markdown(card["ludb"])
    if "superclasses" in card:
        text += superclasses_markdown(card["superclasses"])
    return text


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``record-head`` command's options."""
    p.add_argument("--data-root", type=Path, default=SHARED_DATA, help="PTB-XL's labels (and records)")
    p.add_argument("--records", type=Path, default=None,
                   help="a PTB-XL folder with records100 for the records --data-root lacks")  # fmt: skip
    p.add_argument("--model", type=Path, default=None, help="the encoder (default: the bundled model)")
    p.add_argument("--out", type=Path, default=None, help="the head's weights (default: the bundled head)")
    p.add_argument("--report", type=Path, default=REPORTS / "RECORD_HEAD.md")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit", type=int, default=None, help="only each fold's first N records (tests)")
    p.add_argument("--test", action="store_true",
                   help="fold 10 for the shipped head (logged) into its card and report")  # fmt: skip
    p.add_argument("--ludb", type=Path, default=None,
                   help="LUDB's folder: its rhythm labels read by the app, into card and report")  # fmt: skip
    p.add_argument("--superclasses", action="store_true",
                   help="fold 9: the superclasses read off the statements, the head weighed in")  # fmt: skip
    p.add_argument("--check", action="store_true",
                   help="fold 9 read again with today's beat list for the head (fits nothing)")  # fmt: skip
    p.add_argument("--against", type=Path, default=None, help="with --check: another head, paired")


def command(args: argparse.Namespace) -> None:
    """Fit the record head on folds 1-8 and choose its weight on fold 9 (fold 10 is not read); with
    --test, read fold 10 for the head that ships; with --check, read fold 9 again for it."""
    if args.check:
        from ecgviewer.assets import record_head_path

        print("\n".join(check_lines(check(args.data_root, args.out or record_head_path(), args.against,
                                           args.workers, args.limit))))  # fmt: skip
        return
    if args.test or args.ludb or args.superclasses:
        from ecgviewer.assets import record_head_path
        from ecgviewer.weights import read_card, write_card

        out = args.out or record_head_path()
        card = read_card(out) or {}
        if args.test:
            card["test"] = test(args.data_root, out, args.workers, args.limit)
        if args.ludb:
            card["ludb"] = ludb(args.ludb, out, args.limit)
        if args.superclasses:
            from ecgviewer.assets import model_path

            card["superclasses"] = superclasses(args.data_root, out, args.workers, args.limit)
            beside_encoder = args.model or model_path() if args.out is None else args.model
            card["weights_sha256"] = decide(out, card["superclasses"], beside_encoder)
            card["superclasses"]["head_sha256"] = card["weights_sha256"]  # the same arrays, this decision
        text = card_text(card, out.name)
        write_card(out, card, text)
        args.report.write_text(text)
        print(json.dumps({k: card[k]["both"]["auroc"] for k in ("ludb",) if k in card}))
        return
    results = run(args)
    print(json.dumps({k: results[k] for k in ("weight", "surfaced", "records")}))
