"""The exported model: its weights, fold-9 thresholds, fold-9 and fold-10 metrics and the model
card (JSON and Markdown) with the command, data, hardware and timings that made it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ecgviewer.ml import bundle, contract
from ecgviewer.ml.infer import SURFACE_MIN_AUROC, SURFACE_MIN_SUPPORT, not_surfaced_reason
from ecgviewer.ml.model import Ensemble, Model
from ecgviewer.weights import write_card
from training.context import Context, TaskData, git_commit, predict
from training.data import datasets as D
from training.engine import hardware
from training.pretrain.methods import METHODS
from training.supervised.lineage import ancestry, beside, card_of, lineage
from training.validate import metrics as M

# a task's classes, the encoder's (records, classes) probabilities, the records' ecg_id and the
# encoder's (records, 71) probabilities of PTB-XL's statements (None: no ``all`` head) -> what the
# app shows (``record_head.weigher``)
Weigh = Callable[[list[str], np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


# --------------------------------------------------------------------------- export
def surfaced(val_report: dict, cls: str) -> bool:
    """The app's rule for showing a class (``infer.not_surfaced_reason``), on fold-9 figures only."""
    return not_surfaced_reason(val_report, cls) is None


def evaluate_split(
    model: Model, ctx: Context, task: str, split: str, n_boot: int = 1000, read: tuple[str, str] = ("", ""),
    weigh: Weigh | None = None,
) -> dict:  # fmt: skip
    """Metrics of ``model``'s ``task`` head on fold 9 (``val``) or fold 10 (``test``: the read is
    logged in the ledger, ``read`` giving the weights' SHA-256 and what read them); ``weigh``: what
    the app weighs in beside it (``record_head.weigher``)."""
    fold = D.VAL_FOLD if split == "val" else D.TEST_FOLD
    classes, s = ctx.ptbxl.split(task, [fold])
    out = predict(model, ctx.tensors, s.rows, ctx.preset.batch_eval, ctx.dist.device)
    # a model without the task's head is scored from its 71-statement head, as the app reads it
    p = out[task] if task in out else ctx.ptbxl.labels.aggregate(task, out["all"])[1]
    if weigh is not None:
        p = weigh(classes, p, s.ecg_id, out.get("all"))
    report = M.report(s.y, p, classes, n_boot)
    if split == "test":
        from training.data.ledger import record

        record(read[0] or "-", task, f"macro AUROC {report['auroc']:.4f}", read[1] or "`evaluate`")
    return {"classes": classes, "probs": p, "y": s.y, "report": report}


# another machine's floating point moves a rare class's AUROC by a rank step or two (1 positive in
# 2,000 records: 5e-4 a step; GPU card against CPU: up to 9e-4) and the macro far less; other
# weights, data or contract move both by more
CARD_MACRO_TOLERANCE, CARD_CLASS_TOLERANCE = 5e-4, 5e-3


def card_report(model_file: Path, task: str, split: str, report: dict) -> None:
    """Give the card's fold-9 (``val``) or fold-10 (``test``) figures of ``task`` the intervals of
    ``report`` (``evaluate_split``'s, of the card's own weights), JSON and Markdown: a card written
    before a change of method (issue 75's record bootstrap) gets its intervals again. The card's
    points and per-class figures stay (the surfacing and thresholds were chosen from them); each
    interval is moved by the card's point minus the new one, so it stays the point's own. Refused
    when the macros or a class's AUROC are further from the card's than the tolerances above."""
    from ecgviewer.weights import read_card
    from training.supervised.card import markdown

    card = read_card(model_file)
    key = "test" if split == "test" else "val"
    old = (card or {}).get("labels", {}).get(task, {}).get(key)
    if card is None or old is None:
        raise ValueError(f"{model_file.name}: its card has no {key} figures for `{task}` to replace")
    pairs = list(zip(old["per_class_auroc"].values(), report["per_class_auroc"].values(), strict=True))
    if any((a is None) != (b is None) for a, b in pairs):
        raise ValueError(f"{model_file.name}: `{task}` {key}: other classes scored than the card's")
    apart = max((abs(a - b) for a, b in pairs if a is not None and b is not None), default=0.0)
    macro = max(abs(old[k] - report[k]) for k in ("auroc", "auprc"))
    if macro > CARD_MACRO_TOLERANCE or apart > CARD_CLASS_TOLERANCE:
        raise ValueError(
            f"{model_file.name}: `{task}` {key} macro AUROC {report['auroc']:.4f} against the card's "
            f"{old['auroc']:.4f}, a class up to {apart:.4f} apart: not the figures the card was written from"
        )
    moved = {f"{k}_ci": [v + old[k] - report[k] for v in report[f"{k}_ci"]] for k in ("auroc", "auprc")}
    card["labels"][task][key] = old | moved | {k: report[k] for k in ("n_boot", "left_out_share")}
    write_card(model_file, card, markdown(card))


def tokenizer_text(model: Model) -> str:
    """The model card's one line on what the classifier reads (the app's model picker shows it)."""
    if isinstance(model, Ensemble):
        return tokenizer_text(model.parts[0])
    spec = model.patch_spec
    if spec is not None:
        return (
            f"patches: {len(spec.leads)} leads ({', '.join(spec.leads)}) at {spec.fs} Hz, "
            f"{spec.patch_s:g} s patches ({spec.patch_len} samples), {spec.n_patches} per lead "
            f"per {spec.window_s:g} s window, band-passed {contract.BAND[0]}-{contract.BAND[1]:g} Hz, "
            f"in units of {model.encoder.config.scale_mv:g} mV"
        )
    rr = getattr(model.encoder.config, "rr", False)
    rr_text = ", with each beat's RR intervals to its neighbours" if rr else ""
    return (
        f"beats: up to {contract.MAX_BEATS} beat tokens of {contract.TOKEN_LEN} samples per lead "
        f"at {contract.FS} Hz, R at sample {contract.R_INDEX}, R-peaks by {contract.RPEAK_METHOD}{rr_text}"
    )


def architecture(model: Model) -> dict:
    """The card's architecture entry: the encoder and head, or each ensemble member's."""
    if isinstance(model, Ensemble):
        members = [architecture(m) for m in model.parts]
        return {"kind": model.kind, "members": members, "parameters": sum(m["parameters"] for m in members)}
    return {"kind": model.kind, "encoder": model.encoder.config.to_dict(), "head": model.head_kind,
            "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def export(
    ctx: Context,
    model: Model,
    td: TaskData,
    name: str,
    out_dir: Path,
    command: list[str],
    method: str = "clear",
    frozen: bool = False,
    training: dict | None = None,
    with_test: bool = True,
) -> Path:
    """Write ``<out_dir>/<name>.safetensors`` and its model card (JSON + Markdown); ``method`` is
    the pretraining objective of the encoder, ``frozen`` says that only the heads were trained
    (``training/supervised/probe.py``); ``training`` replaces the card's training entry (an ensemble's);
    without ``with_test`` fold 10 is not read (a candidate before ``choose``)."""
    from training.supervised.card import markdown

    t0 = time.perf_counter()
    weights = out_dir / f"{name}.safetensors"
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = bundle.save_model(weights, model, td.classes)
    labels = {}
    for task in td.classes:
        val = evaluate_split(model, ctx, task, "val")
        read = (digest, f"{weights.name} card (export)")
        test = evaluate_split(model, ctx, task, "test", read=read) if with_test else None
        thr = M.f1_thresholds(val["y"], val["probs"])
        vr = val["report"]
        labels[task] = {
            "classes": td.classes[task],
            "thresholds": {c: float(t) for c, t in zip(td.classes[task], thr, strict=True)},
            "val": vr,
            "test": test["report"] if test else None,
            "surfaced": [c for c in td.classes[task] if surfaced(vr, c)],
        }  # fmt: skip
    pt = ctx.ptbxl
    ctx.timings["export_s"] = round(time.perf_counter() - t0, 1)
    phases = ("tokenise_s", "pretrain_s", "finetune_s", "heads_s", "export_s")
    ctx.timings["total_s"] = round(sum(ctx.timings.get(k) or 0.0 for k in phases), 1)
    schedule = ctx.preset.schedules.get(method, ctx.preset.pretrain)
    card = {
        "name": name,
        "intended_use": "Research use only, not a medical device. Not for diagnosis or treatment decisions.",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git_commit(),
        "command": " ".join(command),
        "preset": ctx.preset.name,
        "tokenizer": tokenizer_text(model),
        "architecture": architecture(model),
        "pretraining": {
            "method": method,
            "label": METHODS[method].label,
            "objective": asdict(METHODS[method].objective(ctx.preset)),
        },
        "training": training or {
            # a continued fine-tune pretrains nothing: its encoder's pretraining is in ``ancestry``
            "pretrain": None if ctx.start else schedule.to_dict(),
            **({"encoder": "frozen after pretraining; one HUG head per task trained on its cached lead "
                           "features, z-scored per dimension (folded into the heads' first layers)",
                "heads": ctx.preset.probe.to_dict(),
                "selection": "per task, the epoch with the best fold-9 macro AUROC"} if frozen else
               {"finetune": ctx.preset.finetune.to_dict(), "recipe": ctx.preset.recipe.to_dict(),
                **({"teachers": teachers(ctx, td)} if ctx.preset.recipe.distill else {}),
                **({"start": ctx.start} if ctx.start else {}),
                "selection": "epoch with the best mean fold-9 macro AUROC over the tasks"}),
        },
        "contract": {"version": contract.CONTRACT_VERSION, "fs": contract.FS, "band_hz": contract.BAND,
                     "token_len": contract.TOKEN_LEN, "max_beats": contract.MAX_BEATS,
                     "rpeaks": contract.RPEAK_METHOD, "deviations_from_clear": list(contract.DEVIATIONS)},
        "data": {
            "dataset": "PTB-XL v1.0.3, 100 Hz records (CC BY 4.0)",
            "folds": {"train": list(D.TRAIN_FOLDS), "validation": D.VAL_FOLD, "test": D.TEST_FOLD},
            **(ctx.lineage or {
                "pretrain_ecg_ids": D.id_ranges(td_union_ids(ctx, "all", D.TRAIN_FOLDS)),
                "unlabelled_pretraining": [str(p) for p in ctx.unlabelled],
            }),
            "finetune_ecg_ids": D.id_ranges(np.unique(np.concatenate([s.ecg_id for s in td.train.values()]))),
            "validation_records": len(ctx.ptbxl.split("all", [D.VAL_FOLD])[1].rows),
            "test_records": len(ctx.ptbxl.split("all", [D.TEST_FOLD])[1].rows),
            "records_on_disk": len(pt.ecg_id),
            "tokeniser_fallback_records": int(np.asarray(pt.cache.fallback).sum()),
        },
        "labels": labels,
        "surface_rule": f"a class is shown in the app when its fold-9 AUROC >= {SURFACE_MIN_AUROC} "
        f"and fold 9 has >= {SURFACE_MIN_SUPPORT} positive records",
        "thresholds_rule": "per class, the probability that maximises F1 on fold 9",
        "timings": ctx.timings,
        "hardware": hardware(),
        "weights_sha256": digest,
        **({"ancestry": ctx.ancestry} if ctx.start and not training else {}),
    }  # fmt: skip
    card |= kept_explanations(weights.with_suffix(".json"), digest)
    write_card(weights, card, markdown(card))
    return weights


def teachers(ctx: Context, td: TaskData) -> list[dict]:
    """The teachers a distilled model learnt from: each task's predictions file with its SHA-256
    and the window aggregation chosen on fold 9 (``training/supervised/baselines.py``), or the exported
    model it came from (``finetune.model_teacher``)."""
    from ecgviewer.weights import sha256
    from training.supervised.finetune import teacher_files

    out = []
    for task in td.classes:
        for f in teacher_files(ctx.run_dir, task):
            z = np.load(f)
            agg = str(z["aggregation"]) if "aggregation" in z else None
            one = {"task": task, "file": f.name, "sha256": sha256(f), "aggregation": agg}
            out.append(one | ({"source": str(z["source"])} if "source" in z else {}))
    return out


def ship(ctx: Context, candidate: Path, out_dir: Path, name: str, chosen: str) -> Path:
    """Copy a candidate chosen on fold 9 to ``out_dir/<name>.safetensors`` with its card completed
    by its fold-10 figures, read now (each read logged), and, for a continued fine-tune, by what its
    start's encoder was pretrained on (``lineage``, from the start's card in ``out_dir``). The rest
    of the card stays that of the run that trained it (command, hardware, timings)."""
    from ecgviewer.storage import atomic_write_bytes
    from ecgviewer.weights import sha256
    from training.supervised.card import markdown

    digest = sha256(candidate)
    card = card_of(candidate, digest)
    if card is None:
        raise ValueError(f"{candidate.name}: its card describes other weights")
    model = bundle.load_model(candidate).model
    weights = out_dir / f"{name}.safetensors"
    start = card["training"].get("start")
    inherited = lineage(card_of(out_dir / start["file"], start["sha256"])) if start else None
    if inherited:  # a continued fine-tune's encoder was pretrained by its start's run
        card["data"] |= inherited
    if start and "ancestry" not in card:
        card["ancestry"] = ancestry(start, beside(out_dir / start["file"]))
    for task, lab in card["labels"].items():
        if lab["test"] is None:
            read = (digest, f"{weights.name} card (ship)")
            lab["test"] = evaluate_split(model, ctx, task, "test", read=read)["report"]
    card |= {"name": name, "shipped": {"candidate": candidate.name, "chosen": chosen,
                                       "date": time.strftime("%Y-%m-%d")}}  # fmt: skip
    card |= kept_explanations(weights.with_suffix(".json"), digest)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(weights, candidate.read_bytes())
    write_card(weights, card, markdown(card))
    return weights


def kept_explanations(card_path: Path, digest: str) -> dict:
    """The explanation benchmark's section of an earlier card of the same weights (it describes
    the weights, not the export), so re-exporting does not drop it; nothing for new weights."""
    old = card_of(card_path, digest) or {}
    return {"explanations": old["explanations"]} if "explanations" in old else {}


def td_union_ids(ctx: Context, task: str, folds) -> np.ndarray:
    return ctx.ptbxl.split(task, folds)[1].ecg_id


def command_line() -> list[str]:
    return [Path(sys.executable).name, "-m", "training", *sys.argv[1:]]
