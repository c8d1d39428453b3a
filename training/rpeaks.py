"""R-peak detectors measured against LUDB's cardiologist-annotated QRS complexes (lead II),
through the preprocessing contract (100 Hz, band-pass), to choose ``contract.RPEAK_METHOD``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.leads import canonical_lead
from ecgviewer.ml import contract

TOLERANCE_S = 0.075  # a detection within 75 ms of an annotated R peak is a match (baselines doc)


def match(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[int, np.ndarray]:
    """Greedy one-to-one matching in time order: (true positives, offsets det - ref)."""
    tp, offsets, j = 0, [], 0
    used = np.zeros(len(det), dtype=bool)
    for r in ref:
        while j < len(det) and det[j] < r - tol:
            j += 1
        k = j
        best = None
        while k < len(det) and det[k] <= r + tol:
            if not used[k] and (best is None or abs(det[k] - r) < abs(det[best] - r)):
                best = k
            k += 1
        if best is not None:
            used[best] = True
            tp += 1
            offsets.append(det[best] - r)
    return tp, np.asarray(offsets)


def ludb_record(path: Path) -> tuple[np.ndarray, float, list[str], np.ndarray, tuple[int, int]]:
    """Signals (leads, n), fs, lead names, annotated R peaks of lead II and the annotated span."""
    import wfdb

    rec = wfdb.rdrecord(str(path))
    ann = wfdb.rdann(str(path), "ii")
    sym = np.asarray(ann.symbol)
    r = ann.sample[sym == "N"]
    return (
        rec.p_signal.T,
        rec.fs,
        [canonical_lead(n) for n in rec.sig_name],
        r,
        (ann.sample.min(), ann.sample.max()),
    )


def score(ludb: Path, method: str) -> dict:
    """Sensitivity, PPV and timing of ``method`` in the contract's pipeline over all of LUDB.

    Detections outside the annotated stretch of each record (LUDB leaves the first and last
    beats unannotated) are not counted against PPV.
    """
    tp = n_ref = n_det = 0
    offsets = []
    empty = 0
    records = sorted((ludb / "data").glob("*.hea"), key=lambda p: int(p.stem))
    for hea in records:
        signals, fs, leads, ref, (lo, hi) = ludb_record(hea.with_suffix(""))
        x, present = contract.standard_leads(signals, leads)
        x = contract.band_pass(contract.to_model_rate(x, fs))
        peaks, _ = contract.find_rpeaks(x, present, method)
        det = np.round(peaks * fs / contract.FS).astype(np.int64)
        tol = int(TOLERANCE_S * fs)
        det = det[(det >= lo - tol) & (det <= hi + tol)]
        empty += len(peaks) == 0
        t, off = match(ref, det, tol)
        tp, n_ref, n_det = tp + t, n_ref + len(ref), n_det + len(det)
        offsets.extend(off / fs * 1000)
    off = np.asarray(offsets)
    return {
        "method": method,
        "records": len(records),
        "annotated_r": n_ref,
        "sensitivity": tp / max(1, n_ref),
        "ppv": tp / max(1, n_det),
        "offset_ms_mean": float(off.mean()) if len(off) else None,
        "offset_ms_sd": float(off.std()) if len(off) else None,
        "records_without_detection": empty,
    }


def compare(ludb: Path) -> dict:
    """Both candidate detectors, and which one the contract uses."""
    return {
        "contract_method": contract.RPEAK_METHOD,
        "results": [score(ludb, m) for m in ("neurokit2", "xqrs")],
    }
