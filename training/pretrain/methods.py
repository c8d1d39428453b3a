"""The four pretraining objectives behind one interface (``pretrain --method``), so they share the
data, the schedule, the evaluation and the compute budget; only the objective (and, for ECG-JEPA,
the tokeniser it was designed for) changes.

A method builds a pretrainer (an ``nn.Module`` whose ``forward(batch, progress)`` is the loss and
whose ``encoder`` is what gets exported) from the preset and the pretraining set. ``kind`` names
the encoder family, i.e. the tokeniser the app must apply to use it: beat tokens or patches.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_LEADS
from ecgviewer.ml.model import create_encoder, encoder_config
from ecgviewer.ml.patches import PatchEncoder
from training.pretrain.batch import Batch


@dataclass
class PretrainSet:
    """The records a method pretrains on: ``tensors`` rows ``rows`` (Batch.rows index into it)."""

    tensors: object  # training.context.Tensors
    rows: np.ndarray
    caches: list  # training.data.datasets.TokenCache, in the order the tensors concatenate them
    workers: int = 2
    progress: bool = False
    timings: dict = field(default_factory=dict)  # preprocessing a method needs (seconds)


@dataclass(frozen=True)
class Method:
    name: str
    label: str  # as the tables name it
    kind: str  # "beats" | "patches": the encoder family, so the tokeniser
    build: Callable[[object, PretrainSet, int], nn.Module]  # (preset, data, seed) -> pretrainer
    objective: Callable[[object], object]  # preset -> the objective's settings (a dataclass)


def _clear(preset, data: PretrainSet, seed: int) -> nn.Module:
    from training.pretrain.clear import ClearPretrainer

    return ClearPretrainer(preset.encoder, preset.decoder, seed)


def _jepa(preset, data: PretrainSet, seed: int) -> nn.Module:
    from training.pretrain.jepa import JepaPretrainer

    return JepaPretrainer(preset.patch, preset.jepa, seed)


# fairseq-signals' random lead masking as the released PhysioCLR config keeps it (seed-methods §3.3)
RLM_P = 0.5


def _physioclr_objective(preset, lead_mask: float = 0.0):
    return replace(preset.physioclr, lead_mask=lead_mask) if lead_mask else preset.physioclr


def _physioclr(preset, data: PretrainSet, seed: int, lead_mask: float = 0.0) -> nn.Module:
    from training.pretrain.physioclr import PhysioCLRPretrainer

    objective = _physioclr_objective(preset, lead_mask)
    return PhysioCLRPretrainer(preset.encoder, objective, physio_features(data), seed)


def _acl_objective(preset, inter: str | None = None):
    return preset.acl if inter is None else replace(preset.acl, inter=inter)


def _acl(preset, data: PretrainSet, seed: int, inter: str | None = None) -> nn.Module:
    from training.pretrain.acl import AclPretrainer

    return AclPretrainer(preset.encoder, _acl_objective(preset, inter), seed)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("clear", "CLEAR", contract.BEATS, _clear, lambda p: p.decoder),
        Method("jepa", "ECG-JEPA", contract.PATCHES, _jepa, lambda p: p.jepa),
        Method("physioclr", "PhysioCLR", contract.BEATS, _physioclr, _physioclr_objective),
        Method(
            "physioclr-rlm",
            "PhysioCLR with random lead masking",
            contract.BEATS,
            partial(_physioclr, lead_mask=RLM_P),
            partial(_physioclr_objective, lead_mask=RLM_P),
        ),
        Method("acl", "ACL-ECG", contract.BEATS, _acl, _acl_objective),
        # the ablation of the inter-region term's sign, which the sources leave open (§4.2)
        *(
            Method(
                f"acl-{inter}",
                f"ACL-ECG, {words} (ablation)",
                contract.BEATS,
                partial(_acl, inter=inter),
                partial(_acl_objective, inter=inter),
            )
            for inter, words in (("pull", "inter-region pull"), ("none", "no inter-region term"))
        ),
    )
}


def physio_features(data: PretrainSet) -> torch.Tensor:
    """PhysioCLR's reduced feature vectors of the pretraining rows (N, 50). The raw neurokit2
    features of the records pretrained on (only those: a validation record's would be unused) are
    computed once and kept beside their cache, named by which records; the PCA is fitted on them."""
    from training.pretrain.physioclr import FEATURES, feature_matrix, reduce

    sizes = [len(cache) for cache in data.caches]
    raw = np.full((sum(sizes), len(FEATURES)), np.nan)
    start = 0
    for cache, size in zip(data.caches, sizes, strict=True):
        used = np.unique(data.rows[(data.rows >= start) & (data.rows < start + size)]) - start
        digest = hashlib.sha256(used.astype(np.int64).tobytes()).hexdigest()[:12]
        path = cache.folder / f"physio-features-{len(FEATURES)}-{digest}.npy"
        if len(used) and not path.is_file():
            t0 = time.perf_counter()
            # the contract's evenly spaced pseudo-beats are no R-peaks: their RR would be invented
            rpeaks = np.where(np.asarray(cache.fallback)[:, None], -1, cache.rpeaks)
            m = feature_matrix(cache.signal, cache.length, cache.present, rpeaks, data.workers,
                               data.progress, rows=used)  # fmt: skip
            spent = round(time.perf_counter() - t0, 1)
            data.timings["features_s"] = data.timings.get("features_s", 0.0) + spent
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, m)
            tmp.replace(path)
        if len(used):
            raw[start + used] = np.load(path)
        start += size
    feats = raw[data.rows]
    return torch.from_numpy(reduce(feats, np.arange(len(feats))))


def new_encoder(kind: str, config: dict) -> nn.Module:
    """A randomly initialised encoder of a family from its stored config (the app's registry)."""
    return create_encoder(kind, encoder_config(kind, config))


def lead_features(encoder: nn.Module, batch: Batch) -> torch.Tensor:
    """Per-lead vectors (B, 12, dim) for the downstream heads: the lead [CLS] outputs of the beat
    encoder, the per-lead token means of the patch encoder."""
    if isinstance(encoder, PatchEncoder):
        values, pad = contract.patchify(batch.signal, batch.present, encoder.config.patch_spec, batch.length)
        return encoder.lead_features(values, pad)
    return encoder(batch.values, batch.pad, batch.rpeaks)[0][:, :N_LEADS]
