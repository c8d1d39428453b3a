"""What a report says, as plain data: the header's blocks of text, the pages and the shares of the
attribution. No Qt: the painter (``report.pages``) only places what this module decides, and tests
read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from ecgviewer import NOTICE, NOTICE_INLINE, __version__
from ecgviewer.interpretation import withheld
from ecgviewer.measure.intervals import DEFAULT_QTC, TOO_NOISY
from ecgviewer.measure.quality import headline
from ecgviewer.measurements import EVENT_KINDS, MEASUREMENTS
from ecgviewer.ml.wording import TERRITORIAL, TOP_LEADS, Share, percent, ranked, shares, territory_shares
from ecgviewer.recording import Recording
from ecgviewer.render.layout import Page
from ecgviewer.render.options import ViewOptions, page_caption, recording_page
from ecgviewer.render.traces import TraceSource
from ecgviewer.summary import clock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ecgviewer.interpretation import Statement
    from ecgviewer.measure.intervals import Measurements, Value
    from ecgviewer.measure.rhythm import BeatList
    from ecgviewer.ml.infer import ClassResult, Predictions
    from ecgviewer.ml.likelihood import Bands
    from ecgviewer.ml.session import Result
    from ecgviewer.overread import Overread

MAX_PAGES = 12  # a long recording's report stops here (24 h would be 8,640 pages)


@dataclass(frozen=True)
class Row:
    """A table row (an AI finding): the name may wrap inside its own column while the probability
    and the decision keep theirs, so a long name never pushes the numbers off the line."""

    name: str
    cells: tuple[str, ...]  # "p = 0.91", "\u2265 0.50 positive" ("" without a threshold)
    level: int = 0  # 1: a finer class, under the superclasses


Line = str | Row


@dataclass(frozen=True)
class Block:
    """A titled list of lines; the page wraps each line and continues the list on the next page,
    so every line is printed whole."""

    title: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class AiPart:
    """The model's side of the report: what it found, which class is explained, and where."""

    model: str  # name and the start of the weights' SHA-256
    findings: Block
    explained: Block
    target: str  # "MI (myocardial infarction)"
    leads: tuple[Share, ...]  # in the model's lead order
    territories: tuple[Share, ...]  # as the hierarchy names them
    result: Result
    unreported: Block | None = None  # the classes scored but not reported, on the attribution page


@dataclass(frozen=True)
class Report:
    rec: Recording
    options: ViewOptions  # the ECG pages' layout, order, speed, gain and filter
    pages: tuple[Page, ...]  # the ECG pages (page one first); the attribution page repeats page one
    blocks: tuple[Block, ...]  # page one's header: recording, measurements, AI findings
    ai: AiPart | None
    created: datetime
    identifiers: bool
    omitted: str = ""  # what a long recording's report leaves out, said on its last page
    statements: Block | None = None  # what the measurements met but do not state, and why
    interpretation: Block | None = None  # the numbered statements: confirmed, or the computer's
    computer: Block | None = None  # the computer's own statements, where a reader changed them
    evidence: Block | None = None  # what stands behind each of the computer's statements
    beats: Block | None = None  # a long recording's beat list, under the statements

    @cached_property
    def source(self) -> TraceSource:
        """The filtered samples, shared by all pages (an in-memory recording is filtered once)."""
        return TraceSource(self.rec)

    @property
    def n_pages(self) -> int:
        """The ECG pages and the attribution page; the text that overflows page one's header adds
        pages of its own (``pages.page_count`` counts them, as it needs Qt's font metrics)."""
        return len(self.pages) + (1 if self.ai is not None else 0)

    def page_footer(self, page: Page) -> str:
        """Speed, gain and filter (display only) and the seconds shown: printed on every ECG page."""
        return page_caption(self.options, self.rec, page, name=False)

    def identity(self) -> str:
        """The recording, and the patient when identifiers are printed: on every page's title line."""
        shown = self.rec.metadata.identifiers.items() if self.identifiers else ()
        return "   ".join([self.rec.name, *(f"{k.capitalize()}: {v}" for k, v in shown)])

    def stamp(self) -> str:
        """Who made the page and with what: on every page."""
        model = f"   Model: {self.ai.model}" if self.ai is not None else ""
        return f"ecgviewer {__version__}   {self.created:%Y-%m-%d %H:%M}{model}   {NOTICE}"


def ecg_pages(rec: Recording, options: ViewOptions, t0: float, max_pages: int = MAX_PAGES) -> list[Page]:
    """Page one from ``t0``, then the following seconds page by page up to ``max_pages``."""
    pages: list[Page] = []
    start = max(0.0, t0)
    while len(pages) < max(1, max_pages) and (not pages or start < rec.duration):
        pages.append(recording_page(options, rec, start))
        start += pages[-1].span
    return pages


def recording_block(rec: Recording, identifiers: bool) -> Block:
    meta = rec.metadata
    lines = [rec.name]
    if identifiers:
        lines += [f"{k.capitalize()}: {v}" for k, v in meta.identifiers.items()]
    elif meta.identifiers:
        lines.append("Patient identifiers: not shown")
    if meta.age is not None or meta.sex:
        age = f"{meta.age:g} y" if meta.age is not None else "age unknown"
        lines.append(f"Patient: {age}, {meta.sex or 'sex unknown'}")
    if rec.start_time:
        lines.append(f"Acquired: {rec.start_time:%Y-%m-%d %H:%M:%S}")
    lines.append(f"{rec.source_format}, {len(rec.leads)} leads, {rec.fs:g} Hz, {rec.duration:.1f} s")
    if rec.derived:
        lines.append(f"Derived from I and II: {', '.join(sorted(rec.derived))}")
    if meta.dataset:
        lines.append(f"{meta.dataset} record {meta.record_id}")
    device = meta.device
    if device is not None:
        if device.device:
            lines.append(f"Device: {device.device}")
        lines += [f"Device says: {s}" for s in device.statements]
    if meta.report:
        lines.append(f"The file's own report: {meta.report}")
    lines += [f"Warning: {w}" for w in rec.warnings]
    return Block("Recording", tuple(lines))


def _value(v: Value) -> str:
    return "\u2014" if v.value is None else f"{v.value:.0f} {v.unit}"


def measurement_block(m: Measurements | None, rec: Recording, formula: str, why_not: str) -> Block:
    """Ours from the median beats, the device's beside them (labelled), edits marked."""
    if m is None:
        return Block("Measurements", (why_not,))
    from ecgviewer.measure.agreement import flags

    device = rec.metadata.device
    flagged = flags(m, device, formula)
    lines = []
    for key, (name, unit) in MEASUREMENTS.items():
        v = m.qtc(formula) if key == "qtc" else m.values[key]
        label = f"QTc ({formula})" if key == "qtc" else name
        text = f"{label}: {_value(v)}"
        if v.paced:
            text += " (paced complex)"
        if v.edited:
            text += " (edited)"
        if device is not None and key in device.measurements:
            text += f"   device {device.measurements[key]:.0f} {unit}"
        if key in flagged:
            text += f"   \u26a0 {flagged[key].text()}"
        lines.append(text)
    lines.append(f"Median beat of {m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s")
    lines += [f"{TOO_NOISY.capitalize()}: {a:.1f}\u2013{b:.1f} s (no beat counted)" for a, b in m.too_noisy]
    if m.left_out:
        left_out = (f"{lead} ({headline(why)})" for lead, why in m.left_out.items())
        lines.append("Left out: " + ", ".join(left_out))
    lines += list(m.withheld.values())
    return Block("Measurements", tuple(lines))


def statement_block(m: Measurements | None, rec: Recording, formula: str) -> Block | None:
    """The measurements' statements met where their criterion does not apply, with the reason
    (what is stated is in the interpretation, with its values): the reader sees why the cart's
    usual line is missing."""
    if m is None:
        return None
    from ecgviewer.measure.statements import interpret

    found = [s for s in interpret(m, rec.metadata.sex, formula) if s.withheld]
    lines = [f"{s.heading()} ({s.shown()})" for s in found]
    return Block("Not stated (from the measurements)", tuple(lines)) if lines else None


def interpretation_blocks(
    computer: Sequence[Statement], read: Overread | None
) -> tuple[Block | None, Block | None]:
    """The interpretation as signed ("Confirmed by NAME, DATE") or as the computer proposed it
    ("Unconfirmed computer interpretation"), numbered, with a note under it for each pair of its
    statements that exclude each other (``disagreements``); and, where a reader changed it, the
    computer's original statements apart, so the two are never mistaken for each other."""
    from ecgviewer.interpretation import disagreements, numbered
    from ecgviewer.overread import UNCONFIRMED

    def lines(statements: Sequence[Statement]) -> tuple[str, ...]:  # numbered, then a note per clash
        return (*numbered(statements), *(f"Note: {d}." for d in disagreements(statements)))

    if read is None:
        if not computer:
            return None, None
        return Block(UNCONFIRMED, lines(computer)), None
    said = Block(read.status(), lines(read.statements) or ("no statements",))
    if not read.edited():
        return said, None
    return said, Block("Computer interpretation (as proposed)", tuple(numbered(read.computer)) or ("none",))


def evidence_block(computer: Sequence[Statement]) -> Block | None:
    """What stands behind each of the computer's statements (the values that met a criterion, the
    model's decision), numbered as proposed: after the interpretation, which it must not crowd
    off page one."""
    lines = tuple(f"{i}. {s.text}: {s.evidence}" for i, s in enumerate(computer, 1) if s.evidence)
    return Block("Behind the computer's statements", lines) if lines else None


def beats_block(beats: BeatList | None) -> Block | None:
    """A long recording's beat list: the counts, the rate range, how it was read (``reading``)
    and every event, earliest first (what page one's column cannot hold continues on the next)."""
    if beats is None:
        return None
    events = [f"{clock(e.start_s)} {EVENT_KINDS[e.kind]}: {e.detail}" for e in beats.events]
    headline, *lines = beats.summary()  # the headline is the title: the column has few lines
    return Block(f"{headline} (whole recording)", (*lines, beats.reading(), *(events or ["no events"])))


def finding(c: ClassResult, level: int = 0) -> Row:
    """A class with its probability and, when the card gives a threshold, the decision: a row whose
    numbers stay in their columns however long the class's name."""
    decision = ""
    if c.threshold is not None:
        side = "\u2265" if c.decision else "<"
        decision = f"{side} {c.threshold:.2f}" + (" positive" if c.decision else "")
    return Row(f"{c.code} {c.description}", (f"p = {c.probability:.2f}", decision), level)


def unreported_block(preds: Predictions) -> Block | None:
    """The classes the model scores but does not report, by reason, so that a finding looked for
    on paper is never silently absent (``Predictions.not_reported``)."""
    by_reason: dict[str, list[str]] = {}
    for n in preds.not_reported:
        # ``infer.not_surfaced_reason``'s "why (this class's figure; the bar)": grouped by why and
        # the bar, each class with its own figure, as the window lists them one by one
        why, _, figures = n.reason.partition(" (")
        figure, _, bar = figures.removesuffix(")").partition("; ")
        key = f"{why} ({bar})" if bar else why
        by_reason.setdefault(key, []).append(f"{n.code} ({figure})" if figure else n.code)
    lines = tuple(f"{why}: {', '.join(codes)}" for why, codes in by_reason.items())
    return Block("Not reported by this model", lines) if lines else None


def ai_part(result: Result, model: str) -> AiPart:
    from ecgviewer.ml import contract

    preds, e = result.analysis.predictions, result.explanation
    findings: list[Line] = []
    for g in sorted(preds.grouped(), key=lambda g: (g.head is None, -(g.head.probability if g.head else 0))):
        members = sorted(
            (c for c in g.members if c.decision and c.code != g.name), key=lambda c: -c.probability
        )
        if g.head is not None:
            findings.append(finding(g.head))
        elif members:
            findings.append(f"{g.name}:")  # a group without a superclass of its own (rhythm, form)
        findings += [finding(c, 1) for c in members]  # each under its own superclass or group
    if not findings:
        findings.append("no validated class to show")
    if invalid := sorted({c.code for c, _ in withheld(preds)}):
        findings.append(f"not stated (invalid beside the others): {', '.join(invalid)}")
    if preds.lead_note:
        findings.append(preds.lead_note.short)
    unreported = unreported_block(preds)
    if unreported is not None:
        findings.append(
            f"{len(preds.not_reported)} classes not reported by this model: listed on the attribution page"
        )
    target = preds.get(e.target.task, e.target.code)
    leads = shares(list(contract.LEADS), e.leads)
    territories = territory_shares(e)

    def listed(items: list[Share], what: str) -> str:
        return f"{what}: " + (", ".join(f"{x.name} {percent(x.share, x.share < 0)}" for x in items) or "none")

    worded = result.worded
    # a territory only where a cardiologist localises the finding, as on screen; elsewhere the
    # worded lines already name the leads raising it, with their shares (``wording._by_leads``)
    raising = (
        [
            listed(ranked(territories, 3), "territories raising it"),
            listed(ranked(leads, TOP_LEADS), "leads raising it"),
        ]
        if target.group in TERRITORIAL
        else []
    )
    explained = [
        f"Explained: {target.code} ({target.description})",
        *worded.lines,
        f"{e.method_name.replace('_', ' ')}; shares of the attribution:",
        *(raising if worded.form == "positive" else []),
        listed(ranked(leads, TOP_LEADS, -1), "leads lowering it"),
        *([result.reading.text] if result.reading else []),
    ]
    return AiPart(
        model=model,
        findings=Block(f"AI findings ({NOTICE_INLINE})", tuple(findings)),
        explained=Block("Attribution", tuple(explained)),
        target=f"{target.code} ({target.description})",
        leads=leads,
        territories=territories,
        result=result,
        unreported=unreported,
    )


def build(
    rec: Recording,
    options: ViewOptions,
    *,
    t0: float = 0.0,
    result: Result | None = None,
    model: str = "",
    measurements: Measurements | None = None,
    formula: str = DEFAULT_QTC,
    identifiers: bool = False,
    ai_note: str = "AI analysis not run",
    measure_note: str = "Measurements not run",
    max_pages: int = MAX_PAGES,
    created: datetime | None = None,
    beats: BeatList | None = None,
    bands: Bands | None = None,
    overread: Overread | None = None,
) -> Report:
    """Everything a report shows; ``result`` and ``measurements`` are optional (off or failed).
    ``overread``: the reader's interpretation, printed instead of the computer's (``bands``: the
    model card's likelihood words for the computer's statements)."""
    from ecgviewer.interpretation import propose

    pages = ecg_pages(rec, options, t0, max_pages)
    predictions = result.analysis.predictions if result is not None else None
    computer = propose(measurements, predictions, sex=rec.metadata.sex, formula=formula, bands=bands)
    interpretation, original = interpretation_blocks(computer, overread)
    ai = ai_part(result, model) if result is not None else None
    last = pages[-1]
    shown_to = min(rec.duration, last.t0 + last.span)
    omitted = ""
    if shown_to < rec.duration - 1e-6:
        omitted = (
            f"This report shows {pages[0].t0:.1f}\u2013{shown_to:.1f} s of {rec.duration:.1f} s "
            f"(its ECG is limited to {len(pages)} pages)."
        )
    ai_blocks = (ai.findings, ai.explained) if ai is not None else (Block("AI findings", (ai_note,)),)
    blocks = (
        recording_block(rec, identifiers),
        measurement_block(measurements, rec, formula, measure_note),
        *ai_blocks,
    )
    return Report(
        rec=rec,
        options=options,
        pages=tuple(pages),
        blocks=blocks,
        ai=ai,
        created=created or datetime.now().astimezone(),
        identifiers=identifiers,
        omitted=omitted,
        statements=statement_block(measurements, rec, formula),
        beats=beats_block(beats),
        interpretation=interpretation,
        computer=original,
        evidence=evidence_block(overread.computer if overread is not None else computer),
    )
