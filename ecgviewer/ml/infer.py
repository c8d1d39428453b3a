"""Running the bundled encoder on a recording: device choice, the preprocessing contract,
per-task probabilities judged against the model card, and a small per-recording cache.

Probabilities are averaged over a record's windows, weighted by their beats, as ``contract``
documents. A GPU that
fails at run time (out of memory, driver error) does not end the analysis: the model moves to
the CPU, the work is redone there and ``Analyzer.notices`` says so, for the user to see.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from ecgviewer import assets
from ecgviewer.errors import EcgError
from ecgviewer.io import ptbxl
from ecgviewer.ml import contract, inputs
from ecgviewer.ml.bundle import load_model
from ecgviewer.ml.coverage import LeadNote, lead_note
from ecgviewer.ml.likelihood import Bands, bands_from_card
from ecgviewer.ml.reference import Settings
from ecgviewer.recording import Recording
from ecgviewer.weights import sha256

T = TypeVar("T")
DEVICES = ("auto", "cpu", "cuda", "mps")
SUPER_TASK = "super"  # the task whose classes are PTB-XL's diagnostic superclasses
BATCH = 64  # windows (or perturbed copies) per forward pass: bounds memory on long records
# The app shows a class only if it was learnable on validation data (the card records the rule;
# ``training/supervised/export.py`` applies it when a model is exported).
SURFACE_MIN_AUROC = 0.85
SURFACE_MIN_SUPPORT = 20
NOT_VALIDATED = "no validation figures on the model card"
# PTB-XL's diagnostic superclasses as Wagner et al. (2020) name them; the statement table names only NORM.
SUPERCLASSES = {
    "NORM": "normal ECG",
    "MI": "myocardial infarction",
    "STTC": "ST/T change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}


def pick_device(choice: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then the CPU. Naming an absent device is an error, not a
    silent CPU run, so a benchmark never reports the wrong hardware."""
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    if choice == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if choice not in DEVICES:
        raise EcgError(f"device {choice!r}: choose from {', '.join(DEVICES)}")
    if (choice == "cuda" and not cuda) or (choice == "mps" and not mps):
        raise EcgError(f"device {choice!r} is not available here (torch {torch.__version__})")
    return torch.device(choice)


def batched(fn: Callable[..., T], values: Tensor, pad: Tensor, rpeaks: Tensor) -> T:
    """``fn(values, pad, rpeaks)`` over ``BATCH`` windows at a time; the outputs (tensors, or
    dicts of tensors such as the model's logits per task) concatenated."""
    parts: list = [
        fn(values[i : i + BATCH], pad[i : i + BATCH], rpeaks[i : i + BATCH])
        for i in range(0, len(values), BATCH)
    ]
    if isinstance(parts[0], dict):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}  # type: ignore[return-value]
    return torch.cat(parts)  # type: ignore[return-value]


@dataclass(frozen=True)
class ClassResult:
    """One class of one task for one recording."""

    code: str
    description: str
    group: str  # superclass (or "form" / "rhythm") the class is shown under
    probability: float  # mean over windows, weighted by their beats (``contract.window_weights``)
    window_probabilities: tuple[float, ...]
    threshold: float | None  # from the model card (F1-optimal on the validation fold)
    decision: bool | None  # probability >= threshold; None without a threshold
    surfaced: bool  # shown in the app (model card: validated well enough)
    in_record: float | None  # the record's own label (likelihood, PTB-XL %); None: not labelled so
    # where the record head weighed in (``ml.record_head``): the encoder's probability and the
    # head's; ``probability`` is then both, and the threshold and ``surfaced`` the head card's
    record_head: tuple[float, float] | None = None
    # ... and the groups of its features that raise the head's part most (``RecordHead.raising``:
    # "rhythm", "intervals" or a lead), in order
    measured_by: tuple[str, ...] = ()
    # a superclass read off the statements too (``RecordHead.mixes``): the likeliest of its
    # statements, which ``record_head``'s second probability is, and ``measured_by`` names what
    # raises ("" elsewhere)
    read_off: str = ""


def not_surfaced_reason(val_report: dict, code: str) -> str | None:
    """Why fold 9 (``val_report``: a task's validation figures on the card) keeps ``code`` out of
    the app, in words; None when it is shown."""
    support = int(val_report.get("support", {}).get(code, 0))
    auroc = val_report.get("per_class_auroc", {}).get(code)
    if support < SURFACE_MIN_SUPPORT:
        return f"too few validation examples ({support} on fold 9; {SURFACE_MIN_SUPPORT} needed)"
    if auroc is None or auroc < SURFACE_MIN_AUROC:
        shown = "not measurable" if auroc is None else f"{auroc:.3f}"  # 0.849 is not "0.85" beside the bar
        return f"not reliable enough (fold-9 AUROC {shown}; {SURFACE_MIN_AUROC} needed)"
    return None


@dataclass(frozen=True)
class NotReported:
    """A class the model scores but the app does not report, and why (the card's rule)."""

    code: str
    description: str
    task: str
    reason: str

    @property
    def text(self) -> str:
        return f"{self.description} ({self.code}): not reported by this model: {self.reason}"


@dataclass(frozen=True)
class Group:
    """A superclass with its finer classes, as the app lists them (``head`` is the superclass'
    own prediction; None for the form and rhythm statements, which have no superclass)."""

    name: str
    head: ClassResult | None
    members: tuple[ClassResult, ...]


@dataclass
class Predictions:
    tasks: dict[str, list[ClassResult]]
    record_labels: dict[str, float]  # the recording's own labels (empty: none known)
    device: str
    timings: dict[str, float]  # tokenise_ms, infer_ms
    lead_note: LeadNote | None = None  # fewer than 12 leads: what the card measured with such leads
    not_reported: tuple[NotReported, ...] = ()  # scored but hidden by the card's rule, with the reason

    def get(self, task: str, code: str) -> ClassResult:
        for c in self.tasks[task]:
            if c.code == code:
                return c
        raise KeyError(f"{task}/{code}")

    def top(self, task: str) -> ClassResult:
        """The surfaced class with the highest probability (any class if none is surfaced)."""
        shown = [c for c in self.tasks[task] if c.surfaced] or self.tasks[task]
        return max(shown, key=lambda c: c.probability)

    def positive(self) -> list[ClassResult]:
        """The surfaced classes at or above their thresholds, most probable first."""
        found = [c for cs in self.tasks.values() for c in cs if c.surfaced and c.decision]
        return sorted(found, key=lambda c: -c.probability)

    def top_positive(self, task: str) -> ClassResult:
        """What a new recording explains first: as a cart's interpretation leads with what is
        abnormal, the most probable positive finding of any task that is not a normal one
        (``NORMAL_FINDINGS``); else ``task``'s most probable positive finding (a normal ECG), else
        any task's, else (no positive finding) ``task``'s most probable class."""
        found = self.positive()
        abnormal = [c for c in found if c.code not in NORMAL_FINDINGS]
        own = [c for c in found if any(c is d for d in self.tasks[task])]
        return next(iter(abnormal or own or found), None) or self.top(task)

    def grouped(self) -> list[Group]:
        """Surfaced classes, superclass first then its finer classes, then form and rhythm.

        Finer classes are placed by PTB-XL's statement table (``scp_statements.csv``); without a
        superclass task every task is one group."""
        heads = {c.code: c for c in self.tasks.get(SUPER_TASK, []) if c.surfaced}
        finer = [c for task, cs in self.tasks.items() if task != SUPER_TASK for c in cs if c.surfaced]
        names = list(heads) + sorted({c.group for c in finer} - set(heads))
        groups = [Group(n, heads.get(n), tuple(c for c in finer if c.group == n)) for n in names]
        return [g for g in groups if g.head is not None or g.members]


# Findings that say nothing is wrong (PTB-XL's normal ECG, sinus rhythm): a recording with any
# other positive finding is explained by that one first.
NORMAL_FINDINGS = frozenset({"NORM", "SR"})


@dataclass
class Analysis:
    tokens: contract.Tokens  # the beat scaffold every explanation is drawn on
    inputs: inputs.ModelInput  # what the classifier read (the tokens themselves, or patches)
    predictions: Predictions


class RecordingCache:
    """A small LRU of results per recording and settings. A file recording is keyed by its path,
    modification time and size (an edited file misses); an in-memory one by identity, checked
    through a weak reference so a recycled ``id()`` cannot return another recording's result."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[Callable[[], object] | None, object]] = OrderedDict()

    @staticmethod
    def _key(rec: Recording) -> tuple[Hashable, Callable[[], object] | None]:
        if rec.path is not None:
            try:
                st = rec.path.stat()
                return ("file", str(rec.path.resolve()), st.st_mtime_ns, st.st_size), None
            except OSError:
                pass
        return ("memory", id(rec)), weakref.ref(rec)

    def get(self, rec: Recording, settings: Hashable, compute: Callable[[], T]) -> T:
        base, ref = self._key(rec)
        key = (base, settings)
        hit = self._entries.get(key)
        if hit is not None and (hit[0] is None or hit[0]() is rec):
            self._entries.move_to_end(key)
            return hit[1]  # type: ignore[return-value]
        value = compute()
        self._entries[key] = (ref, value)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()


def record_head_for(encoder_sha256: str):  # -> RecordHead | None
    """The bundled record head where it was fitted beside this encoder (its weight, thresholds and
    the statements it shows were chosen on fold 9 with this encoder's probabilities); None for any
    other encoder, or without the head's file."""
    from ecgviewer.ml.record_head import RecordHead

    if not assets.record_head_path().is_file():
        return None
    head = RecordHead.bundled()
    return head if head.meta.get("encoder_sha256") == encoder_sha256 else None


class Analyzer:
    """The loaded model on a device, with its card: tokenises and predicts recordings."""

    def __init__(self, model_file: Path | None = None, device: str = "auto", cache_size: int = 16) -> None:
        self.model_file = Path(model_file) if model_file else assets.model_path()
        self.loaded = load_model(self.model_file)
        self.device = pick_device(device)
        self.model = self.loaded.model.to(self.device)
        self.notices: list[str] = []
        self.cache = RecordingCache(cache_size)
        card = self.loaded.card or {}
        self.name: str = card.get("name", self.model_file.stem)
        self.sha256: str = card.get("weights_sha256") or sha256(self.model_file)
        self._labels: dict = card.get("labels", {})
        tables = assets.statements_dir()
        self._groups = ptbxl.statement_groups(tables)
        self._descriptions = ptbxl.descriptions(tables)
        self.record_head = record_head_for(self.sha256)

    @property
    def classes(self) -> dict[str, list[str]]:
        return self.loaded.classes

    @property
    def explain_settings(self) -> Settings:
        """How explanations are computed with this model (its card's ``explanations`` section)."""
        return Settings.from_card(self.loaded.card)

    @property
    def bands(self) -> Bands | None:
        """The card's likelihood words for findings (``ml.likelihood``); None: words as before."""
        return bands_from_card(self.loaded.card)

    @property
    def descriptions(self) -> Mapping[str, str]:
        """PTB-XL statement code -> description (for a record's own labels)."""
        return self._descriptions

    def set_device(self, choice: str) -> None:
        """Move the model to ``choice`` (``auto`` picks again); cached results stay valid, as
        every device computes the same model."""
        self.device = pick_device(choice)
        self.model.to(self.device)

    def on_device(self, work: Callable[[torch.device], T]) -> T:
        """``work(device)``; on a GPU runtime error, move to the CPU, note it and redo it there."""
        try:
            return work(self.device)
        except RuntimeError as exc:
            if self.device.type == "cpu":
                raise
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.notices.append(f"{self.device.type.upper()} failed ({cause}); continued on the CPU")
            self.device = torch.device("cpu")
            self.model.to(self.device)
            return work(self.device)

    def analyse(self, rec: Recording) -> Analysis:
        """Tokens and predictions of ``rec`` (cached)."""
        return self.cache.get(rec, "analysis", lambda: self._analyse(rec))

    def _analyse(self, rec: Recording) -> Analysis:
        t0 = time.perf_counter()
        x, present = contract.prepare(rec.signals, rec.fs, rec.leads)
        spec = self.model.patch_spec
        tokens = contract.tokenise_prepared(x, present, rec.fs, chunk=spec is None)
        if spec is None:
            model_input = inputs.for_beats(tokens)
        else:
            if spec.fs != contract.FS:
                x = contract.prepare(rec.signals, rec.fs, rec.leads, spec.fs)[0]
            model_input = inputs.for_patches(tokens, x, present, spec)
        t1 = time.perf_counter()
        probs = self.on_device(lambda device: self._probabilities(model_input, device))
        t2 = time.perf_counter()
        weights = contract.window_weights(tokens)
        measured = self._measured(rec)
        t3 = time.perf_counter()
        labels = rec.metadata.labels
        statements = self._statements(probs, weights)
        tasks = {
            task: self._results(task, p, weights, labels, measured, statements) for task, p in probs.items()
        }
        timings = {
            "tokenise_ms": (t1 - t0) * 1e3,
            "infer_ms": (t2 - t1) * 1e3,
            "record_head_ms": (t3 - t2) * 1e3,
        }
        note = lead_note((self.loaded.card or {}).get("lead_sets"), tokens.missing_leads)
        hidden = tuple(self._not_reported(task, cs) for task, cs in tasks.items())
        preds = Predictions(
            tasks, dict(rec.metadata.labels), str(self.device), timings, note, sum(hidden, ())
        )
        return Analysis(tokens, model_input, preds)

    def _probabilities(self, model_input: inputs.ModelInput, device: torch.device) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = batched(self.model, *model_input.tensors(device))
            return {task: torch.sigmoid(x).float().cpu().numpy() for task, x in out.items()}

    def _measured(self, rec: Recording) -> dict[str, tuple[float, tuple[str, ...]]]:
        """The record head's probability of each of its statements for ``rec``, and the groups of
        features that raise it most (empty without a head for this encoder); its features come
        from the beat list (``record_head``)."""
        if self.record_head is None:
            return {}
        from ecgviewer.ml.record_head import NAMES, recording_features

        try:
            x = recording_features(rec)
        except (ValueError, RuntimeError, EcgError) as exc:  # an odd signal: the encoder alone
            self.notices.append(f"findings from the model alone: the beat list failed ({exc})")
            return {}
        if not np.isfinite(x[NAMES.index("hr")]):  # no RR interval: none of PTB-XL's 21,799 records
            return {}  # lacked one, so the head never learnt what to say of such a recording
        p, raising = self.record_head.read(x)
        return {c: (float(v), raising[c]) for c, v in zip(self.record_head.codes, p, strict=True)}

    def _statements(self, probs: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray | None:
        """The encoder's probabilities of the record head's statements (its ``codes``' order) for
        the record, which the superclasses are read off where the head ``mixes`` them; None
        without a head or without the encoder's ``all`` task."""
        head = self.record_head
        if head is None or "all" not in probs or not set(head.codes) <= set(self.classes["all"]):
            return None
        at = [self.classes["all"].index(c) for c in head.codes]
        return weights @ probs["all"][:, at]

    def _results(
        self, task: str, probs: np.ndarray, weights: np.ndarray, labels: dict[str, float],
        measured: Mapping[str, tuple[float, tuple[str, ...]]], statements: np.ndarray | None,
    ) -> list[ClassResult]:  # fmt: skip
        card = self._labels.get(task, {})
        thresholds, surfaced = card.get("thresholds", {}), set(card.get("surfaced", []))
        classes = self.classes[task]
        encoder = weights @ probs
        p, weighed, read_off, by = encoder, {}, {}, {c: v[1] for c, v in measured.items()}
        head = self.record_head
        hp = np.array([[measured[c][0] for c in head.codes]]) if measured and head else None
        if hp is not None and head is not None and head.applies(classes):
            thresholds, surfaced = head.judged(classes, thresholds, surfaced)
            p = head.weighed(classes, encoder[None], hp)[0]
            weighed = {c: (float(encoder[k]), measured[c][0]) for k, c in enumerate(classes)}
        elif hp is not None and head is not None and statements is not None and head.mixes(classes):
            thresholds, surfaced = head.judged(classes, thresholds, surfaced)
            # each superclass read off its likeliest statement, the head weighed in
            read, member = head.read_off(classes, head.combined(statements[None], hp))
            p = head.mixed(encoder, read[0])
            weighed = {c: (float(encoder[k]), float(read[0, k])) for k, c in enumerate(classes)}
            read_off = {c: head.codes[member[0, k]] for k, c in enumerate(classes)}
            by = {c: measured[read_off[c]][1] for c in classes}
        out = []
        for k, code in enumerate(classes):
            threshold = thresholds.get(code)
            out.append(
                ClassResult(
                    code=code,
                    description=(SUPERCLASSES if task == SUPER_TASK else self._descriptions).get(code, code),
                    group=code if task == SUPER_TASK else self._groups.get(code, task),
                    probability=float(p[k]),
                    window_probabilities=tuple(float(x) for x in probs[:, k]),
                    threshold=threshold,
                    decision=None if threshold is None else float(p[k]) >= threshold,
                    surfaced=code in surfaced,
                    in_record=self._in_record(task, code, labels),
                    record_head=weighed.get(code),
                    measured_by=by[code] if code in weighed else (),
                    read_off=read_off.get(code, ""),
                )
            )
        return out

    def _not_reported(self, task: str, results: list[ClassResult]) -> tuple[NotReported, ...]:
        """The classes of ``task`` the card keeps out of the app, each with its reason (a class
        shown by another task, as NORM by ``super``, is not listed)."""
        shown = {code for cs in self._labels.values() for code in cs.get("surfaced", [])}
        val = self._labels.get(task, {}).get("val")
        out = []
        weighed = self.record_head.validated(self.classes[task]) if self.record_head else None
        for c in results:
            if c.surfaced or (c.code in shown and c.record_head is None):
                continue
            judged = weighed if c.record_head else val
            reason = (not_surfaced_reason(judged, c.code) if judged else None) or NOT_VALIDATED
            out.append(NotReported(c.code, c.description, task, reason))
        return tuple(out)

    def _in_record(self, task: str, code: str, labels: dict[str, float]) -> float | None:
        """The record's likelihood for ``code``; for a superclass, the highest of its statements'."""
        if task != SUPER_TASK:
            return labels.get(code)
        members = [v for c, v in labels.items() if self._groups.get(c) == code]
        return max(members) if members else None
