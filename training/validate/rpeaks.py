"""R-peak detectors measured through the preprocessing contract (100 Hz, band-pass) against
LUDB's cardiologist-annotated QRS complexes (lead II, 12 leads) and MIT-BIH Arrhythmia DS1's
reference beat labels (2 leads, 30 min, arrhythmias and paced beats; de Chazal et al. 2004's
split): the choice of ``contract.RPEAK_METHOD`` and of contract 2's multi-lead consensus.

``python -m training rpeaks`` writes ``training/reports/RPEAKS.md``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.leads import canonical_lead
from ecgviewer.ml import contract

TOLERANCE_S = 0.075  # a detection within 75 ms of an annotated R peak is a match (baselines doc)
MITDB_TOLERANCE_S = 0.15  # ANSI/AAMI EC57's beat-matching window for MIT-BIH's beat labels
# MIT-BIH's beat symbols (wfdb's annotation table): every other label marks no beat.
MITDB_BEATS = frozenset("NLRBAaJSVrFejnE/fQ?")
# Detectors compared: the contract's (neurokit2 on every lead, ``contract.consensus``), contract
# 1's (neurokit2 on the reference lead alone, 0.3 s apart: its default) and wfdb's xqrs on the
# reference lead alone (how contract 1 chose neurokit2 over it).
DETECTORS = ("neurokit2", "contract 1", "xqrs")


def pairs(ref: np.ndarray, det: np.ndarray, tol: int) -> list[tuple[int, int]]:
    """Greedy one-to-one matching in time order, the nearest unused detection within ``tol``
    samples: (reference index, detected index) of each match."""
    out, j, used = [], 0, np.zeros(len(det), dtype=bool)
    for i, r in enumerate(ref):
        while j < len(det) and det[j] < r - tol:
            j += 1
        k, best = j, None
        while k < len(det) and det[k] <= r + tol:
            if not used[k] and (best is None or abs(det[k] - r) < abs(det[best] - r)):
                best = k
            k += 1
        if best is not None:
            used[best] = True
            out.append((i, best))
    return out


def match(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[int, np.ndarray]:
    """(true positives, offsets det - ref) of ``pairs``."""
    matched = pairs(ref, det, tol)
    return len(matched), np.asarray([det[k] - ref[i] for i, k in matched])


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


def contract1_rpeaks(x: np.ndarray, present: np.ndarray, method: str = "neurokit2") -> np.ndarray:
    """Contract 1's R-peaks: the first lead of ``RPEAK_LEADS`` with a plausible series, alone, with
    neurokit2's own 0.3 s between peaks (kept to measure contract 2 against), or ``method``'s."""
    for lead in contract.RPEAK_LEADS:
        i = contract.LEADS.index(lead)
        if present[i]:
            peaks = contract.detect_rpeaks(x[i], contract.FS, method, min_rr_s=0.3)
            if contract._plausible(peaks, x.shape[-1]):
                return peaks
    return np.zeros(0, dtype=np.int64)


def detect(signals: np.ndarray, fs: float, leads: list[str], detector: str) -> np.ndarray:
    """R-peaks at the source rate ``fs`` by ``detector`` (one of ``DETECTORS``)."""
    x, present = contract.prepare(signals, fs, leads)
    if detector == "neurokit2":
        peaks, _ = contract.find_rpeaks(x, present, detector)
    else:
        peaks = contract1_rpeaks(x, present, "neurokit2" if detector == "contract 1" else detector)
    return np.round(peaks * fs / contract.FS).astype(np.int64)


def mitdb_record(path: Path) -> tuple[np.ndarray, float, list[str], np.ndarray]:
    """Signals (leads, n), fs, lead names and the reference beats of one MIT-BIH record."""
    import wfdb

    rec = wfdb.rdrecord(str(path))
    ann = wfdb.rdann(str(path), "atr")
    beats = np.array([s for s, y in zip(ann.sample, ann.symbol, strict=True) if y in MITDB_BEATS])
    return rec.p_signal.T, rec.fs, [canonical_lead(n) for n in rec.sig_name], beats


def _counts(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[int, int, int, np.ndarray]:
    tp, off = match(ref, det, tol)
    return tp, len(ref), len(det), off


def score(root: Path, dataset: str, detector: str) -> dict:
    """Sensitivity, PPV and timing of ``detector`` over every record of ``dataset`` ("ludb" or
    "mitdb") under ``root``.

    LUDB leaves the first and last beats of each record unannotated: detections outside the
    annotated stretch are not counted against PPV.
    """
    tp = n_ref = n_det = empty = 0
    offsets: list[np.ndarray] = []
    if dataset == "ludb":
        records = sorted((root / "data").glob("*.hea"), key=lambda p: int(p.stem))
    else:
        records = sorted(p for p in root.glob("*.hea") if p.stem.isdigit())
    for hea in records:
        if dataset == "ludb":
            signals, fs, leads, ref, (lo, hi) = ludb_record(hea.with_suffix(""))
            tol = int(TOLERANCE_S * fs)
            det = detect(signals, fs, leads, detector)
            det = det[(det >= lo - tol) & (det <= hi + tol)]
        else:
            signals, fs, leads, ref = mitdb_record(hea.with_suffix(""))
            tol = int(MITDB_TOLERANCE_S * fs)
            det = detect(signals, fs, leads, detector)
        t, r, d, off = _counts(ref, det, tol)
        tp, n_ref, n_det, empty = tp + t, n_ref + r, n_det + d, empty + (d == 0)
        offsets.append(off / fs * 1000)
    off = np.concatenate(offsets) if offsets else np.zeros(0)
    return {
        "dataset": dataset,
        "method": detector,
        "records": len(records),
        "annotated_r": n_ref,
        "sensitivity": tp / max(1, n_ref),
        "ppv": tp / max(1, n_det),
        "offset_ms_mean": float(off.mean()) if len(off) else None,
        "offset_ms_sd": float(off.std()) if len(off) else None,
        "records_without_detection": empty,
    }


def compare(ludb: Path, mitdb: Path | None = None) -> dict:
    """Every detector on LUDB (and on MIT-BIH DS1 where ``mitdb`` is given), and the contract's."""
    sets = [("ludb", ludb)] + ([("mitdb", mitdb)] if mitdb is not None else [])
    return {
        "contract_method": contract.RPEAK_METHOD,
        "contract": contract.CONTRACT_VERSION,
        "results": [score(root, name, d) for name, root in sets for d in DETECTORS],
    }


def table(res: dict) -> str:
    """RPEAKS.md: one row a dataset and detector."""
    lines = [
        "# R-peak detectors (generated by `python -m training rpeaks`)",
        "",
        f"Contract {res['contract']}'s R-peaks (`{res['contract_method']}` on every lead, "
        "`ecgviewer.ml.contract.consensus`) against contract 1's (the reference lead alone, 0.3 s "
        "apart) and wfdb's xqrs on the reference lead alone. LUDB: 200 records of 10 s, 12 leads, "
        "the cardiologists' QRS marks on lead II, a match within 75 ms. MIT-BIH Arrhythmia DS1 "
        "(22 records) and its 4 paced records: 30 min, 2 leads, the reference beat labels, a match "
        "within 150 ms (EC57). All at the contract's 100 Hz.",
        "",
        "| data | detector | records | reference beats | sensitivity | PPV | offset (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["results"]:
        off = (
            f"{r['offset_ms_mean']:+.1f} ± {r['offset_ms_sd']:.1f}"
            if r["offset_ms_mean"] is not None
            else "-"
        )
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['records']} | {r['annotated_r']} | "
            f"{r['sensitivity']:.4f} | {r['ppv']:.4f} | {off} |"
        )
    return "\n".join(lines) + "\n"
