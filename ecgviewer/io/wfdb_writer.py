"""Save as WFDB (``.hea`` + ``.dat``, format 16 or 32): the writer beside ``wfdb_reader``."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecgviewer.io.coding import (
    FINE_STEP,
    WINDOW,
    LeadCoding,
    SaveError,
    check_space,
    commit,
    max_errors,
    one_line,
    report_changes,
    scan,
    windows,
)
from ecgviewer.io.wfdb_reader import IDENTIFIER_PREFIX
from ecgviewer.recording import Recording

_RECORD_NAME = re.compile(r"[-\w]+", re.ASCII)


def _wfdb_coding(c: LeadCoding) -> LeadCoding:
    """A lead on no grid, or whose codes overflow 32 bits: quantised to 1 nV (coarser if it must)."""
    if c.exact and c.low > -(2**31) and c.high < 2**31:
        return c
    step = FINE_STEP * max(1, math.ceil(max(abs(c.vmin), abs(c.vmax)) / 2147.0))
    q = replace(c, step=step, offset=Fraction(0), exact=False)
    q.low, q.high = (int(v) for v in q.codes(np.array([c.vmin, c.vmax])))
    return q


def save_wfdb(rec: Recording, target: Path, tmp: Path, identifiers: bool, notes: list[str]) -> Path:
    import wfdb

    name = target.stem if target.suffix.lower() in (".hea", ".dat") else target.name
    if not _RECORD_NAME.fullmatch(name):
        raise SaveError(target, "a WFDB record name may hold only letters, digits, '-' and '_'")
    hea, dat = target.with_name(name + ".hea"), target.with_name(name + ".dat")
    codings = [_wfdb_coding(c) for c in scan(rec, offset=False)]
    fmt16 = all(c.low > -32768 and c.high <= 32767 for c in codings)
    dtype, missing = ("<i2", -32768) if fmt16 else ("<i4", -(2**31))
    check_space(target, rec.n_samples * len(rec.leads) * (2 if fmt16 else 4))
    n_leads = len(rec.leads)
    checksum, first = np.zeros(n_leads, np.int64), np.zeros(n_leads, np.int64)
    errors = np.zeros(n_leads)
    with open(tmp / dat.name, "wb") as fh:
        for start, data in windows(rec, WINDOW):
            codes = np.stack([c.codes(x) for c, x in zip(codings, data, strict=True)])
            codes[np.isnan(data)] = missing
            errors = np.maximum(errors, max_errors(codings, data, codes))
            checksum += codes.sum(axis=1)
            if start == 0:
                first = codes[:, 0].copy()
            fh.write(codes.T.astype(dtype).tobytes())
    start_time = rec.start_time
    record = wfdb.Record(
        record_name=name,
        n_sig=n_leads,
        fs=rec.fs,
        sig_len=rec.n_samples,
        base_date=start_time.date() if start_time else None,
        base_time=start_time.time() if start_time else None,
        file_name=[dat.name] * n_leads,
        fmt=["16" if fmt16 else "32"] * n_leads,
        adc_gain=[float(1 / c.step) for c in codings],
        baseline=[0] * n_leads,
        units=["mV"] * n_leads,
        adc_res=[16 if fmt16 else 32] * n_leads,
        adc_zero=[0] * n_leads,
        init_value=[int(v) for v in first],
        checksum=[int((s + 32768) % 65536 - 32768) for s in checksum],  # 16-bit signed sum
        block_size=[0] * n_leads,
        sig_name=list(rec.leads),
        comments=_comments(rec, identifiers),
    )
    record.wrheader(write_dir=str(tmp))
    moves = [(tmp / dat.name, dat)]
    annotations = [a for a in rec.metadata.annotations if a.text.strip() and a.onset >= 0]
    if annotations:  # WFDB "comment" annotations ('"'), the text in the aux field; durations are lost
        wfdb.wrann(
            name,
            "atr",
            np.array([round(a.onset * rec.fs) for a in annotations], np.int64),
            symbol=['"'] * len(annotations),
            aux_note=[one_line(a.text) for a in annotations],
            fs=rec.fs,
            write_dir=str(tmp),
        )
        moves.append((tmp / (name + ".atr"), target.with_name(name + ".atr")))
        if any(a.duration for a in annotations):
            notes.append("annotation durations are not kept in WFDB (only onsets and texts)")
    report_changes(rec, codings, errors, notes)
    commit(tmp, [*moves, (tmp / hea.name, hea)])
    return hea


def _comments(rec: Recording, identifiers: bool) -> list[str]:
    """Header comments (``key: value``, as WFDB readers of LUDB and the Challenge parse them)."""
    meta = rec.metadata
    lines = []
    if meta.age is not None:
        lines.append(f"age: {meta.age:g}")
    if meta.sex:
        lines.append(f"sex: {meta.sex}")
    lines += [f"{k}: {v}" for k, v in meta.extra.items()]
    if meta.report:
        lines.append(f"report: {meta.report}")
    device = meta.device
    if device is not None:
        if device.device:
            lines.append(f"device: {device.device}")
        lines += [f"device statement {k}: {s}" for k, s in enumerate(device.statements, 1)]
        lines += [f"device {k}: {v:g}" for k, v in device.measurements.items()]
        if device.qtc_formula:
            lines.append(f"device qtc formula: {device.qtc_formula}")
    derived = [lead for lead in rec.leads if lead in rec.derived]
    if derived:
        lines.append(f"derived leads: {' '.join(derived)} (computed from I and II, not recorded)")
    if identifiers:  # prefixed, so a reader files them as identifiers, not as ordinary facts
        lines += [f"{IDENTIFIER_PREFIX}{k}: {v}" for k, v in meta.identifiers.items()]
    return [one_line(line) for line in lines]
