"""The model's attributions on the median beat: the mean over the beat tokens that went into it.

The encoder explains beat tokens (0.96 s at 100 Hz, R at their centre); the median beat is the
median of the beats the measurement kept. Averaging the attributions of the tokens of those same
beats (matched by R time) puts both on one R-aligned beat, lead by lead, so a reader can see which
part of the beat the model leaned on where the intervals are measured. Plain numpy: the GUI draws
what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATCH_S = 0.05  # a token and a median beat are the same beat when their R times are this close


@dataclass(frozen=True)
class MedianAttribution:
    beats: np.ndarray  # (leads,) mean beat-level score; NaN for a lead without tokens
    samples: np.ndarray | None  # (leads, token samples) mean per-sample score; None when not per sample
    n_beats: np.ndarray  # (leads,) how many tokens were averaged
    matched: bool  # False: no token matched a median beat, so every real token was averaged


def median_attribution(
    beats: np.ndarray,
    samples: np.ndarray | None,
    pad: np.ndarray,
    token_r_s: np.ndarray,
    median_r_s: np.ndarray,
    tolerance_s: float = MATCH_S,
) -> MedianAttribution:
    """Average (windows, leads, slots) ``beats`` and (windows, leads, slots, n) ``samples`` over the
    tokens whose R time ``token_r_s`` (windows, slots; NaN where none) lies within ``tolerance_s`` of
    an R time in ``median_r_s`` (the beats in the median), skipping ``pad`` tokens. When none
    matches (another beat detector, another span), all real tokens are averaged instead."""
    pad = np.asarray(pad, dtype=bool)
    r = np.asarray(token_r_s, dtype=np.float64)
    med = np.asarray(median_r_s, dtype=np.float64).ravel()
    if med.size:
        with np.errstate(invalid="ignore"):
            near = np.abs(r[..., None] - med).min(axis=-1) <= tolerance_s  # NaN: False
    else:
        near = np.zeros(r.shape, dtype=bool)
    use = ~pad & near[:, None, :]
    matched = bool(use.any())
    if not matched:
        use = ~pad
    n = use.sum(axis=(0, 2))
    denom = np.where(n > 0, n, 1)

    def mean(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        total = np.where(mask, np.asarray(x, dtype=np.float64), 0.0).sum(axis=(0, 2))
        out = total / (denom if total.ndim == 1 else denom[:, None])
        out[n == 0] = np.nan
        return out

    return MedianAttribution(
        beats=mean(beats, use),
        samples=None if samples is None else mean(samples, use[..., None]),
        n_beats=n,
        matched=matched,
    )
