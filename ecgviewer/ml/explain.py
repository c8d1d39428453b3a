"""Attributions of one class to the beat tokens (captum), aggregated beat -> lead -> territory and
HUG lead group, with the checks that say how far to trust them.

What is attributed is the target class's **logit** (before the sigmoid), each 10 s window through
its own forward pass; record-level scores are sums over windows. The baseline is a ``Reference``
(``ml.reference``): a normal beat on every beat token when the model's card names one, else a
flat signal (0 mV); occlusion replaces a feature by the same reference. Integrated Gradients and
gradient x input are additive: a beat's score is the sum of its 96 sample scores, a lead's the
sum of its beats' (plus, for a patch-token classifier, its samples between beat tokens:
``outside``), a territory's the sum of its leads' (and IG's samples add up to
logit(x) - logit(baseline), up to the reported convergence delta).
Occlusion is not additive: every level is its own ablation (one beat, one lead, one territory,
one HUG group set to the reference) scored by how much the logit drops, so interactions show.

Checks: model randomisation (Adebayo et al. 2018: an explanation that survives re-initialised
weights explains the input, not the model) and faithfulness (AOPC-style, Samek et al. 2017:
zeroing the most-attributed beats should lower the probability more than zeroing random ones).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ecgviewer.errors import EcgError
from ecgviewer.leads import HUG_LEAD_GROUPS, LIMB_LEADS, TERRITORIES
from ecgviewer.ml import contract, hexaxial
from ecgviewer.ml.infer import BATCH, Analysis, Analyzer, Predictions, batched
from ecgviewer.ml.inputs import NO_BEAT, ModelInput
from ecgviewer.ml.model import Model
from ecgviewer.ml.placement import token_times
from ecgviewer.ml.reference import FLAT, Reference
from ecgviewer.recording import Recording

METHODS = {"ig": "integrated_gradients", "occlusion": "occlusion", "gxi": "input_x_gradient"}
DEFAULT_STEPS = 32
N_LEADS, N_BEATS = len(contract.LEADS), contract.MAX_BEATS


@dataclass(frozen=True)
class Target:
    task: str
    code: str
    index: int  # column of ``code`` in the task's logits
    output: str = "logit"  # what is attributed: the class's logit, per window


@dataclass(frozen=True)
class BeatNode:
    window: int
    index: int  # beat within the window (0-14)
    start_s: float  # time span in the source recording, seconds
    stop_s: float
    r_s: float  # R peak
    score: float


@dataclass(frozen=True)
class LeadNode:
    lead: str
    score: float
    missing: bool  # no signal: every beat padded, score 0
    beats: tuple[BeatNode, ...]  # real beats only (padded ones score 0 and have no time)


@dataclass(frozen=True)
class TerritoryNode:
    name: str
    score: float
    leads: tuple[LeadNode, ...]


@dataclass
class Explanation:
    method: str  # a key of METHODS
    target: Target
    n_steps: int | None  # IG only
    additive: bool
    frontal: bool  # the limb leads' part shared by the frontal plane's axes (``hexaxial``)
    reference: Reference  # the baseline (``ml.reference``)
    gradient: np.ndarray | None  # path-averaged (IG) or plain gradient per input sample; None: occlusion
    samples: np.ndarray | None  # float (W, 12, 15, 96) at 100 Hz; None for occlusion (not per sample)
    beats: np.ndarray  # float64 (W, 12, 15); padded beats 0
    leads: np.ndarray  # float64 (12,), summed over windows
    # additive methods: (W, 12) the part of each lead's score on samples no beat token holds
    # (a patch classifier's input between beats, ``inputs``); zero for beat tokens; None for occlusion
    outside: np.ndarray | None
    territories: dict[str, float]
    hug_groups: dict[str, float]
    tree: tuple[TerritoryNode, ...]  # territory -> lead -> beat
    logit: np.ndarray  # (W,) the target logit of each window
    baseline_logit: np.ndarray  # (W,) the same at the baseline
    convergence_delta: np.ndarray | None  # (W,) IG only: sum of attributions - logit difference
    elapsed_ms: float

    @property
    def method_name(self) -> str:
        return METHODS[self.method]

    def completeness(self) -> str | None:
        """IG's check in words (Sundararajan et al. 2017: a window's scores sum to its logit's change
        from the baseline): the worst window's gap, beside the change it is a share of. None for
        other methods."""
        if self.convergence_delta is None:
            return None
        gap, change = np.abs(self.convergence_delta), np.abs(self.logit - self.baseline_logit)
        w = int(np.argmax(gap))
        share = f" ({gap[w] / change[w]:.1%})" if change[w] > 0 else ""
        return (
            f"IG completeness: the scores sum to the logit's change from the baseline "
            f"({change[w]:.2f}) within {gap[w]:.3g}{share}"
        )

    @property
    def baseline(self) -> str:
        return self.reference.name


def choose_target(
    classes: dict[str, list[str]], predictions: Predictions, task: str, code: str | None
) -> Target:
    """``code`` (looked for in ``task`` first, then in the other tasks) or, by default, the top
    positive finding (``Predictions.top_positive``)."""
    if task not in classes:
        raise EcgError(f"task {task!r}: the model has {', '.join(classes)}")
    code = code or predictions.top_positive(task).code
    for t in (task, *(t for t in classes if t != task)):
        if code in classes[t]:
            return Target(t, code, classes[t].index(code))
    raise EcgError(f"label {code!r} is not a class of the model ({task}: {', '.join(classes[task])})")


def explain(
    analyzer: Analyzer,
    rec: Recording,
    analysis: Analysis,
    target: Target,
    method: str = "ig",
    n_steps: int = DEFAULT_STEPS,
) -> Explanation:
    """Attribute ``target`` in ``analysis`` (of ``rec``) on the analyzer's device with the model
    card's settings (``reference.Settings``), cached per recording and settings."""
    model_input = analysis.inputs
    how = analyzer.explain_settings
    settings = ("explain", method, target, n_steps if method == "ig" else None)
    return analyzer.cache.get(
        rec,
        settings,
        lambda: analyzer.on_device(
            lambda d: attribute(
                analyzer.model, model_input, target, method, n_steps, d, how.frontal, how.reference
            )
        ),
    )


def attribute(
    model: Model,
    model_input: ModelInput,
    target: Target,
    method: str = "ig",
    n_steps: int = DEFAULT_STEPS,
    device: torch.device | None = None,
    frontal: bool = False,
    reference: Reference = FLAT,
    *,
    like: Explanation | None = None,
) -> Explanation:
    """One attribution map of ``target`` over the model's input with the model as it is, summed
    onto the beat tokens (``inputs``); ``frontal``: the limb leads' share by the frontal axes
    (``hexaxial``; additive methods only); ``reference``: the baseline (``ml.reference``).
    ``like``: an explanation of the same model, input, target, method, steps and reference whose
    gradient is reused (only ``frontal`` may differ), as the benchmark does."""
    if method not in METHODS:
        raise EcgError(f"method {method!r}: choose from {', '.join(METHODS)}")
    device = device or torch.device("cpu")
    t0 = time.perf_counter()
    tokens = model_input.tokens
    values, pad, rpeaks = model_input.tensors(device)
    reference = reference.applies(model_input)
    base = torch.from_numpy(reference.values(model_input)).to(device)
    forward = logit_of(model, target)
    with torch.inference_mode():
        logit = batched(forward, values, pad, rpeaks).double().cpu().numpy()
        baseline_logit = batched(forward, base, pad, rpeaks).double().cpu().numpy()
    delta = outside = samples = grad = None
    territories: dict[str, float] | None
    groups: dict[str, float] | None
    if method == "occlusion":
        beats, window_leads, territories, groups = _occlusion(forward, model_input, values, base, pad, rpeaks)
    else:
        grad = _reused(like, method, n_steps, reference)
        if grad is None:
            grad = _gradients(forward, values, base, pad, rpeaks, method, n_steps)
        attr = _attribution(model_input, base.cpu().numpy(), grad, frontal)
        attr[np.broadcast_to(model_input.pad[..., None], attr.shape)] = 0.0
        if method == "ig":  # Sundararajan et al.'s completeness: attributions sum to the logit change
            delta = attr.reshape(len(attr), -1).sum(axis=1) - (logit - baseline_logit)
        beats = model_input.beat_sums(attr)
        window_leads = model_input.lead_sums(attr)
        outside = window_leads - beats.sum(axis=-1)
        samples = model_input.token_samples(attr)
        territories = groups = None
    leads = window_leads.sum(axis=0)
    if territories is None or groups is None:
        territories = {n: float(leads[_idx(ls)].sum()) for n, ls in TERRITORIES.items()}
        groups = {n: float(leads[_idx(ls)].sum()) for n, ls in HUG_LEAD_GROUPS.items()}
    return Explanation(
        method=method,
        target=target,
        n_steps=n_steps if method == "ig" else None,
        additive=method != "occlusion",
        frontal=frontal and method != "occlusion",
        reference=reference,
        gradient=grad,
        samples=samples,
        beats=beats,
        leads=leads,
        outside=outside,
        territories=territories,
        hug_groups=groups,
        tree=_tree(tokens, beats, leads, territories),
        logit=logit,
        baseline_logit=baseline_logit,
        convergence_delta=delta,
        elapsed_ms=(time.perf_counter() - t0) * 1e3,
    )


def _reused(like: Explanation | None, method: str, n_steps: int, reference: Reference) -> np.ndarray | None:
    """``like``'s gradient, checked to be the one this attribution would compute."""
    if like is None:
        return None
    steps = n_steps if method == "ig" else None
    if (
        like.gradient is None
        or (like.method, like.n_steps) != (method, steps)
        or like.reference is not reference
    ):
        raise EcgError("explain: 'like' must share the method, steps and reference")
    return like.gradient


def _idx(leads: tuple[str, ...]) -> list[int]:
    return [contract.LEADS.index(lead) for lead in leads]


def logit_of(model: Model, target: Target) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """values, pad, rpeaks -> (B,) logit of the target class (only the target's head runs)."""

    def forward(values: Tensor, pad: Tensor, rpeaks: Tensor) -> Tensor:
        return model.logit(values, pad, rpeaks, target.task, target.index)

    return forward


def _gradients(
    forward: Callable, values: Tensor, base: Tensor, pad: Tensor, rpeaks: Tensor, method: str, n_steps: int
) -> np.ndarray:
    """Per-sample path-averaged gradient (IG, straight path from the baseline ``base``) or gradient
    (gradient x input), a few windows per call so one pass is ~``BATCH``; the attribution is the
    input's difference from the baseline times it."""
    from captum.attr import IntegratedGradients, Saliency

    per_call = max(1, BATCH // n_steps) if method == "ig" else BATCH
    maps = []
    for s in range(0, len(values), per_call):
        part = slice(s, s + per_call)
        args = (pad[part], rpeaks[part])
        if method == "ig":
            grad = IntegratedGradients(forward, multiply_by_inputs=False).attribute(
                values[part], baselines=base[part], additional_forward_args=args, n_steps=n_steps,
                internal_batch_size=BATCH,
            )  # fmt: skip
        else:
            inputs = values[part].detach().requires_grad_()
            grad = Saliency(forward).attribute(inputs, additional_forward_args=args, abs=False)
        maps.append(grad.detach().float().cpu().numpy())
    return np.concatenate(maps)


def _attribution(model_input: ModelInput, base: np.ndarray, grad: np.ndarray, frontal: bool) -> np.ndarray:
    """(Input - baseline) x gradient per sample; with ``frontal``, the six limb leads' part shared
    out by the frontal plane's axes (``hexaxial``) when all six are recorded."""
    x = model_input.values - base
    attr = x * grad
    rows = model_input.lead_of.reshape(len(model_input.lead_of), -1)[:, 0]  # each row's lead
    limb = [np.flatnonzero(rows == contract.LEADS.index(n)) for n in LIMB_LEADS]
    if frontal and all(len(r) for r in limb) and not set(LIMB_LEADS) & set(model_input.tokens.missing_leads):
        idx = [int(r[0]) for r in limb]
        shared = hexaxial.share(np.moveaxis(x[:, idx], 1, 0), np.moveaxis(grad[:, idx], 1, 0))
        attr[:, idx] = np.moveaxis(shared, 0, 1)
    return attr


def _occlusion(
    forward: Callable, model_input: ModelInput, values: Tensor, base: Tensor, pad: Tensor, rpeaks: Tensor
) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, float]]:
    """Logit drops when each beat, each lead, each territory, each HUG group is replaced by the
    baseline ``base`` (per window).

    A beat is the input samples that lie on it (``ModelInput.beat_of``); samples on no beat (padded
    beat tokens, a patch input between beats) form one extra feature whose drop is not reported."""
    from captum.attr import FeatureAblation

    ablation = FeatureAblation(forward)
    dev = values.device
    lead_of = torch.from_numpy(np.ascontiguousarray(model_input.lead_of))
    per_lead = {
        "leads": (lead_of, N_LEADS),
        "territories": (_lead_labels(TERRITORIES)[lead_of], len(TERRITORIES)),
        "groups": (_lead_labels(HUG_LEAD_GROUPS)[lead_of], len(HUG_LEAD_GROUPS)),
    }
    w = len(values)
    beats = np.zeros((w, N_LEADS, N_BEATS))
    window_leads = np.zeros((w, N_LEADS))
    territories = dict.fromkeys(TERRITORIES, 0.0)
    groups = dict.fromkeys(HUG_LEAD_GROUPS, 0.0)
    for k in range(w):
        one, ref = values[k : k + 1], base[k : k + 1]
        args = (pad[k : k + 1], rpeaks[k : k + 1])

        def drops(
            mask: Tensor, n: int, one: Tensor = one, ref: Tensor = ref, args: tuple = args
        ) -> np.ndarray:
            """(n,) the drop of each feature id of ``mask`` (ids absent from the input: 0)."""
            out = ablation.attribute(
                one,
                baselines=ref,
                additional_forward_args=args,
                feature_mask=mask[None].to(dev),
                perturbations_per_eval=BATCH,
            )
            flat = mask.reshape(-1).numpy()
            per_id = np.zeros(n + 1)
            per_id[flat] = out.reshape(-1).double().cpu().numpy()  # one value per id
            # replacing a feature that equals the reference already (a missing lead) is no change:
            # exactly 0, not the float noise of a batched forward against a single one
            moved = np.zeros(n + 1, dtype=bool)
            moved[flat[(one[0] != ref[0]).reshape(-1).cpu().numpy()]] = True
            return np.where(moved, per_id, 0.0)[:n]

        ids = torch.from_numpy(np.ascontiguousarray(model_input.beat_of[k]))
        beats[k] = drops(ids, NO_BEAT).reshape(N_LEADS, N_BEATS)
        coarse = {name: drops(lab, n) for name, (lab, n) in per_lead.items()}
        window_leads[k] = coarse["leads"]
        for key, acc in (("territories", territories), ("groups", groups)):
            for i, name in enumerate(acc):
                acc[name] += float(coarse[key][i])
    return beats, window_leads, territories, groups


def _lead_labels(table: Mapping[str, tuple[str, ...]]) -> Tensor:
    """(12,) the index of each lead's entry in ``table`` (a feature mask over leads)."""
    labels = torch.empty(N_LEADS, dtype=torch.long)
    for k, leads in enumerate(table.values()):
        labels[_idx(leads)] = k
    return labels


def _tree(
    tokens: contract.Tokens, beats: np.ndarray, leads: np.ndarray, territories: dict[str, float]
) -> tuple[TerritoryNode, ...]:
    t = token_times(tokens)
    nodes = []
    for name, members in TERRITORIES.items():
        children = []
        for lead in members:
            i = contract.LEADS.index(lead)
            found = np.argwhere(~tokens.pad[:, i])
            children.append(
                LeadNode(
                    lead=lead,
                    score=float(leads[i]),
                    missing=lead in tokens.missing_leads,
                    beats=tuple(
                        BeatNode(
                            window=int(w),
                            index=int(j),
                            start_s=float(t.start_s[w, j]),
                            stop_s=float(t.stop_s[w, j]),
                            r_s=float(t.r_s[w, j]),
                            score=float(beats[w, i, j]),
                        )
                        for w, j in found
                    ),
                )
            )
        nodes.append(TerritoryNode(name, territories[name], tuple(children)))
    return tuple(nodes)
