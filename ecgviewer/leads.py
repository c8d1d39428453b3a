"""Lead names: canonical spelling, aliases, limb-lead derivation and display orders."""

from __future__ import annotations

import re

import numpy as np

STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
LIMB_LEADS = STANDARD_LEADS[:6]

# Cabrera order shows the frontal leads in their anatomical sequence with aVR inverted
# (AHA/ACCF/HRS 2007 Part I endorses it as an alternative display).
CABRERA_LIMB: tuple[tuple[str, int], ...] = (
    ("aVL", 1), ("I", 1), ("aVR", -1), ("II", 1), ("aVF", 1), ("III", 1),
)  # fmt: skip

_ALIASES = {
    "i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF",
    "di": "I", "dii": "II", "diii": "III", "mli": "I", "mlii": "II", "mliii": "III",
    "ml2": "II", "d1": "I", "d2": "II", "d3": "III",
}  # fmt: skip
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
