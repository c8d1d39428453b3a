"""The classifier the app runs: an encoder from the registry (``create_encoder``, in the manner of
timm's model registry) and one head per task (``ml.heads``), or an ``Ensemble`` of such
classifiers. Encoders share one interface: a ``kind`` (the tokeniser family), ``patch_spec``
(None for beat tokens) and ``lead_vectors``, the 12 per-lead vectors in the contract's lead order
that every head reads. Both models answer ``forward`` (every task's logits), ``logit`` (one
class's, for the attributions) and ``tasks``."""

from __future__ import annotations

import math
from typing import NamedTuple, cast

import torch
from torch import Tensor, nn

from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_RHYTHM, Encoder, EncoderConfig, rhythm_features
from ecgviewer.ml.heads import HEADS
from ecgviewer.ml.patches import PatchConfig, PatchEncoder


class Family(NamedTuple):
    config: type[EncoderConfig] | type[PatchConfig]
    encoder: type[Encoder] | type[PatchEncoder]


# kind -> (config class, encoder class); a new encoder plugs in here and nowhere else
ENCODERS: dict[str, Family] = {
    Encoder.kind: Family(EncoderConfig, Encoder),
    PatchEncoder.kind: Family(PatchConfig, PatchEncoder),
}
DEFAULT_KIND = contract.BEATS  # weights exported before "kind" was stored hold beat encoders


def kind_of(config: EncoderConfig | PatchConfig) -> str:
    """The registry's name for an encoder configuration."""
    for kind, family in ENCODERS.items():
        if isinstance(config, family.config):
            return kind
    raise TypeError(f"no encoder takes a {type(config).__name__}")


def encoder_config(kind: str, d: dict) -> EncoderConfig | PatchConfig:
    """The configuration of a ``kind`` encoder from its stored dict."""
    if kind not in ENCODERS:
        raise KeyError(f"unknown encoder kind {kind!r} (known: {', '.join(ENCODERS)})")
    return ENCODERS[kind].config.from_dict(d)


def create_encoder(kind: str, config: EncoderConfig | PatchConfig) -> Encoder | PatchEncoder:
    return ENCODERS[kind].encoder(config)  # type: ignore[arg-type]  # kind_of pairs them


class Classifier(nn.Module):
    """Encoder + one head per task (e.g. ``super`` and ``all``): tokens -> logits.

    The encoder is the beat-token ``Encoder`` (``EncoderConfig``) or, for ECG-JEPA's encoders,
    the patch-token ``PatchEncoder`` (``PatchConfig``); ``kind`` names which, so the tokeniser.
    """

    def __init__(self, config: EncoderConfig | PatchConfig, tasks: dict[str, int], head: str = "hug") -> None:
        super().__init__()
        self.head_kind = head
        self.kind = kind_of(config)
        self.encoder: Encoder | PatchEncoder = create_encoder(self.kind, config)
        self.heads = nn.ModuleDict({task: HEADS[head](config.dim, n) for task, n in tasks.items()})
        # the window's RR statistics straight into each task's logits, at zero to start
        # (``EncoderConfig.rr_logits``, ``beats`` module docstring)
        rr = getattr(config, "rr_logits", False)
        direct = {task: nn.Linear(N_RHYTHM, n) for task, n in tasks.items()} if rr else {}
        for lin in direct.values():
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.rhythm_logits = nn.ModuleDict(direct) if rr else None

    @property
    def patch_spec(self) -> contract.PatchSpec | None:
        """The patch tokeniser's spec of a patch classifier; None for beat tokens."""
        return self.encoder.patch_spec

    def lead_cls(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None = None) -> Tensor:
        """The 12 per-lead vectors (B, 12, dim) the heads read (``lead_vectors``)."""
        return self.encoder.lead_vectors(values, pad, rpeaks)

    @property
    def tasks(self) -> list[str]:
        return list(self.heads)

    def forward(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None = None) -> dict[str, Tensor]:
        cls = self.lead_cls(values, pad, rpeaks)
        return {task: self._logits(task, cls, rpeaks) for task in self.heads}

    def logit(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None, task: str, index: int) -> Tensor:
        """(B,) one class's logit; only that task's head runs."""
        return self._logits(task, self.lead_cls(values, pad, rpeaks), rpeaks)[:, index]

    def _logits(self, task: str, cls: Tensor, rpeaks: Tensor | None) -> Tensor:
        z = self.heads[task](cls)
        if self.rhythm_logits is not None:
            if rpeaks is None:
                raise ValueError("this classifier reads RR intervals: give the R-peaks")
            z = z + self.rhythm_logits[task](rhythm_features(rpeaks))
        return z


class Ensemble(nn.Module):
    """Classifiers of one tokeniser family and one label set, read together: each class's logit is
    the logit of the members' mean probability, so the app's probability is the members' average
    (what was validated on fold 9) and an attribution of that logit stays exact (Integrated
    Gradients' completeness holds for any differentiable output)."""

    def __init__(self, members: list[Classifier]) -> None:
        super().__init__()
        if len({m.kind for m in members}) != 1 or len({tuple(m.tasks) for m in members}) != 1:
            raise ValueError("ensemble members must share their tokeniser and tasks")
        self.members = nn.ModuleList(members)
        self.kind = members[0].kind
        self.head_kind = members[0].head_kind

    @property
    def parts(self) -> list[Classifier]:
        """The members, typed (``members`` is the registered ModuleList)."""
        return [cast(Classifier, m) for m in self.members]

    @property
    def patch_spec(self) -> contract.PatchSpec | None:
        return self.parts[0].patch_spec

    @property
    def tasks(self) -> list[str]:
        return self.parts[0].tasks

    def forward(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None = None) -> dict[str, Tensor]:
        outs = [m(values, pad, rpeaks) for m in self.parts]
        return {task: mean_probability_logit(torch.stack([o[task] for o in outs])) for task in self.tasks}

    def logit(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None, task: str, index: int) -> Tensor:
        return mean_probability_logit(
            torch.stack([m.logit(values, pad, rpeaks, task, index) for m in self.parts])
        )


def mean_probability_logit(z: Tensor) -> Tensor:
    """logit(mean_k sigmoid(z_k)) over the first axis, in log space (exact and stable for any z)."""
    log_n = math.log(z.shape[0])
    log_p = torch.logsumexp(nn.functional.logsigmoid(z), dim=0) - log_n
    log_q = torch.logsumexp(nn.functional.logsigmoid(-z), dim=0) - log_n
    return log_p - log_q


Model = Classifier | Ensemble
