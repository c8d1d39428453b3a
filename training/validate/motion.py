"""Synthetic electrode-motion artefact, for training only: the beat classifier learns what
detections in motion noise look like from it, so that EC57's own electrode-motion record (``em``),
which its noise stress test adds, is never learnt from (``noise_stress``).

What it imitates is the published description of motion artefact, not the ``em`` record: the
electrode-skin interface's half-cell potential jumps when an electrode moves and relaxes back over
a fraction of a second, in bursts while the patient moves, with most of its power at 1-10 Hz where
the P, QRS and T waves are (Moody, Muldrow, Mark 1984; Clifford, Azuaje, McSharry, *Advanced
Methods and Tools for ECG Data Analysis*, 2006, ch. 3). Hand-written: no library generates it.
Two parts, each lead a mix of a shared part and its own (electrodes share a movement, not an
interface): band-limited noise (0.5-15 Hz) under a slowly varying log-normal envelope, the bursts;
and Poisson transients, jumps of random sign and size (10-40 ms rise) relaxing over 50-400 ms.
Nothing is fitted: every figure below was fixed before any noisy record was scored.
"""

from __future__ import annotations

import numpy as np

BAND_HZ = (0.5, 15.0)
ENVELOPE_HZ = 0.3  # the bursts' envelope varies over a few seconds ...
ENVELOPE_SIGMA = 1.0  # ... log-normally
TRANSIENTS_PER_S = 0.6
RISE_S, DECAY_S = (0.01, 0.04), (0.05, 0.4)
TRANSIENT_SHARE = 0.5  # of the power: transients against the band-limited bursts
SHARED = (0.3, 0.8)  # per lead, the share of the shared movement


def motion_noise(n: int, fs: float, leads: int, seed: int) -> np.ndarray:
    """(leads, n) of synthetic motion artefact, each lead of unit RMS (``noise_stress.mixed``
    scales it to an SNR)."""
    rng = np.random.default_rng(seed)
    shared = _one(n, fs, rng)
    out = np.empty((leads, n))
    for k in range(leads):
        w = rng.uniform(*SHARED)
        x = np.sqrt(w) * shared + np.sqrt(1 - w) * _one(n, fs, rng)
        out[k] = x / max(float(np.sqrt(np.mean(x**2))), 1e-12)
    return out


def _one(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """One source: bursts plus transients, of unit RMS."""
    from scipy.signal import butter, sosfiltfilt

    band = sosfiltfilt(butter(2, BAND_HZ, "bandpass", fs=fs, output="sos"), rng.standard_normal(n))
    slow = sosfiltfilt(butter(2, ENVELOPE_HZ, fs=fs, output="sos"), rng.standard_normal(n))
    slow /= max(float(slow.std()), 1e-12)
    bursts = band * np.exp(ENVELOPE_SIGMA * slow)
    bursts /= max(float(np.sqrt(np.mean(bursts**2))), 1e-12)
    jumps = np.zeros(n)
    for at in np.flatnonzero(rng.random(n) < TRANSIENTS_PER_S / fs):
        rise, decay = rng.uniform(*RISE_S), rng.uniform(*DECAY_S)
        t = np.arange(min(n - at, round(5 * decay * fs))) / fs
        shape = (1 - np.exp(-t / rise)) * np.exp(-t / decay)
        if len(t) < 2:  # a jump at the very last sample has no shape yet
            continue
        jumps[at : at + len(t)] += rng.choice((-1.0, 1.0)) * rng.lognormal(0.0, 0.5) * shape / shape.max()
    jumps -= jumps.mean()
    jumps /= max(float(np.sqrt(np.mean(jumps**2))), 1e-12)
    return np.sqrt(1 - TRANSIENT_SHARE) * bursts + np.sqrt(TRANSIENT_SHARE) * jumps
