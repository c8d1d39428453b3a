"""Attributions of one class to the beat tokens (captum), aggregated beat -> lead -> territory and
HUG lead group, with the checks that say how far to trust them.

What is attributed is the target class's **logit** (before the sigmoid), each 10 s window through
its own forward pass; record-level scores are sums over windows. The baseline is zeros: a flat
signal, every token at 0 mV. Integrated Gradients and gradient x input are additive: a beat's
score is the sum of its 96 sample scores, a lead's the sum of its beats' (plus, for a patch-token
classifier, its samples between beat tokens: ``outside``), a territory's the sum of its leads'
(and IG's samples add up to logit(x) - logit(baseline), up to the reported convergence delta).
Occlusion is not additive: every level is its own ablation (one beat, one lead, one territory,
one HUG group set to zero) scored by how much the logit drops, so interactions show.

Checks: model randomisation (Adebayo et al. 2018: an explanation that survives re-initialised
weights explains the input, not the model) and faithfulness (AOPC-style, Samek et al. 2017:
zeroing the most-attributed beats should lower the probability more than zeroing random ones).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ecgviewer.errors import EcgError
from ecgviewer.leads import HUG_LEAD_GROUPS, TERRITORIES
from ecgviewer.ml import contract
from ecgviewer.ml.infer import BATCH, Analysis, Analyzer, Predictions, batched
from ecgviewer.ml.inputs import NO_BEAT, ModelInput
from ecgviewer.ml.model import Classifier
from ecgviewer.ml.placement import token_times
from ecgviewer.recording import Recording

METHODS = {"ig": "integrated_gradients", "occlusion": "occlusion", "gxi": "input_x_gradient"}
BASELINE = "zeros (flat signal, 0 mV)"
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


@dataclass(frozen=True)
class SanityCheck:
    """Spearman rank correlation between the beat scores of the trained model and of a copy with
    re-initialised weights: near 1 would mean the map does not depend on what was learnt."""

    method: str
    spearman: float
    n_beats: int
    seed: int


@dataclass(frozen=True)
class Faithfulness:
    """Target probability drops after zeroing the 1..k most-attributed beats (signed score,
    highest first) and 1..k random beats (mean of ``n_random`` seeded draws)."""

    k: int
    probability: float  # of the intact record (mean over windows)
    top_drops: tuple[float, ...]
    random_drops: tuple[float, ...]
    n_random: int

    @property
    def ratio(self) -> float | None:
        """Top-k drop / random-k drop; None when random beats do not lower the probability."""
        return self.top_drops[-1] / self.random_drops[-1] if self.random_drops[-1] > 0 else None

    @property
    def aopc_top(self) -> float:
        """AOPC (Samek et al. 2017): the mean drop over 1..k removals. Their k = 0 term (always 0)
        is left out: a factor k / (k + 1) on top and random alike, so no comparison changes."""
        return float(np.mean(self.top_drops))

    @property
    def aopc_random(self) -> float:
        return float(np.mean(self.random_drops))


def choose_target(
    classes: dict[str, list[str]], predictions: Predictions, task: str, code: str | None
) -> Target:
    """``code`` (looked for in ``task`` first, then in the other tasks) or, by default, the
    surfaced class of ``task`` with the highest probability."""
    if task not in classes:
        raise EcgError(f"task {task!r}: the model has {', '.join(classes)}")
    code = code or predictions.top(task).code
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
    """Attribute ``target`` in ``analysis`` (of ``rec``) on the analyzer's device (cached per
    recording and settings)."""
    model_input = analysis.inputs
    settings = ("explain", method, target, n_steps if method == "ig" else None)
    return analyzer.cache.get(
        rec,
        settings,
        lambda: analyzer.on_device(
            lambda d: attribute(analyzer.model, model_input, target, method, n_steps, d)
        ),
    )


def check(
    analyzer: Analyzer, rec: Recording, analysis: Analysis, explanation: Explanation
) -> tuple[SanityCheck, Faithfulness]:
    """Both checks of ``explanation`` of ``analysis`` (defaults: seed 0, k = 3) on the analyzer's
    device (cached)."""
    model_input = analysis.inputs
    return analyzer.cache.get(
        rec,
        ("checks", explanation.method, explanation.target, explanation.n_steps),
        lambda: analyzer.on_device(
            lambda d: (
                randomisation_check(analyzer.model, model_input, explanation, d),
                faithfulness(analyzer.model, model_input, explanation, d),
            )
        ),
    )


def attribute(
    model: Classifier,
    model_input: ModelInput,
    target: Target,
    method: str = "ig",
    n_steps: int = DEFAULT_STEPS,
    device: torch.device | None = None,
) -> Explanation:
    """One attribution map of ``target`` over the model's input with the model as it is, summed
    onto the beat tokens (``inputs``)."""
    if method not in METHODS:
        raise EcgError(f"method {method!r}: choose from {', '.join(METHODS)}")
    device = device or torch.device("cpu")
    t0 = time.perf_counter()
    tokens = model_input.tokens
    values, pad, time_bin = model_input.tensors(device)
    forward = _logit_of(model, target)
    with torch.inference_mode():
        logit = batched(forward, values, pad, time_bin).double().cpu().numpy()
        baseline_logit = batched(forward, torch.zeros_like(values), pad, time_bin).double().cpu().numpy()
    delta = outside = samples = None
    territories: dict[str, float] | None
    groups: dict[str, float] | None
    if method == "occlusion":
        beats, window_leads, territories, groups = _occlusion(forward, model_input, values, pad, time_bin)
    else:
        attr, delta = _gradients(forward, values, pad, time_bin, method, n_steps)
        attr[np.broadcast_to(model_input.pad[..., None], attr.shape)] = 0.0
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


def _idx(leads: tuple[str, ...]) -> list[int]:
    return [contract.LEADS.index(lead) for lead in leads]


def _logit_of(model: Classifier, target: Target) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """values, pad, time_bin -> (B,) logit of the target class (only the target's head runs)."""
    head = model.heads[target.task]

    def forward(values: Tensor, pad: Tensor, time_bin: Tensor) -> Tensor:
        return head(model.lead_cls(values, pad, time_bin))[:, target.index]

    return forward


def _gradients(
    forward: Callable, values: Tensor, pad: Tensor, time_bin: Tensor, method: str, n_steps: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-sample IG or gradient x input, a few windows per call so one pass is ~``BATCH``."""
    from captum.attr import InputXGradient, IntegratedGradients

    per_call = max(1, BATCH // n_steps) if method == "ig" else BATCH
    maps, deltas = [], []
    for s in range(0, len(values), per_call):
        part = slice(s, s + per_call)
        args = (pad[part], time_bin[part])
        if method == "ig":
            attr, delta = IntegratedGradients(forward).attribute(
                values[part],
                baselines=0.0,
                additional_forward_args=args,
                n_steps=n_steps,
                internal_batch_size=BATCH,
                return_convergence_delta=True,
            )
            deltas.append(delta.detach().double().cpu().numpy())
        else:
            inputs = values[part].detach().requires_grad_()
            attr = InputXGradient(forward).attribute(inputs, additional_forward_args=args)
        maps.append(attr.detach().float().cpu().numpy())
    return np.concatenate(maps), (np.concatenate(deltas) if deltas else None)


def _occlusion(
    forward: Callable, model_input: ModelInput, values: Tensor, pad: Tensor, time_bin: Tensor
) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, float]]:
    """Logit drops when zeroing each beat, each lead, each territory, each HUG group (per window).

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
        one = values[k : k + 1]
        args = (pad[k : k + 1], time_bin[k : k + 1])

        def drops(mask: Tensor, n: int, one: Tensor = one, args: tuple = args) -> np.ndarray:
            """(n,) the drop of each feature id of ``mask`` (ids absent from the input: 0)."""
            out = ablation.attribute(
                one,
                baselines=0.0,
                additional_forward_args=args,
                feature_mask=mask[None].to(dev),
                perturbations_per_eval=BATCH,
            )
            flat = mask.reshape(-1).numpy()
            per_id = np.zeros(n + 1)
            per_id[flat] = out.reshape(-1).double().cpu().numpy()  # one value per id
            # zeroing a feature that is all zero already (a missing lead) is no change: exactly 0,
            # not the float noise of a batched forward against a single one
            moved = np.zeros(n + 1, dtype=bool)
            moved[flat[(one[0] != 0).reshape(-1).cpu().numpy()]] = True
            return np.where(moved, per_id, 0.0)[:n]

        ids = torch.from_numpy(np.ascontiguousarray(model_input.beat_of[k]))
        beats[k] = drops(ids, NO_BEAT).reshape(N_LEADS, N_BEATS)
        coarse = {name: drops(lab, n) for name, (lab, n) in per_lead.items()}
        window_leads[k] = coarse["leads"]
        for key, acc in (("territories", territories), ("groups", groups)):
            for i, name in enumerate(acc):
                acc[name] += float(coarse[key][i])
    return beats, window_leads, territories, groups


def _lead_labels(table: dict[str, tuple[str, ...]]) -> Tensor:
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


def randomised_copy(model: Classifier, seed: int = 0) -> Classifier:
    """A deep copy with every weight re-initialised (PyTorch's default initialisers; bare
    parameters such as the [CLS] embeddings from N(0, 0.02))."""
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in clone.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
            else:
                for p in module.parameters(recurse=False):
                    nn.init.normal_(p, std=0.02)
    return clone.eval()


def randomisation_check(
    model: Classifier, model_input: ModelInput, explanation: Explanation, device: torch.device, seed: int = 0
) -> SanityCheck:
    """The same attribution on a re-initialised copy; rank correlation of the real beats' scores."""
    from scipy.stats import spearmanr

    e = explanation
    other = attribute(
        randomised_copy(model, seed), model_input, e.target, e.method, e.n_steps or DEFAULT_STEPS, device
    )
    real = ~model_input.tokens.pad
    rho = spearmanr(e.beats[real], other.beats[real]).statistic
    return SanityCheck(e.method, float(rho), int(real.sum()), seed)


def faithfulness(
    model: Classifier,
    model_input: ModelInput,
    explanation: Explanation,
    device: torch.device,
    k: int = 3,
    n_random: int = 10,
    seed: int = 0,
) -> Faithfulness:
    """Zero the k most-attributed beats, and k random ones, and compare the probability drops.

    Only the windows a removal touches are run again; the record's probability is the mean over
    its windows, as in the app. A beat is zeroed as the input samples that lie on it."""
    tokens = model_input.tokens
    real = np.argwhere(~tokens.pad)  # (M, 3): window, lead, beat
    k = min(k, len(real))
    if k == 0:
        raise EcgError("faithfulness: the recording has no beats")
    order = np.argsort(-explanation.beats[~tokens.pad], kind="stable")
    rng = np.random.default_rng(seed)
    draws = [rng.permutation(len(real))[:k] for _ in range(n_random)]
    subsets = [real[order[:n]] for n in range(1, k + 1)] + [
        real[d[:n]] for d in draws for n in range(1, k + 1)
    ]
    values, pad, time_bin = model_input.tensors(device)
    forward = _logit_of(model, explanation.target)
    rows, where = [], []
    for s, chosen in enumerate(subsets):
        for w in np.unique(chosen[:, 0]):
            v = values[w].clone()
            hit = chosen[chosen[:, 0] == w]
            v[
                torch.from_numpy(np.isin(model_input.beat_of[w], hit[:, 1] * N_BEATS + hit[:, 2])).to(device)
            ] = 0.0
            rows.append((v, int(w)))
            where.append((s, int(w)))
    with torch.inference_mode():
        base = torch.sigmoid(batched(forward, values, pad, time_bin))
        idx = torch.tensor([w for _, w in rows], device=device)
        changed = torch.sigmoid(batched(forward, torch.stack([v for v, _ in rows]), pad[idx], time_bin[idx]))
    probs = base.double().cpu().numpy()
    per_subset = np.tile(probs, (len(subsets), 1))
    for (s, w), p in zip(where, changed.double().cpu().numpy(), strict=True):
        per_subset[s, w] = p
    p0 = float(probs.mean())
    drops = p0 - per_subset.mean(axis=1)
    return Faithfulness(
        k=k,
        probability=p0,
        top_drops=tuple(float(x) for x in drops[:k]),
        random_drops=tuple(float(x) for x in drops[k:].reshape(n_random, k).mean(axis=0)),
        n_random=n_random,
    )


@dataclass(frozen=True)
class FaithfulnessSummary:
    """Top-attributed vs random removals over records, paired per record (what a benchmark reports
    and a test asserts).

    The paired difference AOPC_top - AOPC_random is defined whatever the sign of the random drops
    and has no denominator; the win rate, with an exact sign test, does not let a few records with
    large drops carry the verdict. The ratio of the means is given only when random removals
    clearly lower the probability: on PTB-XL fold 10 they barely move it (mean about 0, either
    sign), so the ratio divides by noise (negative on the first 10 records, 11 on 50). Drops are
    in probability, the quantity a reader sees; in logit they gave the same wins (35 of 50) and an interval
    about as wide for its mean (1.15 times the mean, 1.28 in probability), so no second figure."""

    records: int
    k: int
    aopc_top_mean: float
    aopc_random_mean: float
    aopc_random_ci: tuple[float, float]  # 95 % percentile bootstrap over records
    difference_mean: float  # mean over records of AOPC_top - AOPC_random
    difference_ci: tuple[float, float]  # 95 % percentile bootstrap over records
    wins: int  # records with AOPC_top > AOPC_random
    losses: int  # records with AOPC_top < AOPC_random (exact ties are neither)
    sign_test_p: float  # exact two-sided binomial test of wins among wins + losses, p = 1/2
    ratio: float | None  # aopc_top_mean / aopc_random_mean; None unless aopc_random_ci[0] > 0
    n_boot: int
    seed: int

    @property
    def win_rate(self) -> float:
        return self.wins / self.records


def faithfulness_summary(
    results: Sequence[Faithfulness], n_boot: int = 2000, seed: int = 0
) -> FaithfulnessSummary:
    """Aggregate per-record checks (one target each) into the paired statistics above; one set of
    seeded bootstrap resamples of the records serves both intervals."""
    from scipy.stats import binomtest

    if not results:
        raise ValueError("faithfulness_summary: no records")
    ks = {r.k for r in results}
    if len(ks) != 1:
        raise ValueError(f"faithfulness_summary: records with different k {sorted(ks)}")
    top = np.array([r.aopc_top for r in results])
    random = np.array([r.aopc_random for r in results])
    diff = top - random
    resamples = np.random.default_rng(seed).integers(0, len(results), (n_boot, len(results)))

    def ci(x: np.ndarray) -> tuple[float, float]:
        lo, hi = np.percentile(x[resamples].mean(axis=1), [2.5, 97.5])
        return float(lo), float(hi)

    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    random_ci = ci(random)
    return FaithfulnessSummary(
        records=len(results),
        k=ks.pop(),
        aopc_top_mean=float(top.mean()),
        aopc_random_mean=float(random.mean()),
        aopc_random_ci=random_ci,
        difference_mean=float(diff.mean()),
        difference_ci=ci(diff),
        wins=wins,
        losses=losses,
        sign_test_p=float(binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0,
        ratio=float(top.mean() / random.mean()) if random_ci[0] > 0 else None,
        n_boot=n_boot,
        seed=seed,
    )
