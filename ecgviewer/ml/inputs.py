"""What a classifier reads from a recording, and where each input sample lies on the beats.

A beat-token classifier reads the contract's tokens; a patch-token classifier (ECG-JEPA) reads
fixed 0.2 s patches of the same 10 s windows. The viewer explains both on one scaffold, the beat
tokens, because that is how a cardiologist reads: ``beat_of`` names, for every input sample, the
beat token (lead, beat) whose samples it is, so attributions, ablations and attention on patches
are summed onto beats through the contract's R-peaks. A patch sample between two beat tokens (RR
longer than 0.96 s) lies on no beat: its share is kept per lead as ``outside`` and still counts
in the lead's and territory's totals, so they stay additive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ecgviewer.ml import contract

N_LEADS, N_BEATS = len(contract.LEADS), contract.MAX_BEATS
NO_BEAT = N_LEADS * N_BEATS  # ``beat_of`` of a sample that lies on no beat token


@dataclass
class ModelInput:
    """The model's input for every window, and the map of its samples onto the beat tokens."""

    kind: str  # "beats" | "patches": the classifier's tokeniser family
    values: np.ndarray  # float32 (W, *sample_shape): what the model reads, mV
    pad: np.ndarray  # bool (W, *token_shape): tokens the model ignores
    rpeaks: np.ndarray  # int64 (W, 15): each beat slot's R-peak at 100 Hz, -1 where none (patches take none)
    beat_of: np.ndarray  # int64 (W, *sample_shape): lead * 15 + beat of each sample; NO_BEAT: none
    lead_of: np.ndarray  # int64 (*sample_shape): each sample's lead, an index into contract.LEADS
    tokens: contract.Tokens

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        return (
            torch.from_numpy(self.values).to(device),
            torch.from_numpy(self.pad).to(device),
            torch.from_numpy(self.rpeaks).to(device),
        )

    @property
    def samples_per_token(self) -> int:
        return self.values.shape[-1]

    def beat_sums(self, x: np.ndarray) -> np.ndarray:
        """Per-sample ``x`` (W, *extra, *sample_shape) summed per beat: (W, *extra, 12, 15)."""
        return _segment_sums(x, self.beat_of, NO_BEAT + 1)[..., :NO_BEAT].reshape(
            *x.shape[: x.ndim - self.values.ndim + 1], N_LEADS, N_BEATS
        )

    def lead_sums(self, x: np.ndarray) -> np.ndarray:
        """Per-sample ``x`` (W, *sample_shape) summed per lead, beats and gaps alike: (W, 12)."""
        ids = np.broadcast_to(self.lead_of, self.values.shape)
        return _segment_sums(x, ids, N_LEADS)

    def per_sample(self, per_token: np.ndarray) -> np.ndarray:
        """A per-token quantity (W, *extra, *token_shape) spread evenly over each token's samples, so
        that summing onto beats moves mass, not density."""
        spread = per_token[..., None] / self.samples_per_token
        return np.broadcast_to(spread, (*per_token.shape, self.samples_per_token))

    def token_samples(self, x: np.ndarray) -> np.ndarray:
        """Per-sample ``x`` (W, *sample_shape) laid out as beat tokens (W, 12, 15, 96) at 100 Hz, the
        layout the viewer draws under each beat; samples on no beat are left out."""
        if self.kind == contract.BEATS:
            return np.where(self.tokens.pad[..., None], 0.0, x).astype(np.float32)
        t = self.tokens
        present = np.array([lead not in t.missing_leads for lead in contract.LEADS])
        out = np.zeros((len(x), N_LEADS, N_BEATS, contract.TOKEN_LEN), dtype=np.float32)
        at100, lead = self._grid100()
        for w in range(len(x)):
            mass = np.zeros((N_LEADS, contract.WINDOW), dtype=np.float64)
            np.add.at(mass, (lead, at100), x[w].reshape(len(lead), -1))
            peaks = t.local_rpeaks[w][t.local_rpeaks[w] >= 0]
            out[w] = contract.tokenise_window(mass, peaks, present)[0]
        return out

    def _grid100(self) -> tuple[np.ndarray, np.ndarray]:
        """For a patch grid: each window sample's index at 100 Hz (n,) and each lead row's index in
        contract.LEADS (L, 1)."""
        n = self.values.shape[-2] * self.values.shape[-1]
        return _at100(n, n / contract.WINDOW * contract.FS), self.lead_of[:, 0, 0][:, None]


def for_beats(tokens: contract.Tokens) -> ModelInput:
    """The beat-token input: every sample of token (lead, beat) lies on that beat."""
    ids = np.arange(NO_BEAT).reshape(N_LEADS, N_BEATS, 1)
    beat_of = np.where(tokens.pad[..., None], NO_BEAT, ids)
    beat_of = np.broadcast_to(beat_of, tokens.values.shape)
    lead_of = np.broadcast_to(np.arange(N_LEADS)[:, None, None], tokens.values.shape[1:])
    r = tokens.local_rpeaks
    return ModelInput(contract.BEATS, tokens.values, tokens.pad, r, beat_of, lead_of, tokens)


def for_patches(
    tokens: contract.Tokens, x: np.ndarray, present: np.ndarray, spec: contract.PatchSpec
) -> ModelInput:
    """The patch input of the same windows as ``tokens``: ``x`` (12, n) is ``contract.prepare``'s
    band-passed signal at ``spec.fs``. Each sample lies on the beat token whose span (at 100 Hz)
    holds it."""
    scale = spec.fs / contract.FS
    rows = [contract.LEADS.index(lead) for lead in spec.leads]
    values, pad, beat_of = [], [], []
    for w in range(tokens.n_windows):
        start = round(_window_start100(tokens, w) * scale)
        seg = x[:, start : start + spec.window_samples]
        stop = round(tokens.window_stop[w] * spec.fs / tokens.source_fs)  # the next tile is not this one's
        v, p = contract.patchify(seg, present, spec, np.asarray(stop - start))
        values.append(v)
        pad.append(p)
        beat_of.append(_beats_of_samples(tokens, w, spec, rows, p))
    lead_of = np.broadcast_to(np.asarray(rows)[:, None, None], values[0].shape)
    return ModelInput(
        contract.PATCHES,
        np.stack(values).astype(np.float32),
        np.stack(pad),
        np.full_like(tokens.local_rpeaks, -1),
        np.stack(beat_of),
        lead_of,
        tokens,
    )


def _window_start100(tokens: contract.Tokens, w: int) -> int:
    """Window ``w``'s first sample at 100 Hz (the contract cuts windows at 100 Hz)."""
    return round(tokens.window_start[w] * contract.FS / tokens.source_fs)


def _beats_of_samples(
    tokens: contract.Tokens, w: int, spec: contract.PatchSpec, rows: list[int], pad: np.ndarray
) -> np.ndarray:
    """(L, T, P) beat ids of the samples of window ``w``'s patch grid."""
    peaks = tokens.local_rpeaks[w][tokens.local_rpeaks[w] >= 0]
    beat = np.full(contract.WINDOW, -1, dtype=np.int64)
    for j, (a, b) in enumerate(contract.beat_spans(peaks, contract.WINDOW)):
        beat[a:b] = j
    per_sample = beat[_at100(spec.window_samples, spec.fs)]  # (n,)
    ids = np.asarray(rows)[:, None] * N_BEATS + per_sample[None, :]  # (L, n)
    ids = np.where(per_sample[None, :] < 0, NO_BEAT, ids).reshape(len(rows), spec.n_patches, -1)
    return np.where(pad[..., None], NO_BEAT, ids)


def _at100(n: int, fs: float) -> np.ndarray:
    """The 100 Hz window sample (0..999) that each of ``n`` window samples at ``fs`` falls in."""
    return np.minimum(np.floor(np.arange(n) * contract.FS / fs).astype(np.int64), contract.WINDOW - 1)


def _segment_sums(x: np.ndarray, ids: np.ndarray, n_ids: int) -> np.ndarray:
    """Sum of ``x`` (W, *extra, *ids.shape[1:]) over the samples sharing an id, per window and
    extra index: (W, *extra, n_ids). One window at a time bounds memory on long records."""
    w = x.shape[0]
    extra = x.shape[1 : x.ndim - ids.ndim + 1]
    n_extra = math.prod(extra)
    offsets = (np.arange(n_extra) * n_ids)[:, None]
    out = np.empty((w, n_extra, n_ids))
    for k in range(w):
        flat = (ids[k].reshape(1, -1) + offsets).ravel()
        sums = np.bincount(flat, weights=x[k].reshape(-1).astype(np.float64), minlength=n_extra * n_ids)
        out[k] = sums.reshape(n_extra, n_ids)
    return out.reshape(w, *extra, n_ids)
