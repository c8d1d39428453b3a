"""Lead names: canonical spelling, aliases, limb-lead derivation and display orders."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
LIMB_LEADS = STANDARD_LEADS[:6]
FLAT_MV = 0.01  # a lead whose peak-to-peak stays below this carries no ECG (10 uV)

# HUG's lead-system groups (seed-methods.md §2.5) as indices into STANDARD_LEADS, and the pairs
# of groups its second level mixes.
HUG_GROUPS: tuple[tuple[int, ...], ...] = ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9, 10, 11))
HUG_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (0, 2))
HUG_LEAD_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        name: tuple(STANDARD_LEADS[i] for i in idx)
        for name, idx in zip(("limb", "augmented", "precordial"), HUG_GROUPS, strict=True)
    }
)
# Conventional contiguous territories (shared docs, viewer-anchors §3.3); aVR stands alone.
TERRITORIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "inferior": ("II", "III", "aVF"),
        "lateral": ("I", "aVL", "V5", "V6"),
        "septal": ("V1", "V2"),
        "anterior": ("V3", "V4"),
        "aVR": ("aVR",),
    }
)

# Cabrera order shows the frontal leads in their anatomical sequence with aVR inverted
# (AHA/ACCF/HRS 2007 Part I endorses it as an alternative display).
CABRERA_LIMB: tuple[tuple[str, int], ...] = (
    ("aVL", 1), ("I", 1), ("aVR", -1), ("II", 1), ("aVF", 1), ("III", 1),
)  # fmt: skip

_ALIASES = MappingProxyType({
    "i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF",
    "di": "I", "dii": "II", "diii": "III", "mli": "I", "mlii": "II", "mliii": "III",
    "ml2": "II", "d1": "I", "d2": "II", "d3": "III",
})  # fmt: skip
_PREFIX = re.compile(r"^(?:ecg|ekg|lead)[\s_\-:]*", re.IGNORECASE)
_CHEST = re.compile(r"^v([1-6])$", re.IGNORECASE)


def canonical_lead(name: str) -> str:
    """Return the canonical name of a lead (``'AVR'`` -> ``'aVR'``, ``'MLII'`` -> ``'II'``).

    Names that are not one of the 12 standard leads are kept as written (stripped).
    """
    raw = name.strip()
    key = _PREFIX.sub("", raw).replace(" ", "").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    chest = _CHEST.match(key)
    if chest:
        return f"V{chest.group(1)}"
    return raw


def derive_limb_leads(lead_i: np.ndarray, lead_ii: np.ndarray) -> dict[str, np.ndarray]:
    """Einthoven and Goldberger relations: III, aVR, aVL, aVF from I and II."""
    return {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }


def standard_leads(signals: np.ndarray, leads: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Reorder to the 12 standard leads; absent, all-NaN or flat leads become zeros.

    Returns (12, n) float32 with NaNs interpolated, and a bool (12,) "present" mask.
    """
    n = signals.shape[-1]
    out = np.zeros((len(STANDARD_LEADS), n), dtype=np.float32)
    present = np.zeros(len(STANDARD_LEADS), dtype=bool)
    index = {name: i for i, name in enumerate(leads)}
    for k, lead in enumerate(STANDARD_LEADS):
        if lead not in index:
            continue
        x = np.asarray(signals[index[lead]], dtype=np.float32)
        ok = np.isfinite(x)
        if not ok.any():
            continue
        if not ok.all():
            x = np.interp(np.arange(n), np.flatnonzero(ok), x[ok]).astype(np.float32)
        if np.ptp(x) < FLAT_MV:
            continue
        out[k] = x
        present[k] = True
    return out, present
