"""Checks of an explanation, for researchers: the model-randomisation sanity check (Adebayo et al.
2018: attributions of a re-initialised model should not look like the trained one's) and
faithfulness by deletion (AOPC, Samek et al. 2017: removing the most-attributed beats should
lower the target's probability more than removing random ones)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ecgviewer.errors import EcgError
from ecgviewer.ml.explain import DEFAULT_STEPS, N_BEATS, Explanation, attribute, logit_of
from ecgviewer.ml.infer import Analysis, Analyzer, batched
from ecgviewer.ml.inputs import ModelInput
from ecgviewer.ml.model import Model
from ecgviewer.recording import Recording


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


def randomised_copy(model: Model, seed: int = 0) -> Model:
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
    model: Model, model_input: ModelInput, explanation: Explanation, device: torch.device, seed: int = 0
) -> SanityCheck:
    """The same attribution on a re-initialised copy; rank correlation of the real beats' scores."""
    from scipy.stats import spearmanr

    e = explanation
    steps = e.n_steps or DEFAULT_STEPS
    other = attribute(
        randomised_copy(model, seed), model_input, e.target, e.method, steps, device, e.frontal, e.reference
    )
    real = ~model_input.tokens.pad
    rho = spearmanr(e.beats[real], other.beats[real]).statistic
    return SanityCheck(e.method, float(rho), int(real.sum()), seed)


def faithfulness(
    model: Model,
    model_input: ModelInput,
    explanation: Explanation,
    device: torch.device,
    k: int = 3,
    n_random: int = 10,
    seed: int = 0,
) -> Faithfulness:
    """Remove the k most-attributed beats, and k random ones, and compare the probability drops.

    Only the windows a removal touches are run again; the record's probability is the mean over
    its windows, as in the app. A beat is removed by setting the input samples that lie on it to
    the explanation's reference (zeros for a flat one, the normal beat for ``ml.reference``'s)."""
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
    values, pad, rpeaks = model_input.tensors(device)
    reference = torch.from_numpy(explanation.reference.values(model_input)).to(device)
    forward = logit_of(model, explanation.target)
    rows, where = [], []
    for s, chosen in enumerate(subsets):
        for w in np.unique(chosen[:, 0]):
            v = values[w].clone()
            hit = chosen[chosen[:, 0] == w]
            gone = torch.from_numpy(np.isin(model_input.beat_of[w], hit[:, 1] * N_BEATS + hit[:, 2])).to(
                device
            )
            v[gone] = reference[w][gone]
            rows.append((v, int(w)))
            where.append((s, int(w)))
    with torch.inference_mode():
        base = torch.sigmoid(batched(forward, values, pad, rpeaks))
        idx = torch.tensor([w for _, w in rows], device=device)
        changed = torch.sigmoid(batched(forward, torch.stack([v for v, _ in rows]), pad[idx], rpeaks[idx]))
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
