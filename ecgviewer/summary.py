"""A plain-text summary of a recording (``ecgviewer info``, the info panel)."""

from __future__ import annotations

from ecgviewer.measurements import MEASUREMENTS
from ecgviewer.recording import DeviceReport, Recording

SHOW_HINT = "hidden (ecgviewer info --identifiers, or View \u25b8 Show patient identifiers)"
MAX_ANNOTATIONS = 20  # the info text lists the first few; the paper shows them all


def _duration(seconds: float) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:06.3f}" if h else f"{int(m)}:{s:06.3f}"


def clock(seconds: float) -> str:
    """A time in the recording as h:mm:ss, or m:ss.s under an hour (axes, event lists)."""
    h, rem = divmod(max(0.0, seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{int(s):02d}" if h else f"{int(m)}:{s:04.1f}"


def device_lines(report: DeviceReport) -> list[str]:
    """The device's own interpretation and measurements, labelled as the device's."""
    lines = [f"Device:     {report.device}"] if report.device else []
    lines += [f"Device says: {s}" for s in report.statements]
    for key, (name, unit) in MEASUREMENTS.items():
        if key in report.measurements:
            formula = f" ({report.qtc_formula})" if key == "qtc" and report.qtc_formula else ""
            lines.append(f"Device {name}{formula}: {report.measurements[key]:g} {unit}")
    if report.median is not None:
        m = report.median
        seconds = m.data.shape[1] / m.fs
        lines.append(f"Device median beats: {len(m.leads)} leads, {seconds:.2f} s at {m.fs:g} Hz")
    return lines


def summary_lines(rec: Recording, identifiers: bool = False) -> list[str]:
    """What the file says about the recording; patient identifiers only when ``identifiers``."""
    meta = rec.metadata
    lines = [
        f"File:       {rec.path}",
        f"Format:     {rec.source_format}",
        f"Leads:      {len(rec.leads)} ({', '.join(rec.leads)})",
        f"Rate:       {rec.fs:g} Hz",
        f"Duration:   {_duration(rec.duration)} ({rec.n_samples} samples)",
        f"Units:      {rec.units}",
    ]
    if rec.derived:
        lines.append(f"Derived:    {', '.join(sorted(rec.derived))} (computed from I and II)")
    if rec.start_time:
        lines.append(f"Start:      {rec.start_time.isoformat(sep=' ')}")
    if meta.dataset:
        lines.append(f"Dataset:    {meta.dataset} record {meta.record_id}")
    if meta.identifiers:
        if identifiers:
            lines += [f"{k.capitalize() + ':':<11} {v}" for k, v in meta.identifiers.items()]
        else:
            lines.append(f"Identity:   {SHOW_HINT}")
    if meta.age is not None or meta.sex:
        age = f"{meta.age:g}" if meta.age is not None else meta.extra.get("age", "?")
        lines.append(f"Patient:    age {age}, {meta.sex or 'sex unknown'}")
    if meta.report:
        lines.append(f"Report:     {meta.report}")
    for code, value in meta.labels.items():
        desc = meta.label_descriptions.get(code, "")
        lines.append(f"Label:      {code:<6} {value:5g}  {desc}")
    skip = {"age"}
    lines += [f"{k[:1].upper() + k[1:] + ':':<11} {v}" for k, v in meta.extra.items() if k not in skip]
    if meta.device is not None:
        lines += device_lines(meta.device)
    if meta.annotations:
        lines.append(f"Annotations: {len(meta.annotations)}")
        for a in meta.annotations[:MAX_ANNOTATIONS]:
            span = f" for {a.duration:g} s" if a.duration else ""
            lines.append(f"  {a.onset:9.3f} s{span}  {a.text}")
        if len(meta.annotations) > MAX_ANNOTATIONS:
            lines.append(f"  \u2026 and {len(meta.annotations) - MAX_ANNOTATIONS} more")
    lines += [f"Warning:    {w}" for w in rec.warnings]
    return lines
