"""What a report says, as plain data: the header's blocks of text, the pages and the shares of the
attribution. No Qt: the painter (``report.pages``) only places what this module decides, and tests
read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer import NOTICE, NOTICE_INLINE, __version__
from ecgviewer.measure.quality import headline
from ecgviewer.measurements import EVENT_KINDS, MEASUREMENTS
from ecgviewer.recording import Recording
from ecgviewer.render.layout import Page, page_duration, page_layout
from ecgviewer.render.options import ViewOptions, page_caption
from ecgviewer.render.traces import TraceSource
from ecgviewer.summary import clock

if TYPE_CHECKING:
    from ecgviewer.measure.intervals import Measurements, Value
    from ecgviewer.measure.rhythm import BeatList
    from ecgviewer.ml.infer import ClassResult
    from ecgviewer.ml.session import Result

MAX_PAGES = 12  # a long recording's report stops here (24 h would be 8,640 pages)
MAX_DEVICE_STATEMENTS = 4
MAX_FINER = 4  # finer classes listed under the superclasses (positive ones, most probable first)
TOP_LEADS = 3


@dataclass(frozen=True)
class Share:
    """One lead's or territory's attribution: its score and its share of the total magnitude
    (signed: a negative share lowers the class's logit)."""

    name: str
    score: float
    share: float


@dataclass(frozen=True)
class Block:
    title: str
    lines: tuple[str, ...]


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
    statements: Block | None = None  # what the measurements support, under the recording block
    beats: Block | None = None  # a long recording's beat list, under the statements

    @cached_property
    def source(self) -> TraceSource:
        """The filtered samples, shared by all pages (an in-memory recording is filtered once)."""
        return TraceSource(self.rec)

    @property
    def n_pages(self) -> int:
        return len(self.pages) + (1 if self.ai is not None else 0)

    def page_footer(self, page: Page) -> str:
        """Speed, gain and filter (display only) and the seconds shown: printed on every ECG page."""
        return page_caption(self.options, self.rec, page, name=False)

    def stamp(self) -> str:
        """Who made the page and with what: on every page."""
        model = f"   Model: {self.ai.model}" if self.ai is not None else ""
        return f"ecgviewer {__version__}   {self.created:%Y-%m-%d %H:%M}{model}   {NOTICE}"


def ecg_pages(rec: Recording, options: ViewOptions, t0: float, max_pages: int = MAX_PAGES) -> list[Page]:
    """Page one from ``t0``, then the following seconds page by page up to ``max_pages``."""
    step = page_duration(options.speed)
    starts = np.arange(max(0.0, t0), max(rec.duration, t0 + 1e-9), step)[: max(1, max_pages)]
    return [
        page_layout(
            options.layout,
            rec.leads,
            t0=float(s),
            speed=options.speed,
            gain=options.gain,
            order=options.order,
            rhythm=options.rhythm or None,
            derived=rec.derived,
        )
        for s in starts
    ]


def shares(names: list[str], scores: np.ndarray) -> tuple[Share, ...]:
    """Each score as a signed share of the sum of magnitudes (viewer-anchors section 3.3)."""
    scores = np.asarray(scores, dtype=np.float64)
    total = float(np.sum(np.abs(scores)))
    return tuple(
        Share(n, float(s), float(s) / total if total > 0 else 0.0) for n, s in zip(names, scores, strict=True)
    )


def ranked(items: tuple[Share, ...], n: int) -> list[Share]:
    """The ``n`` that raise the logit most (positive shares only, largest first)."""
    return [s for s in sorted(items, key=lambda s: -s.share) if s.share > 0][:n]


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
        said = device.statements[:MAX_DEVICE_STATEMENTS]
        lines += [f"Device says: {s}" for s in said]
        if len(device.statements) > len(said):
            lines.append(f"\u2026 and {len(device.statements) - len(said)} more device statements")
    lines += [f"Warning: {w}" for w in rec.warnings]
    return Block("Recording", tuple(lines))


def _value(v: Value) -> str:
    return "\u2014" if v.value is None else f"{v.value:.0f} {v.unit}"


def measurement_block(m: Measurements | None, rec: Recording, formula: str, why_not: str) -> Block:
    """Ours from the median beats, the device's beside them (labelled), edits marked."""
    if m is None:
        return Block("Measurements", (why_not,))
    device = rec.metadata.device
    lines = []
    for key, (name, unit) in MEASUREMENTS.items():
        v = m.qtc(formula) if key == "qtc" else m.values[key]
        label = f"QTc ({formula})" if key == "qtc" else name
        text = f"{label}: {_value(v)}"
        if v.edited:
            text += " (edited)"
        if device is not None and key in device.measurements:
            text += f"   device {device.measurements[key]:.0f} {unit}"
        lines.append(text)
    lines.append(f"Median beat of {m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s; check it in the viewer")
    if m.left_out:
        left_out = (f"{lead} ({headline(why)})" for lead, why in m.left_out.items())
        lines.append("Left out: " + ", ".join(left_out))
    lines += list(m.withheld.values())[:2]
    return Block("Measurements", tuple(lines))


def statement_block(m: Measurements | None, rec: Recording) -> Block | None:
    """The measurements' statements, each with its first value (a column's width; all values
    and the criteria are in the viewer and ``analyze`` JSON); apart from the model's findings and
    the device's statements."""
    if m is None:
        return None
    from ecgviewer.measure.statements import statements

    found = statements(m, rec.metadata.sex)
    lines = [f"{s.criterion.text} ({' '.join(next(iter(s.values.items())))})" for s in found]
    return Block("Statements (from the measurements)", tuple(lines) or ("none met",))


def beats_block(beats: BeatList | None) -> Block | None:
    """A long recording's beat list: the counts, the rate range and the events, earliest first
    (the column shows what fits; the viewer's Beats dock and ``analyze`` have them all)."""
    if beats is None:
        return None
    events = [f"{clock(e.start_s)} {EVENT_KINDS[e.kind]}: {e.detail}" for e in beats.events]
    headline, *lines = beats.summary()  # the headline is the title: the column has few lines
    return Block(f"{headline} (whole recording)", (*lines, *(events or ["no events"])))


def _finding(c: ClassResult, indent: str = "") -> str:
    """A class with its probability and, when the card gives a threshold, the decision."""
    text = f"{indent}{c.code} {c.description}: p = {c.probability:.2f}"
    if c.threshold is not None:
        side = "\u2265" if c.decision else "<"
        text += f" {side} {c.threshold:.2f}" + (" positive" if c.decision else "")
    return text


def ai_part(result: Result, model: str) -> AiPart:
    from ecgviewer.ml import contract

    preds, e = result.analysis.predictions, result.explanation
    groups = preds.grouped()
    heads = sorted((g.head for g in groups if g.head is not None), key=lambda c: -c.probability)
    finer = sorted(
        (c for g in groups for c in g.members if c.decision and c.code != g.name),
        key=lambda c: -c.probability,
    )
    findings = [_finding(c) for c in heads] + [_finding(c, "  ") for c in finer[:MAX_FINER]]
    if not findings:
        findings.append("no validated class to show")
    if preds.lead_note:
        findings.append(preds.lead_note.short)
    target = preds.get(e.target.task, e.target.code)
    leads = shares(list(contract.LEADS), e.leads)
    territories = shares([t.name for t in e.tree], np.array([t.score for t in e.tree]))
    span = "whole recording" if result.whole else f"{result.span[0]:.1f}\u2013{result.span[1]:.1f} s"

    def listed(items: list[Share]) -> str:
        return ", ".join(f"{s.name} {100 * s.share:.0f} %" for s in items) or "none raises it"

    worded = result.worded
    explained = [
        f"Explained: {target.code} ({target.description}), p = {target.probability:.2f}",
        *worded.lines,
        f"{e.method_name.replace('_', ' ')} over {span}",
        f"Territories: {listed(ranked(territories, 3))}",
        f"Leads: {listed(ranked(leads, TOP_LEADS))}",
    ]
    tokens = result.analysis.tokens
    if tokens.missing_leads:
        explained.append(f"Leads without signal: {', '.join(tokens.missing_leads)}")
    if tokens.fallback.any():
        explained.append("No R-peaks in some windows: pseudo-beats were used")
    return AiPart(
        model=model,
        findings=Block(f"AI findings ({NOTICE_INLINE})", tuple(findings)),
        explained=Block("Attribution", tuple(explained)),
        target=f"{target.code} ({target.description})",
        leads=leads,
        territories=territories,
        result=result,
    )


def build(
    rec: Recording,
    options: ViewOptions,
    *,
    t0: float = 0.0,
    result: Result | None = None,
    model: str = "",
    measurements: Measurements | None = None,
    formula: str = "Bazett",
    identifiers: bool = False,
    ai_note: str = "AI analysis not run",
    measure_note: str = "Measurements not run",
    max_pages: int = MAX_PAGES,
    created: datetime | None = None,
    beats: BeatList | None = None,
) -> Report:
    """Everything a report shows; ``result`` and ``measurements`` are optional (off or failed)."""
    pages = ecg_pages(rec, options, t0, max_pages)
    ai = ai_part(result, model) if result is not None else None
    last = pages[-1]
    shown_to = min(rec.duration, last.t0 + last.duration)
    omitted = ""
    if shown_to < rec.duration - 1e-6:
        omitted = (
            f"This report shows {pages[0].t0:.1f}\u2013{shown_to:.1f} s of {rec.duration:.1f} s "
            f"({len(pages)} pages at most); report other parts with --start or from the page on screen."
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
        statements=statement_block(measurements, rec),
        beats=beats_block(beats),
    )
