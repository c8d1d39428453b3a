"""A plain-text summary of a recording (``ecgviewer info``, the info panel)."""

from __future__ import annotations

from ecgviewer.recording import Recording


def _duration(seconds: float) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:06.3f}" if h else f"{int(m)}:{s:06.3f}"


def summary_lines(rec: Recording) -> list[str]:
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
    if meta.age is not None or meta.sex:
        age = f"{meta.age:g}" if meta.age is not None else meta.extra.get("age", "?")
        lines.append(f"Patient:    age {age}, {meta.sex or 'sex unknown'}")
    if meta.report:
        lines.append(f"Report:     {meta.report}")
    for code, value in meta.labels.items():
        desc = meta.label_descriptions.get(code, "")
        lines.append(f"Label:      {code:<6} {value:5g}  {desc}")
    skip = {"age"}
    lines += [f"{k.capitalize() + ':':<11} {v}" for k, v in meta.extra.items() if k not in skip]
    lines += [f"Warning:    {w}" for w in rec.warnings]
    return lines
