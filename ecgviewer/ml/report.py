"""Analysis results as files: the ``ecgviewer analyze`` JSON document (its schema is
``analyze.schema.json`` beside this module) and the raw arrays (attributions, attention) as
``.npz`` or JSON. Every file is written atomically. Only the file name, signal facts and
labels go in: no age, sex, report text or other patient data.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ecgviewer import NOTICE_INLINE as NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.leads import HUG_LEAD_GROUPS
from ecgviewer.measure.intervals import Measurements
from ecgviewer.measure.pipeline import to_json
from ecgviewer.measure.rhythm import BeatList
from ecgviewer.measure.statements import interpret
from ecgviewer.measurements import MEASUREMENTS
from ecgviewer.ml import contract
from ecgviewer.ml.attention import AttentionMaps
from ecgviewer.ml.checks import Faithfulness, SanityCheck
from ecgviewer.ml.explain import Explanation, TerritoryNode
from ecgviewer.ml.infer import Analyzer, ClassResult
from ecgviewer.ml.placement import token_times
from ecgviewer.ml.session import Result
from ecgviewer.ml.wording import Worded
from ecgviewer.recording import DeviceReport, Recording
from ecgviewer.storage import atomic_write_bytes

FORMAT = "ecgviewer-analyze"
VERSION = 15  # 2: explanations give "outside_beats" (patch-token classifiers); 3: "summary", "frontal";
# 4: "lead_note"; 5: the beat list's fiducials gain "p_off"; 6: "reading", "not_reported", summary "form";
# 7: the reading's "unread" stretches say "verb" ("disputed": read, but T waves or noise among the beats);
# 8: measurements give "too_noisy_s", the stretches whose QRS complexes noise left uncounted;
# 9: a class gives "rhythm_head", the encoder's and the beat list's rhythm's probabilities where both weighed;
# 10: "rhythm_head" becomes "record_head": the head reads the dominant beat too, and weighs in on
# every statement; "measured_by", the groups of its features that raise its part most;
# 11: a stretch the measurements found too noisy to read where the model read beats is an "unread"
# stretch, "disputed", giving those "beats"; a disputed count gives the beats in dispute;
# 12: a class gives "read_off", the statement a superclass was read off where the head mixes them;
# 13: the beat list gives "ectopy" (single beats, couplets, runs, bigeminy and trigeminy of each class);
# 14: measurements give "ventricular_s", the span's beats the beat classifier calls ventricular
# and events of bigeminy and trigeminy; 15: measurements give "atrial_waves" (their rate and organisation:
# atrial flutter's statement)
SCHEMA = Path(__file__).with_name("analyze.schema.json")


def document(analyzer: Analyzer, records: list[dict], errors: list[dict]) -> dict:
    """The whole ``ecgviewer analyze`` output."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "notice": NOTICE,
        "model": {
            "name": analyzer.name,
            "sha256": analyzer.sha256,
            "file": analyzer.model_file.name,
            "contract": contract.CONTRACT_VERSION,
        },
        "device": str(analyzer.device),
        "notices": list(analyzer.notices),
        "records": records,
        "errors": errors,
    }


def record_entry(
    file: str,
    rec: Recording,
    result: Result,
    timings: dict[str, float],
    checks: tuple[SanityCheck, Faithfulness] | None = None,
    measured: Measurements | None = None,
    rhythm: BeatList | None = None,
) -> dict:
    """One recording: predictions, the attribution hierarchy of the target (times in seconds of
    the recording, whatever span was analysed), timings."""
    tokens, preds, explanation = result.analysis.tokens, result.analysis.predictions, result.explanation
    target = preds.get(explanation.target.task, explanation.target.code)
    entry = {
        "file": file,
        "name": rec.name,
        "duration_s": rec.duration,
        "span_s": list(result.span),
        "whole": result.whole,
        "fs": rec.fs,
        "windows": tokens.n_windows,
        "fallback_windows": [int(w) for w in np.flatnonzero(tokens.fallback)],
        "rpeak_lead": tokens.rpeak_lead,
        "missing_leads": list(tokens.missing_leads),
        "lead_note": preds.lead_note.text if preds.lead_note else None,
        "warnings": list(rec.warnings),
        "device": preds.device,
        "predictions": {task: [_class(c) for c in cs] for task, cs in preds.tasks.items()},
        "groups": [
            {"name": g.name, "head": g.head.code if g.head else None, "members": [c.code for c in g.members]}
            for g in preds.grouped()
        ],
        "record_labels": preds.record_labels,
        "reading": result.reading.to_json() if result.reading else None,
        "not_reported": [asdict(n) for n in preds.not_reported],
        "explanation": _explanation(explanation, target, result.offset_s)
        | {
            "summary": {
                "text": result.worded.text,
                "agreement": result.worded.agreement,
                "form": result.worded.form,
            }
        },
        "timings": {k: round(v, 2) for k, v in {**timings, **preds.timings}.items()}
        | {"explain_ms": round(explanation.elapsed_ms, 2)},
    }
    if measured is not None:
        entry["measurements"] = to_json(measured)
        entry["statements"] = [s.to_json() for s in interpret(measured, rec.metadata.sex)]
    if rhythm is not None:
        entry["rhythm"] = rhythm.to_json()
    if rec.metadata.device is not None:
        entry["acquiring_device"] = device_json(rec.metadata.device)
    if checks is not None:
        sanity, faith = checks
        entry["checks"] = {
            "randomisation": {**asdict(sanity), "spearman": _finite(sanity.spearman)},
            "faithfulness": {
                **asdict(faith),
                "ratio": faith.ratio,
                "aopc_top": faith.aopc_top,
                "aopc_random": faith.aopc_random,
            },
        }
    return entry


def _summary(w: Worded) -> dict:
    return {"text": w.text, "agreement": w.agreement, "form": w.form}


def _class(c: ClassResult) -> dict:
    return asdict(c) | {
        "window_probabilities": list(c.window_probabilities),
        "record_head": None if c.record_head is None else list(c.record_head),
        "measured_by": list(c.measured_by),
    }


def _explanation(e: Explanation, target: ClassResult, offset_s: float) -> dict:
    return {
        "method": e.method_name,
        "baseline": e.baseline,
        "n_steps": e.n_steps,
        "target": asdict(e.target) | {"description": target.description, "probability": target.probability},
        "additive": e.additive,
        "frontal": e.frontal,
        "logit": e.logit.tolist(),
        "baseline_logit": e.baseline_logit.tolist(),
        "convergence_delta": None if e.convergence_delta is None else e.convergence_delta.tolist(),
        "outside_beats": None
        if e.outside is None
        else {lead: float(v) for lead, v in zip(contract.LEADS, e.outside.sum(axis=0), strict=True)},
        "territories": [_shifted(t, offset_s) for t in e.tree],
        "hug_groups": [
            {"name": name, "leads": list(leads), "score": e.hug_groups[name]}
            for name, leads in HUG_LEAD_GROUPS.items()
        ],
    }


def _shifted(territory: TerritoryNode, offset_s: float) -> dict:
    """A territory's tree with its beats' times moved from the analysed span to the recording."""
    out = asdict(territory)
    for lead in out["leads"]:
        for beat in lead["beats"]:
            for key in ("start_s", "stop_s", "r_s"):
                beat[key] += offset_s
    return out


def _finite(x: float) -> float | None:
    """JSON has no NaN: a correlation of constant maps is reported as null."""
    return x if np.isfinite(x) else None


def write_json(path: Path, doc: dict) -> None:
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode())


def raw_arrays(
    tokens: contract.Tokens, explanation: Explanation, attention: AttentionMaps
) -> dict[str, np.ndarray]:
    """The arrays behind a view: beat-level (and, for gradient methods, per-sample) attributions,
    attention per layer/head and rollout, padding and beat spans in seconds."""
    e = explanation
    out = {
        "beats": e.beats,
        "leads": e.leads,
        "logit": e.logit,
        "baseline_logit": e.baseline_logit,
        "pad": tokens.pad,
        # seconds of each beat slot; 0 where a window has no beat there (``pad`` says so too)
        "spans_s": np.nan_to_num(np.stack([(t := token_times(tokens)).start_s, t.stop_s], axis=-1)),
        "attention_cls_to_beats": attention.cls_to_beats,
        "attention_rollout": attention.rollout,
    }
    if e.samples is not None:
        out["samples"] = e.samples
    if e.convergence_delta is not None:
        out["convergence_delta"] = e.convergence_delta
    if e.outside is not None:
        out["outside"] = e.outside
    return out


def write_raw(
    path: Path, tokens: contract.Tokens, explanation: Explanation, attention: AttentionMaps
) -> None:
    """``.npz`` (compressed) or ``.json`` by the suffix; ``meta`` names the method and target."""
    arrays = raw_arrays(tokens, explanation, attention)
    meta = {
        "method": explanation.method_name,
        "baseline": explanation.baseline,
        "target": asdict(explanation.target),
        "leads": list(contract.LEADS),
        "notice": NOTICE,
    }
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]  # numpy's stub
        atomic_write_bytes(path, buf.getvalue())
    elif suffix == ".json":
        write_json(path, {"meta": meta, **{k: v.tolist() for k, v in arrays.items()}})
    else:
        raise EcgError(f"{Path(path).name}: raw export writes .npz or .json")


def device_json(report: DeviceReport) -> dict:
    """The acquiring device's interpretation and measurements, in the units of ours."""
    return {
        "device": report.device,
        "statements": list(report.statements),
        "measurements": {k: {"value": v, "unit": MEASUREMENTS[k][1]} for k, v in report.measurements.items()},
        "qtc_formula": report.qtc_formula,
    }
