"""Command line: ``ecgviewer [FILE...]`` opens the viewer; ``render``, ``info``, ``analyze``,
``convert``, ``report``, ``self-test``, ``index`` and ``find`` run headless.

Bad input ends in one line on stderr naming the file and the cause, and exit status 2;
never a traceback. ``analyze`` reports a bad file that way and goes on with the others. Heavy
imports (Qt, wfdb, torch) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ecgviewer import __version__
from ecgviewer.errors import EcgError

EXIT_BAD_INPUT = 2


def _common_view_args(p: argparse.ArgumentParser) -> None:
    from ecgviewer.render.layout import GAINS, LAYOUTS, ORDERS, SPEEDS

    p.add_argument("--layout", choices=LAYOUTS, default="3x4+1")
    p.add_argument("--order", choices=ORDERS, default="standard")
    p.add_argument("--rhythm", default="", help="rhythm-strip leads, comma-separated (e.g. II)")
    p.add_argument("--speed", type=float, default=25.0, choices=SPEEDS, help="mm/s")
    p.add_argument("--gain", type=float, default=10.0, choices=GAINS, help="mm/mV")
    p.add_argument(
        "--filter",
        default="hp0.5,lp150",
        help="display filter: 'none' or e.g. hp0.5,lp40,notch50 (zero-phase)",
    )
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--start", type=float, default=0.0, help="page start in seconds")


def _view_options(args: argparse.Namespace):
    from ecgviewer.dsp.filters import parse_filter
    from ecgviewer.leads import canonical_lead
    from ecgviewer.render.options import ViewOptions

    rhythm = tuple(canonical_lead(x) for x in args.rhythm.split(",") if x.strip())
    return ViewOptions(
        layout=args.layout,
        order=args.order,
        rhythm=rhythm,
        speed=args.speed,
        gain=args.gain,
        filter=parse_filter(args.filter),
        theme=args.theme,
    )


def cmd_render(args: argparse.Namespace) -> int:
    from ecgviewer.io import load

    try:
        options = _view_options(args)
    except ValueError as exc:
        raise EcgError(f"--filter: {exc}") from None
    rec = load(args.file)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ecgviewer.gui.export import render_image
    from ecgviewer.render.painting import save_image

    image = render_image(rec, options, t0=args.start, dpi=args.dpi)
    save_image(image, args.out)
    for warning in rec.warnings:
        print(f"warning: {rec.name}: {warning}", file=sys.stderr)
    print(
        f"{args.out}: {image.width()}x{image.height()} px at {args.dpi:g} dpi, "
        f"{options.scale_label()}, {options.filter.label(rec.fs)}"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ecgviewer.io import load
    from ecgviewer.summary import summary_lines

    rec = load(args.file)
    print("\n".join(summary_lines(rec, identifiers=args.identifiers)))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Save a recording as WFDB or EDF+ (the GUI's Save as): lossless, written atomically."""
    from ecgviewer.io import load
    from ecgviewer.io.writers import save

    rec = load(args.file)
    notes: list[str] = []
    out = save(rec, args.out, fmt=args.format, identifiers=args.identifiers, notes=notes)
    print(f"{out}: {len(rec.leads)} leads, {rec.duration:g} s at {rec.fs:g} Hz")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        type=Path,
        metavar="FILE",
        help="classifier weights (.safetensors, model card beside them; default: the bundled model)",
    )


def _model_file(args: argparse.Namespace) -> Path | None:
    """``--model``, checked here so a typo reads as a missing file rather than a broken model."""
    if args.model is not None and not args.model.is_file():
        raise EcgError(f"--model {args.model}: no such file")
    return args.model


def _analyze_args(p: argparse.ArgumentParser) -> None:
    from ecgviewer.ml.explain import DEFAULT_STEPS, METHODS
    from ecgviewer.ml.infer import DEVICES

    p.add_argument("--json", type=Path, metavar="OUT", help="write the JSON here (default: stdout)")
    _model_arg(p)
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA, then MPS, then CPU")
    p.add_argument("--method", choices=tuple(METHODS), default=None,
                   help="attribution method (default: the one the model card names)")  # fmt: skip
    p.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS, help="Integrated Gradients steps")
    p.add_argument("--task", default="super", help="super (PTB-XL superclasses) or all (statements)")
    p.add_argument("--label", metavar="CODE", help="class to explain (default: most probable shown class)")
    p.add_argument("--checks", action="store_true", help="add the randomisation and faithfulness checks")
    p.add_argument("--measure", action="store_true", help="add intervals, QTc, axes and the beat list")
    p.add_argument(
        "--export", type=Path, metavar="DIR", help="write raw attributions + attention, DIR/<name>.npz"
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="recordings longer than this are analysed for this many seconds from --start (default 600)",
    )
    p.add_argument("--start", type=float, default=0.0, help="where a long recording's span starts (s)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def cmd_analyze(args: argparse.Namespace) -> int:
    """Predict, explain and report each file; a bad file is reported and skipped."""
    from ecgviewer.analysis import analyse
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.ml import report, session
    from ecgviewer.ml.checks import check
    from ecgviewer.ml.infer import Analyzer

    if args.export is not None and not args.export.is_dir():
        raise EcgError(f"--export {args.export}: no such folder")
    if not args.max_seconds >= 10:
        raise EcgError(f"--max-seconds {args.max_seconds:g}: at least 10 (one window)")
    analyzer = Analyzer(_model_file(args), device=args.device)
    delineator = Delineator.bundled() if args.measure else None
    classes = analyzer.classes
    if args.task not in classes:
        raise EcgError(f"--task {args.task}: the model has {', '.join(classes)}")
    if args.label and not any(args.label in names for names in classes.values()):
        raise EcgError(f"--label {args.label}: not a class of the model")
    request = session.Request(
        task=args.task,
        code=args.label,
        method=args.method,
        n_steps=args.steps,
        attention=args.export is not None,
    )
    records, errors = [], []
    for file in args.files:
        try:
            t0 = time.perf_counter()
            rec = load(file)
            timings = {"load_ms": (time.perf_counter() - t0) * 1e3}
            try:
                found = analyse(rec, analyzer=analyzer, request=request, delineator=delineator, t0=args.start,
                                max_whole_s=args.max_seconds, span_s=args.max_seconds,
                                rhythm=args.measure)  # fmt: skip
                result, measured = found.ai, found.measurements
                assert result is not None  # an analyzer was given
                timings.update({k: v for k, v in found.timings.items() if k in ("measure_ms", "rhythm_ms")})
                e = result.explanation
                verdicts = check(analyzer, result.segment, result.analysis, e) if args.checks else None
                if args.export is not None:
                    out = args.export / f"{Path(rec.name).stem}.npz"
                    report.write_raw(out, result.analysis.tokens, e, result.attention)
            except (ValueError, RuntimeError) as exc:  # a library failing on odd signals
                raise EcgError(f"{rec.name}: analysis failed ({type(exc).__name__}: {exc})") from exc
            records.append(report.record_entry(file, rec, result, timings, verdicts, measured, found.rhythm))
        except EcgError as exc:
            print(f"ecgviewer: error: {exc}", file=sys.stderr)
            errors.append({"file": file, "error": str(exc)})
    doc = report.document(analyzer, records, errors)
    if args.json is None:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        report.write_json(args.json, doc)
        print(f"{args.json}: {len(records)} analysed, {len(errors)} failed")
    return EXIT_BAD_INPUT if errors else 0


def _report_args(p: argparse.ArgumentParser) -> None:
    from ecgviewer.ml.explain import DEFAULT_STEPS, METHODS
    from ecgviewer.ml.infer import DEVICES
    from ecgviewer.report.content import MAX_PAGES

    p.add_argument("--out", required=True, type=Path, help="report.pdf, or report.png (one image per page)")
    p.add_argument(
        "--paper", choices=("a4", "letter"), help="landscape; default: Letter in US locales, else A4"
    )
    p.add_argument("--identifiers", action="store_true", help="print the patient's name, ID and birth date")
    p.add_argument("--max-pages", type=_positive_int, default=MAX_PAGES, help="ECG pages of a long recording")
    p.add_argument("--dpi", type=float, default=300.0, help="PNG only: pixels per inch of paper")
    p.add_argument("--no-ai", action="store_true", help="leave out the model's findings and attributions")
    p.add_argument("--no-measure", action="store_true", help="leave out the intervals, QTc and axes")
    _model_arg(p)
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA, then MPS, then CPU")
    p.add_argument("--method", choices=tuple(METHODS), default=None,
                   help="attribution method (default: the one the model card names)")  # fmt: skip
    p.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS, help="Integrated Gradients steps")
    p.add_argument("--label", metavar="CODE", help="class to explain (default: the most probable superclass)")
    p.add_argument(
        "--qtc",
        default=None,
        help="QTc formula shown and stated (Bazett, Fridericia, Framingham, Hodges; default: the app's)",
    )
    p.add_argument("--db", type=Path, help="the library whose over-read of the file is printed "
                   "(default: $ECGVIEWER_LIBRARY, else the app's)")  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    """The clinician's report of one recording as PDF (or PNG pages)."""
    from ecgviewer.io import load
    from ecgviewer.measure.intervals import DEFAULT_QTC, QTC_FORMULAS
    from ecgviewer.report import content, make, pages

    try:
        options = _view_options(args)
    except ValueError as exc:
        raise EcgError(f"--filter: {exc}") from None
    formula = next((f for f in QTC_FORMULAS if f.lower() == (args.qtc or DEFAULT_QTC).lower()), None)
    if formula is None:
        raise EcgError(f"--qtc {args.qtc}: choose {', '.join(QTC_FORMULAS)}")
    if args.out.suffix.lower() not in (".pdf", ".png"):
        raise EcgError(f"--out {args.out}: a report is written as .pdf or .png")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ecgviewer.render.painting import ensure_app

    ensure_app()
    paper = args.paper or pages.default_paper()
    rec = load(args.file)
    first = content.ecg_pages(rec, options, args.start, 1)[0]
    pages.check_fits(first, paper, options)  # before minutes of analysis
    analyzer = delineator = request = None
    if not args.no_ai:
        from ecgviewer.ml.infer import Analyzer
        from ecgviewer.ml.session import Request

        analyzer = Analyzer(_model_file(args), device=args.device)
        request = Request(code=args.label, method=args.method, n_steps=args.steps, attention=False)
    if not args.no_measure:
        from ecgviewer.measure.delineate import Delineator

        delineator = Delineator.bundled()
    from ecgviewer.library import db, overreads, relabels

    library = args.db or db.default_path()
    kept = relabels.stored(overreads.content_sha256(args.file), library) if Path(library).is_file() else ()
    report = make.make(
        rec,
        options,
        overread=overreads.stored(args.file, library),
        relabels=kept,
        t0=args.start,
        analyzer=analyzer,
        request=request,
        delineator=delineator,
        formula=formula,
        identifiers=args.identifiers,
        max_pages=args.max_pages,
    )
    files = pages.write(report, args.out, paper, args.dpi)
    for warning in rec.warnings:
        print(f"warning: {rec.name}: {warning}", file=sys.stderr)
    shown = ", ".join(str(f) for f in files)
    n = pages.page_count(report, paper)
    print(f"{shown}: {n} pages, {paper.upper()} landscape, {options.scale_label()}")
    return 0


def cmd_self_test(args: argparse.Namespace) -> int:
    """Headless check of an installation or a built app: sample, model, attribution, report page."""
    from ecgviewer.selftest import run

    run(args.out)
    return 0


def _library_args(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument("--db", type=Path, metavar="FILE", help="the library (default: library.sqlite in the "
                   "user's data folder, or $ECGVIEWER_LIBRARY)")  # fmt: skip
    if command == "index":
        p.add_argument("folder", type=Path, help="the folder to index (re-indexing reads only what changed)")
        p.add_argument(
            "--identifiers",
            action="store_true",
            help="store the patients' names, IDs and birth dates too (left out by default)",
        )
        p.add_argument(
            "--rebuild",
            action="store_true",
            help="start a new library (the old file is kept as FILE.old), e.g. after damage",
        )
        p.add_argument("--analyze", action="store_true", help="add our measurements, statements and the "
                       "model's findings (only what a new model, delineator or file needs)")  # fmt: skip
        _model_arg(p)
        p.add_argument(
            "--workers", type=_positive_int, help="--analyze: local processes (default: every core)"
        )
        p.add_argument("--scheduler", metavar="ADDRESS", help="--analyze on a Dask cluster, e.g. "
                       "tcp://10.0.0.5:8786 (its workers must see the files and have ecgviewer)")  # fmt: skip
        return
    p.add_argument("query", nargs="*", help="terms that must all hold, e.g. 'qtc>480 sex=F' "
                   "(ecgviewer.library.query lists them; none: every readable recording)")  # fmt: skip
    p.add_argument("--sort", metavar="KEY", help="age, date, qtc, ... ; -KEY: descending (default: path)")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N recordings (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the library with every recording under a folder; Ctrl-C stops after the
    current file, keeping what was stored (the same command resumes)."""
    import signal

    from ecgviewer.library import db, overreads
    from ecgviewer.library.index import index

    path = args.db or db.default_path()
    old = db.rebuild(path) if args.rebuild else None
    if old is not None:
        print(f"{path}: the previous library was moved to {old}", file=sys.stderr)
    model = _model_file(args)
    conn = db.open_library(path)
    if old is not None and (carried := overreads.carry(old, conn)):
        print(f"{path}: {carried} over-reads kept from {old}", file=sys.stderr)
    stop = {"now": False}
    previous = signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    analysed = None
    try:
        summary = index(args.folder, conn, identifiers=args.identifiers, progress=_progress("indexing"),
                        cancelled=lambda: stop["now"])  # fmt: skip
        if args.analyze and not summary.cancelled:
            analysed = _analyze_library(args, conn, summary.folder, model, lambda: stop["now"])
    finally:
        signal.signal(signal.SIGINT, previous)
        conn.close()
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    s = summary
    print(f"{s.said(str(s.folder))} ({path})")
    if s.unreadable:
        print(f"the unreadable files and why: ecgviewer find status=unreadable --db {path}", file=sys.stderr)
    if s.truncated:
        print(f"warning: {s.folder} holds more recordings than one index run lists; index its "
              "subfolders one by one", file=sys.stderr)  # fmt: skip
    if analysed is not None:
        a = analysed
        print(f"analysed {a.analysed} ({a.per_second:.1f} per second), {a.failed} could not be analysed"
              f"{f', {a.current} already were' if a.current else ''}")  # fmt: skip
    if s.cancelled or (analysed is not None and analysed.cancelled):
        print("interrupted: what was stored is kept; run the same command again to finish", file=sys.stderr)
        return 130
    return 0


def _analyze_library(args: argparse.Namespace, conn, folder: Path, model: Path | None, cancelled):
    """``index --analyze``: the library's recordings under ``folder`` analysed on the engine asked for."""
    from ecgviewer.library.analyze import analyse_library, engine

    with engine(args.scheduler, args.workers) as (executor, n):
        if sys.stderr.isatty():
            print(file=sys.stderr)  # below the indexing line
        return analyse_library(conn, folder, str(model) if model else None, executor, n,
                               _progress("analysing"), cancelled)  # fmt: skip


def _progress(doing: str):
    """``done/total`` on stderr, at most a few times a second, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 0.25 or done == total:
            last[0] = time.monotonic()
            print(f"\r{doing}: {done}/{total}", end="", file=sys.stderr, flush=True)

    return show


def _sort_value(args: list[str]) -> list[str]:
    """``--sort -age`` as ``--sort=-age``: argparse would take ``-age`` for an option."""
    out = list(args)
    for i, a in enumerate(out[:-1]):
        if a == "--sort" and out[i + 1].startswith("-"):
            out[i : i + 2] = [f"--sort={out[i + 1]}"]
            break
    return out


def cmd_find(args: argparse.Namespace) -> int:
    """The library's recordings that match a query, as a table or JSON lines."""
    import dataclasses

    from ecgviewer.library import db, listing, query

    if args.limit < 0:
        raise EcgError(f"--limit {args.limit}: 0 (all) or more")
    conn = db.open_library(args.db or db.default_path(), create=False)
    try:
        result = query.find(conn, " ".join(args.query), sort=args.sort, limit=args.limit or None)
    finally:
        conn.close()
    if args.json:
        for row in result.rows:
            print(json.dumps(dataclasses.asdict(row), ensure_ascii=False))
    elif result.rows:
        print("\n".join(listing.lines(result)))
    print(f"{len(result.rows)} of {result.total} matching recordings shown", file=sys.stderr)
    return 0


def _gui(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="ecgviewer",
        description="Interactive 12-lead ECG viewer. Subcommands: render, info, analyze, convert, "
        "report, self-test, index, find (ecgviewer report --help).",
    )
    p.add_argument("files", nargs="*", help="recordings to open (default: the bundled sample)")
    p.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    p.add_argument("--quit-after-paint", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    from ecgviewer import desktop

    why = desktop.problem()  # before Qt: its own message names a plugin, not what to install
    if why:
        print(why, file=sys.stderr)
        return desktop.EXIT_CODE
    from ecgviewer.gui.app import run

    return run(args.files, quit_after_paint=args.quit_after_paint)


def entry() -> int:
    """The program's way in (the console script, ``python -m ecgviewer``, the frozen launcher):
    ``main`` with long beat lists shared with a worker process, as these ways in guard their
    main modules against being imported again (``measure.workers``)."""
    from ecgviewer.measure import workers

    workers.allow()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "render": cmd_render,
        "info": cmd_info,
        "analyze": cmd_analyze,
        "convert": cmd_convert,
        "report": cmd_report,
        "self-test": cmd_self_test,
        "index": cmd_index,
        "find": cmd_find,
    }
    try:
        if not argv or argv[0] not in commands:
            return _gui(argv)
        p = argparse.ArgumentParser(prog=f"ecgviewer {argv[0]}")
        if argv[0] == "analyze":
            p.add_argument("files", nargs="+", metavar="FILE")
            _analyze_args(p)
        elif argv[0] == "self-test":
            p.add_argument("--out", type=Path, help="keep the report's PDF here")
        elif argv[0] in ("index", "find"):
            _library_args(p, argv[0])
        else:
            p.add_argument("file")
        if argv[0] in ("info", "convert"):
            p.add_argument(
                "--identifiers",
                action="store_true",
                help="include the patient's name, ID and birth date (left out by default)",
            )
        if argv[0] == "convert":
            p.add_argument("out", help="output: NAME.hea (WFDB) or NAME.edf (EDF+)")
            p.add_argument("--format", choices=("wfdb", "edf"), help="default: from the output's suffix")
        if argv[0] == "report":
            _common_view_args(p)
            _report_args(p)
        if argv[0] == "render":
            _common_view_args(p)
            p.add_argument("--out", required=True, help="output image (.png, .jpg)")
            p.add_argument("--dpi", type=float, default=300.0, help="pixels per inch of paper")
        return commands[argv[0]](p.parse_args(_sort_value(argv[1:])))
    except EcgError as exc:
        print(f"ecgviewer: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
