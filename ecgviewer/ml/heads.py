"""Downstream heads over the 12 per-lead vectors: CLEAR's linear head and HUG (seed-methods.md
§2.5), whose lead-system groups come from ``ecgviewer.leads``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ecgviewer.leads import HUG_GROUPS, HUG_PAIRS


class LinearHead(nn.Module):
    """CLEAR's downstream head: mean of the 12 lead [CLS] outputs -> Linear."""

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, cls: Tensor) -> Tensor:
        return self.fc(cls.mean(dim=1))


class HUGHead(nn.Module):
    """Hierarchical lead-Unified Group head (§2.5): lead groups -> pairs -> all -> classifier.

    Each expert is Linear + GELU here (a deviation, training/README.md); ``linear=True`` gives the
    paper's linear experts (CLEAR-HUG ``utils/moe.py``), whose whole head is then one affine map of
    the 12 lead vectors. The 7 group vectors are averaged before the classifier, and
    ``group_vectors`` exposes them so the viewer can explain per lead system.
    """

    def __init__(self, dim: int, n_classes: int, dropout: float = 0.1, linear: bool = False) -> None:
        super().__init__()
        expert = partial(_expert, linear=linear)
        self.groups = nn.ModuleList(expert(dim) for _ in HUG_GROUPS)
        self.pairs = nn.ModuleList(expert(dim) for _ in HUG_PAIRS)
        self.top = expert(dim)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, n_classes)

    def group_vectors(self, cls: Tensor) -> Tensor:
        """(B, 12, d) -> (B, 7, d): 3 groups, 3 pairs, 1 overall."""
        g = [
            expert(cls[:, list(idx)]).mean(dim=1) for expert, idx in zip(self.groups, HUG_GROUPS, strict=True)
        ]
        p = [
            expert(torch.stack([g[i], g[j]], dim=1)).mean(dim=1)
            for expert, (i, j) in zip(self.pairs, HUG_PAIRS, strict=True)
        ]
        top = self.top(torch.stack(p, dim=1)).mean(dim=1)
        return torch.stack([*g, *p, top], dim=1)

    def forward(self, cls: Tensor) -> Tensor:
        return self.fc(self.drop(self.group_vectors(cls).mean(dim=1)))


# "hug-linear": the paper-faithful HUG, compared with ours in the training grid.
HEADS: dict[str, Callable[[int, int], nn.Module]] = {
    "linear": LinearHead,
    "hug": HUGHead,
    "hug-linear": partial(HUGHead, linear=True),
}


def _expert(dim: int, linear: bool = False) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, dim), *([] if linear else [nn.GELU()]))
