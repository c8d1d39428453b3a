"""``python -m training <command>``: tokenise, pretrain, run a preset end to end, evaluate a
saved model, run the comparison grid, write RESULTS.md, measure R-peak detectors, download."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from training import REPO, REPORTS, RUN_LOGS, RUNS

NEEDS_SHARED_DATA = (
    "rpeaks",
    "delineator",
    "measurements",
    "interpretation",
    "interpretation-pairs",
    "lead-quality",
    "every-beat",
)


def _common(p: argparse.ArgumentParser) -> None:
    from training.data.datasets import default_data_root
    from training.presets import PRESETS

    p.add_argument("--data-root", type=Path, default=default_data_root(),
                   help="folder holding ptbxl/ (and ludb/); default ../shared/data when present")  # fmt: skip
    p.add_argument("--preset", choices=sorted(PRESETS), default="bundled")
    p.add_argument("--run-dir", type=Path, help="checkpoints and logs (default runs/<preset>)")
    p.add_argument("--cache-dir", type=Path, default=RUNS / "cache", help="token cache")
    p.add_argument("--unlabelled", type=Path, action="append", default=None,
                   help="extra WFDB folder to pretrain on (repeatable; default: ludb/)")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="processes for tokenisation")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--cpu-bf16", action="store_true",
                   help="bf16 autocast on a CPU with native bf16 (always on CUDA)")  # fmt: skip


def _context(args: argparse.Namespace):
    from training.context import Context
    from training.presets import PRESETS

    if args.data_root is None:
        sys.exit("no --data-root given and ../shared/data is absent")
    unlabelled = args.unlabelled
    if unlabelled is None:
        ludb = args.data_root / "ludb"
        unlabelled = [ludb] if ludb.is_dir() else []
    from training.engine import init_distributed

    preset = PRESETS[args.preset]
    return Context(
        data_root=args.data_root,
        run_dir=args.run_dir or RUNS / preset.name,
        cache_dir=args.cache_dir,
        preset=preset,
        workers=args.workers,
        unlabelled=unlabelled,
        progress=not args.no_progress,
        dist=init_distributed(args.cpu_bf16),
    )


def cmd_tokenise(args: argparse.Namespace) -> None:
    from training.data.datasets import load_unlabelled

    ctx = _context(args)
    pt = ctx.ptbxl
    extra = load_unlabelled(ctx.unlabelled, ctx.cache_dir, ctx.workers, ctx.progress)
    summary = {"ptbxl_records": len(pt.ecg_id), "unlabelled": [len(c) for c in extra],
               "fallback": int(pt.cache.fallback.sum()), "s": ctx.timings.get("tokenise_s")}  # fmt: skip
    print(json.dumps(summary))


def cmd_pack(args: argparse.Namespace) -> None:
    """A compact copy of the tokenised data for a machine without the records (training/data/pack.py)."""
    from training.data.pack import pack_data

    made = pack_data(args.data_root, args.cache_dir, args.out, args.step_uv, args.parts, args.workers,
                     not args.no_progress)  # fmt: skip
    print(json.dumps(made))


def cmd_baseline(args: argparse.Namespace) -> None:
    """Supervised CNN baselines (training/supervised/baselines.py) on full labels; their probabilities for
    every record go to <run>/teacher-<tag>.npz (the grid's rows and distillation read them)."""
    from training.supervised.baselines import run

    ctx = _context(args)
    for arch in args.arch.split(","):
        for task in args.tasks.split(","):
            out = run(ctx, arch, task, 1.0, args.seed, f"grid-{arch}-{task}-1.0-{args.seed}")
            best = max(out["info"]["history"], key=lambda r: r["val_auroc"])
            shown = {"arch": arch, "task": task, "epoch": best["epoch"], "aggregation": out["aggregation"],
                     "val_auroc": best["val_auroc"]}  # fmt: skip
            print(json.dumps(shown), flush=True)


def cmd_teacher(args: argparse.Namespace) -> None:
    """An exported classifier's probabilities on every record, as the distillation teacher of a
    fine-tune continued from it (<run>/teacher-<model>-<task>-1.0-0.npz)."""
    from training.supervised.finetune import model_teacher

    for path in model_teacher(_context(args), args.model):
        print(path, flush=True)


def cmd_pretrain(args: argparse.Namespace) -> None:
    """Pretrain one method's encoder (the same data, schedule and budget for every method)."""
    from training.pretrain.pretraining import pretrain

    ctx = _context(args)
    path = pretrain(ctx, args.seed, args.method)
    # one write per line: every rank prints, and unbuffered (PYTHONUNBUFFERED) print() writes the
    # text and its newline apart, so two ranks' lines could run together on a shared pipe
    line = json.dumps({"method": args.method, "encoder": str(path), "timings": ctx.timings})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cmd_run(args: argparse.Namespace) -> None:
    """The whole pipeline for a preset and a method: tokenise, pretrain, fine-tune, evaluate, export."""
    from training.pretrain.pretraining import pretrain
    from training.supervised.export import command_line, export
    from training.supervised.finetune import bundled_model, continued_from
    from training.supervised.probe import frozen_model

    t0 = time.perf_counter()
    ctx = _context(args)
    given = (("distill", args.distill), ("layer_decay", args.layer_decay), ("from_probe", args.from_probe))
    overrides = {k: v for k, v in given if v is not None}
    if overrides:
        ctx.preset = replace(ctx.preset, recipe=replace(ctx.preset.recipe, **overrides))
    _ = ctx.ptbxl
    # times are summed over epochs (evaluation included), so a resumed run reports its whole training
    if args.init_model:  # a longer fine-tune of an exported classifier: no pretraining, no probe
        enc, init = continued_from(ctx, args.init_model, args.method)
        model, td, info = bundled_model(ctx, enc, args.seed, args.method, init, "continued")
    else:
        enc = pretrain(ctx, args.seed, args.method)
        if args.frozen or ctx.preset.recipe.from_probe:
            model, td, info = frozen_model(ctx, enc, args.seed, args.method)
            ctx.timings["heads_s"] = round(sum(h["seconds"] for h in info["history"]), 1)
        if not args.frozen:
            init = model if ctx.preset.recipe.from_probe else None
            model, td, info = bundled_model(ctx, enc, args.seed, args.method, init)
    if args.init_model or not args.frozen:
        ctx.timings["finetune_s"] = round(sum(h["seconds"] for h in info["history"]), 1)
    if not ctx.dist.main:
        return
    # nothing is shipped by default: `choose` decides on fold 9, then `--out resources/models
    # --name clear-hug-bundled` exports the winner there (training/README.md)
    name = args.name or f"{args.method}-{'hug-frozen' if args.frozen else 'hug'}-{ctx.preset.name}"
    weights = export(ctx, model, td, name, args.out or ctx.run_dir, command_line(), args.method, args.frozen,
                     with_test=not args.fold9_only)  # fmt: skip
    card = json.loads(weights.with_suffix(".json").read_text())
    run_json = {"weights": str(weights), "card": str(weights.with_suffix(".json"))}
    (ctx.run_dir / "run.json").write_text(json.dumps(run_json))
    # fold 9 only: a candidate's fold-10 figures are read from its card after `choose`, so no one
    # sees them before the choice
    summary = {
        t: {"val_auroc": lab["val"]["auroc"], "ci": lab["val"]["auroc_ci"]}
        for t, lab in card["labels"].items()
    }
    print(
        json.dumps(
            {
                "weights": str(weights),
                "timings": ctx.timings,
                "wall_s": round(time.perf_counter() - t0, 1),
                **summary,
            }
        )
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Metrics of a saved model on fold 9 or 10 as the app reads its findings (the record head weighed
    in beside the encoder it was fitted with; --alone: the encoder's own), or a card's numbers."""
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.weights import sha256
    from training.supervised.export import evaluate_split
    from training.supervised.record_head import weigher

    loaded = load_model(args.model)
    ctx = _context(args)
    # the card's own figures are the encoder's; what the app shows weighs the record head in
    weigh = None if args.card or args.alone else weigher(args.model, ctx.data_root)
    read = f"{args.model.name} (`evaluate`{', with the record head' if weigh else ''})"
    res = evaluate_split(loaded.model, ctx, args.task, args.split, args.n_boot,
                         read=(sha256(args.model), read), weigh=weigh)  # fmt: skip
    if args.card:
        from training.supervised.export import card_report

        card_report(args.model, args.task, args.split, res["report"])
    print(
        json.dumps(
            {"model": str(args.model), "task": args.task, "split": args.split, **res["report"]}, indent=1
        )
    )


def cmd_lineage(args: argparse.Namespace) -> None:
    """A continued fine-tune's card given the runs its weights descend from, read off the earlier
    cards in git history (training/supervised/lineage.py)."""
    from training.supervised.lineage import fill

    print(json.dumps(fill(args.model), indent=1))


def cmd_ship(args: argparse.Namespace) -> None:
    """A candidate chosen on fold 9 becomes the shipped model: its weights copied, its card given
    its fold-10 figures (read now, logged in training/FOLD10.md)."""
    from training.supervised.export import ship

    print(ship(_context(args), args.model, args.out, args.name, args.chosen))


def cmd_choose(args: argparse.Namespace) -> None:
    """Fold-9 choice among saved classifiers: which one ships? (training/supervised/choose.py)"""
    from training.supervised.choose import choose

    tasks = args.tasks.split(",")
    not_worse = tuple(t for t in args.not_worse.split(",") if t)
    out = choose(_context(args), args.candidates, args.current, tasks, args.split, args.n_boot, not_worse)
    print(json.dumps(out, indent=1))


def cmd_ensemble(args: argparse.Namespace) -> None:
    """Export classifiers read together as one (``supervised/ensemble.py``); ``choose`` decides
    if it ships."""
    from training.supervised.ensemble import build
    from training.supervised.export import command_line

    ctx = _context(args)
    print(build(ctx, args.members, args.name, args.out or ctx.run_dir, command_line()))


def cmd_grid(args: argparse.Namespace) -> None:
    from training.pretrain.scaling import sized
    from training.supervised.grid import PROBE, run_grid

    fractions = [float(f) for f in args.fractions.split(",")]
    run_grid(sized(_context(args), args.size), args.tasks.split(","), fractions, args.seeds,
             args.methods.split(","), args.probe or PROBE)  # fmt: skip


def cmd_scaling(args: argparse.Namespace) -> None:
    """frozen-probe AUROC on fold 9 against pretraining epochs (snapshots of one run) and size"""
    from training.pretrain.scaling import run_scaling, sized

    run_scaling(sized(_context(args), args.size), args.method, [int(e) for e in args.epochs.split(",")],
                args.tasks.split(","), args.seeds, not args.pretrain_only)  # fmt: skip


def cmd_results(args: argparse.Namespace) -> None:
    from training.reports.results import write_results

    print(write_results(args.runs, args.out, args.ood, args.shipped))


def cmd_pretraining_report(args: argparse.Namespace) -> None:
    """write training/reports/PRETRAINING.md (issue 27) from scaling and grid run folders"""
    from training.pretrain.report import write_report

    print(write_report(args.runs, args.out))


def cmd_keep(args: argparse.Namespace) -> None:
    """copy a run's report inputs (logs, predictions) into the repository (training/data/keep.py)"""
    from training.data.keep import keep_run

    copies = keep_run(args.run, args.dest)
    size = sum(p.stat().st_size for p in copies)
    print(json.dumps({"files": len(copies), "bytes": size, "dest": str(args.dest)}))


def cmd_compact_logs(args: argparse.Namespace) -> None:
    """make the predictions already kept under DEST compact, in place (training/data/keep.py)"""
    from training.data.keep import compact_kept

    print(json.dumps({"dest": str(args.dest), "bytes_saved": compact_kept(args.dest)}))


def cmd_rpeaks(args: argparse.Namespace) -> None:
    from ecgviewer.storage import atomic_write_bytes
    from training.validate.rpeaks import compare, table

    res = compare(args.data_root / "ludb", args.data_root / "mitdb")
    atomic_write_bytes(args.out, table(res).encode())
    print(json.dumps(res, indent=1))


def cmd_measurements(args: argparse.Namespace) -> None:
    from training.validate.measurements import CONDITIONS, rule_table, run, write

    conditions = args.conditions.split(",") if args.conditions else CONDITIONS
    rows = run(args.data_root / "ludb", args.models, args.models / "measurements.jsonl", conditions,
               args.limit, args.folds)  # fmt: skip
    summary_path = args.models / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    rules = rule_table(args.data_root / "ludb", sorted({r["record"] for r in rows}))
    from training.validate import waves

    wave_rows = waves.run(args.data_root / "ludb", args.models, args.models / "waves.jsonl", limit=args.limit,
                          held_out=args.folds)  # fmt: skip
    from training.validate import per_beat

    beat_rows = per_beat.run(args.data_root / "ludb", args.models, args.models / "per_beat.jsonl",
                             limit=args.limit, held_out=args.folds)  # fmt: skip
    print(write(rows, summary, args.out, rules, wave_rows, beat_rows))
    if args.keep is not None:
        from training.supervised.delineator_choice import keep_fold

        if len(args.folds) != 1:
            sys.exit("--keep: measure one fold (--folds K)")
        print(keep_fold({"measurements": rows, "waves": wave_rows}, summary, args.folds[0], args.keep))
    bundled = REPO / "resources" / "models" / "delineator-ludb.safetensors"
    if args.card and bundled.is_file():
        from dataclasses import asdict

        from training.supervised.delineator import RECIPES
        from training.validate.measurements import write_card

        name = next(
            (k for k, r in RECIPES.items() if json.loads(json.dumps(asdict(r))) == summary.get("recipe")), "?"
        )
        command = f"python -m training delineator --recipe {name} --out {bundled.relative_to(REPO)}"
        write_card(bundled, rows, summary, command)


def cmd_download(args: argparse.Namespace) -> None:
    from training.data.download import download

    print(download(args.dest, args.records, args.url))


def build_parser() -> argparse.ArgumentParser:
    """Every command's options (the recipes' dry runs are checked against them); the commands of
    the last loop keep their options and function in their module."""
    from training import recipes
    from training.data.ludb import FOLDS
    from training.pretrain.methods import METHODS
    from training.supervised import (
        beat_classifier,
        delineator,
        delineator_choice,
        delineator_int8,
        every_beat,
        flutter_detector,
        record_head,
    )
    from training.validate import (
        atrial_waves,
        beat_tokens,
        ec57,
        ec57_rates,
        interpretation,
        interpretation_pairs,
        lead_quality,
        lead_sets,
        likelihood,
        noise_bursts,
        noise_stress,
        noisy_spans,
        ood,
        operating_points,
        placement,
        vf,
        xai,
    )

    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in [("tokenise", cmd_tokenise), ("pretrain", cmd_pretrain), ("run", cmd_run),
                     ("evaluate", cmd_evaluate), ("grid", cmd_grid)]:  # fmt: skip
        p = sub.add_parser(name, help=fn.__doc__)
        _common(p)
        p.add_argument("--seed", type=int, default=0)
        p.set_defaults(fn=fn)
    te = sub.add_parser("teacher", help=cmd_teacher.__doc__)
    _common(te)
    te.add_argument("--model", type=Path, required=True, help="the exported classifier to distil from")
    te.set_defaults(fn=cmd_teacher)
    bl = sub.add_parser("baseline", help=cmd_baseline.__doc__)
    _common(bl)
    bl.add_argument("--seed", type=int, default=0)
    bl.add_argument("--arch", default="xresnet1d101,inception1d")
    bl.add_argument("--tasks", default="super")
    bl.set_defaults(fn=cmd_baseline)
    for name in ("pretrain", "run"):
        sub.choices[name].add_argument("--method", choices=list(METHODS), default="clear",
                                       help="objective: CLEAR, ECG-JEPA, PhysioCLR or ACL-ECG")  # fmt: skip
    sub.choices["run"].add_argument("--out", type=Path, help="export folder (bundled: resources/models)")
    sub.choices["run"].add_argument("--name", help="model name (default <method>-hug-<preset>)")
    rn = sub.choices["run"]
    rn.add_argument("--distill", type=float, help="overrides the preset's distillation weight")
    rn.add_argument("--layer-decay", type=float, help="overrides the preset's layer-wise lr decay")
    rn.add_argument("--from-probe", action="store_true", default=None,
                    help="LP-FT: fine-tune from the frozen-encoder heads (overrides the preset)")  # fmt: skip
    rn.add_argument("--init-model", type=Path,
                    help="fine-tune this exported classifier further (its encoder and heads) instead of "
                         "pretraining: a longer fine-tune of the shipped model")  # fmt: skip
    rn.add_argument("--fold9-only", action="store_true",
                    help="a candidate: its card reads fold 9 only (run again without it, once `choose` "
                         "has decided, for the fold-10 figures, logged in training/FOLD10.md)")  # fmt: skip
    rn.add_argument("--frozen", action="store_true",
                    help="train only HUG heads on the frozen encoder (the paper's protocol)")  # fmt: skip
    ev = sub.choices["evaluate"]
    ev.add_argument("--model", type=Path, required=True)
    ev.add_argument("--task", default="super")
    ev.add_argument("--split", choices=["val", "test"], default="test")
    ev.add_argument("--n-boot", type=int, default=1000)
    ev.add_argument("--alone", action="store_true",
                    help="the encoder alone, without the record head the app weighs beside it")  # fmt: skip
    ev.add_argument(
        "--card", action="store_true", help="into the model's card too (the same point, current intervals)"
    )
    gr = sub.choices["grid"]
    gr.add_argument("--tasks", default="super")
    gr.add_argument("--fractions", default="0.01,0.1,1.0")
    gr.add_argument("--seeds", type=int, default=5, help="seeds for fractions below 100 %% (at least 5)")
    gr.add_argument("--methods", default="clear-linear,clear-hug,random-linear,random-hug,finetune,scratch")
    gr.add_argument("--probe", help="the frozen heads' protocol (grid.PROBES: z-dim, z-dim-steps2000; "
                    "rows say which); default the reported one, grid.PROBE")  # fmt: skip
    ch = sub.add_parser("choose", help=cmd_choose.__doc__)
    _common(ch)
    from training.supervised.choose import arguments as choose_arguments

    choose_arguments(ch)
    ch.set_defaults(fn=cmd_choose)
    pl = sub.add_parser("placement", help=placement.command.__doc__)
    _common(pl)
    placement.arguments(pl)
    pl.set_defaults(fn=lambda args: placement.command(args, _context(args)))
    en = sub.add_parser("ensemble", help=cmd_ensemble.__doc__)
    _common(en)
    from training.supervised.ensemble import arguments as ensemble_arguments

    ensemble_arguments(en)
    en.set_defaults(fn=cmd_ensemble)
    sh = sub.add_parser("ship", help=cmd_ship.__doc__)
    _common(sh)
    sh.add_argument("--model", type=Path, required=True, help="the candidate's weights (its card beside)")
    sh.add_argument("--out", type=Path, default=REPO / "resources" / "models")
    sh.add_argument("--name", default="clear-hug-bundled")
    sh.add_argument("--chosen", required=True, help="the fold-9 choice that made it ship (the card's words)")
    sh.set_defaults(fn=cmd_ship)
    pk = sub.add_parser("pack", help=cmd_pack.__doc__)
    _common(pk)
    pk.add_argument("--out", type=Path, required=True, help="pack folder (ptbxl/ and ludb/ inside)")
    pk.add_argument("--step-uv", type=float, default=5.0, help="quantisation step of the signal")
    pk.add_argument("--parts", type=int, default=2, help="signal files, one per transfer")
    pk.set_defaults(fn=cmd_pack)
    sc = sub.add_parser("scaling", help=cmd_scaling.__doc__)
    _common(sc)
    sc.add_argument("--method", choices=list(METHODS), default="clear")
    sc.add_argument("--epochs", default="1,2,4,8,12", help="snapshot epochs; the pretraining lasts the last")
    sc.add_argument("--tasks", default="super,all")
    sc.add_argument("--seeds", type=int, default=3, help="probe seeds per point")
    sc.add_argument("--pretrain-only", action="store_true",
                    help="save the snapshots and probe nothing (a later run without it probes)")  # fmt: skip
    sc.set_defaults(fn=cmd_scaling)
    for sized_parser in (gr, sc):
        sized_parser.add_argument(
            "--size", help="WIDTHxDEPTH: the preset's encoder resized (run in that subfolder)"
        )
    rs = sub.add_parser("results", help="write training/reports/RESULTS.md from grid logs")
    rs.add_argument("--runs", type=Path, nargs="+", default=[RUNS / "bundled"])
    rs.add_argument("--out", type=Path, default=REPORTS / "RESULTS.md")
    rs.add_argument("--ood", type=Path, default=ood.DEFAULT_OUT,
                    help="the ood command's JSON, shown when present")  # fmt: skip
    rs.add_argument("--shipped", type=Path, help="the bundled model's weights (default: the app's)")
    rs.set_defaults(fn=cmd_results)
    li = sub.add_parser("lineage", help=cmd_lineage.__doc__)
    li.add_argument("--model", type=Path, required=True, help="a shipped model whose card is in git")
    li.set_defaults(fn=cmd_lineage)
    pr = sub.add_parser("pretraining-report", help=cmd_pretraining_report.__doc__)
    pr.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders of scaling and grid")
    pr.add_argument("--out", type=Path, default=REPORTS / "PRETRAINING.md")
    pr.set_defaults(fn=cmd_pretraining_report)
    kp = sub.add_parser("keep", help=cmd_keep.__doc__)
    kp.add_argument("run", type=Path, help="run folder")
    kp.add_argument("dest", type=Path, help="where in the repository, e.g. training/run-logs/NAME")
    kp.set_defaults(fn=cmd_keep)
    ck = sub.add_parser("compact-logs", help=cmd_compact_logs.__doc__)
    ck.add_argument("dest", type=Path, nargs="?", default=RUN_LOGS)
    ck.set_defaults(fn=cmd_compact_logs)
    rp = sub.add_parser("rpeaks", help="R-peak detectors against LUDB's and MIT-BIH's annotations")
    rp.add_argument("--data-root", type=Path, default=None)
    rp.add_argument("--out", type=Path, default=REPORTS / "RPEAKS.md")
    rp.set_defaults(fn=cmd_rpeaks)
    me = sub.add_parser("measurements", help="validate measurements against LUDB; writes MEASUREMENTS.md")
    me.add_argument("--data-root", type=Path, default=None)
    me.add_argument("--models", type=Path, default=RUNS / "delineator", help="fold models")
    me.add_argument("--out", type=Path, default=REPORTS / "MEASUREMENTS.md")
    me.add_argument("--conditions", default=None, help="comma list of clean,wander,mains,muscle,all")
    me.add_argument("--limit", type=int, default=None)
    me.add_argument("--folds", type=int, nargs="+", choices=range(FOLDS), default=range(FOLDS),
                    help="only the records these folds hold out (a fold a session)")  # fmt: skip
    me.add_argument("--no-card", dest="card", action="store_false", help="leave the bundled model card alone")
    me.add_argument("--keep", type=Path, default=None,
                    help="keep the rows choose-delineator reads of the fold in this folder")  # fmt: skip
    me.set_defaults(fn=cmd_measurements)
    dl = sub.add_parser("download", help="fetch PTB-XL from PhysioNet with wfdb")
    dl.add_argument("--dest", type=Path, required=True)
    dl.add_argument("--records", type=int, default=None, help="only the first N records")
    dl.add_argument("--url", default=None, help="PhysioNet mirror (default physionet.org)")
    dl.set_defaults(fn=cmd_download)
    for name, module, fn in [
        ("ood", ood, ood.cmd_ood),
        ("explain-benchmark", xai, xai.cmd_explain_benchmark),
        ("lead-sets", lead_sets, lead_sets.cmd_lead_sets),
        ("delineator", delineator, delineator.command),
        ("interpretation", interpretation, interpretation.command),
        ("interpretation-pairs", interpretation_pairs, interpretation_pairs.command),
        ("atrial-waves", atrial_waves, atrial_waves.command),
        ("choose-delineator", delineator_choice, delineator_choice.command),
        ("delineator-int8", delineator_int8, delineator_int8.command),
        ("lead-quality", lead_quality, lead_quality.command),
        ("every-beat", every_beat, every_beat.command),
        ("likelihood", likelihood, likelihood.command),
        ("operating-points", operating_points, operating_points.command),
        ("ec57", ec57, ec57.command),
        ("ec57-rates", ec57_rates, ec57_rates.command),
        ("beat-classifier", beat_classifier, beat_classifier.command),
        ("record-head", record_head, record_head.command),
        ("noise-stress", noise_stress, noise_stress.command),
        ("noise-bursts", noise_bursts, noise_bursts.command),
        ("noisy-spans", noisy_spans, noisy_spans.command),
        ("beat-tokens", beat_tokens, beat_tokens.command),
        ("vf", vf, vf.command),
        ("vf-detector", flutter_detector, flutter_detector.command),
        ("recipe", recipes, recipes.cmd_recipe),
    ]:
        p = sub.add_parser(name, help=fn.__doc__)
        module.arguments(p)
        p.set_defaults(fn=fn)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command in NEEDS_SHARED_DATA and args.data_root is None:
        from training.data.datasets import default_data_root

        args.data_root = default_data_root()
    args.fn(args)


if __name__ == "__main__":
    main()
