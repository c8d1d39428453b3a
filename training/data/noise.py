"""Noise models for delineation: training augmentation and the stated levels of the noise
validation. Synthetic, because the MIT-BIH Noise Stress Test recordings are not in ../shared.

- baseline wander: two sinusoids at 0.05-0.5 Hz (respiration, electrode movement);
- mains hum: a 50 or 60 Hz sinusoid;
- muscle (EMG): Gaussian noise band-passed to 20-100 Hz (surface EMG's main band).
Amplitudes are in mV; all leads get independent draws.
"""

from __future__ import annotations

import numpy as np

# The validation's stated levels (peak amplitude for sinusoids, RMS for EMG), in mV.
LEVELS = {
    "wander": {"amplitude_mv": 0.5, "band_hz": (0.05, 0.5)},
    "mains": {"amplitude_mv": 0.1, "frequency_hz": 50.0},
    "muscle": {"rms_mv": 0.05, "band_hz": (20.0, 100.0)},
}


def wander(shape: tuple[int, ...], fs: float, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(shape[-1]) / fs
    lo, hi = LEVELS["wander"]["band_hz"]
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(2):
        f = rng.uniform(lo, hi, size=(*shape[:-1], 1))
        phase = rng.uniform(0, 2 * np.pi, size=(*shape[:-1], 1))
        out += (amplitude / 2 * np.sin(2 * np.pi * f * t + phase)).astype(np.float32)
    return out


def mains(
    shape: tuple[int, ...], fs: float, amplitude: float, freq: float, rng: np.random.Generator
) -> np.ndarray:
    t = np.arange(shape[-1]) / fs
    phase = rng.uniform(0, 2 * np.pi, size=(*shape[:-1], 1))
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def muscle(shape: tuple[int, ...], fs: float, rms: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    lo, hi = LEVELS["muscle"]["band_hz"]
    sos = butter(4, (lo, min(hi, 0.45 * fs)), btype="bandpass", fs=fs, output="sos")
    x = sosfiltfilt(sos, rng.standard_normal(shape), axis=-1)
    x *= rms / max(float(np.sqrt(np.mean(x**2))), 1e-12)
    return x.astype(np.float32)


def stated(kind: str, shape: tuple[int, ...], fs: float, rng: np.random.Generator) -> np.ndarray:
    """Noise of one kind ("wander", "mains", "muscle" or "all") at the validation's levels."""
    if kind == "all":
        return sum(stated(k, shape, fs, rng) for k in LEVELS)
    if kind == "wander":
        return wander(shape, fs, LEVELS["wander"]["amplitude_mv"], rng)
    if kind == "mains":
        return mains(shape, fs, LEVELS["mains"]["amplitude_mv"], LEVELS["mains"]["frequency_hz"], rng)
    if kind == "muscle":
        return muscle(shape, fs, LEVELS["muscle"]["rms_mv"], rng)
    raise ValueError(f"unknown noise kind {kind!r}")
