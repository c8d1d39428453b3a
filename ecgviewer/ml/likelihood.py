"""A model finding worded with a plain-language likelihood: "likely (0.94)", "possible (0.41)",
"unlikely (0.05)".

A probability alone invites over-reading (is 0.41 a finding or not?), and the decision alone
(p >= the card's F1-optimal threshold) hides how sure the model is. Three words, each with a
measured meaning, sit between them:

- **unlikely**: below the class's threshold (the app's "not found"); on PTB-XL fold 9 few such
  findings carried the cardiologists' label.
- **possible**: at or above the threshold, below the "likely" cut-off.
- **likely**: at or above the threshold and the cut-off, chosen as the smallest on a grid where,
  pooled over every finding the app shows, at least the target share (4 in 5) of fold-9 findings
  so worded carried the label.

The cut-off and its scale come from the model card's ``likelihood`` section, written by
``python -m training likelihood`` (``training/validate/likelihood.py``) on fold 9 only and
reported, with a patient-split check, in ``training/reports/LIKELIHOOD.md``. The command tries the
cut-off on three scales (``SCALES``): the probability itself, the fraction of the way from the
class's threshold to 1, and the log-odds above the threshold; it keeps the one on which "likely"
means the most nearly the same frequency from one class to another on fold 9 (the class-wise
calibration error of "likely"), so the choice is measured, not assumed: thresholds differ a lot
between classes, but where the probabilities are calibrated on their own a plain probability
cut-off (the simplest to explain) means the same thing for every finding. A card without the
section (or one written for other weights) gets no words: findings read as before, "p = 0.94".

No Qt, no torch: the report, the command line and the training share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ecgviewer.errors import EcgError

LIKELY, POSSIBLE, UNLIKELY = "likely", "possible", "unlikely"
WORDS = (LIKELY, POSSIBLE, UNLIKELY)
# The scales a "likely" cut-off may be set on (module docstring); ``score`` defines each.
SCALES = ("probability", "above_threshold", "log_odds")
SECTION = "likelihood"  # the model card's key


@dataclass(frozen=True)
class Bands:
    """Where a positive finding becomes "likely", and where that came from (the card's section)."""

    scale: str  # one of ``SCALES``: what ``likely`` is a cut-off of
    likely: float  # a positive finding whose ``score`` is at least this is "likely"
    target: float  # the pooled fold-9 frequency of the label the "likely" band was chosen to reach
    fold: int  # the PTB-XL fold the cut-off was chosen on (9: the test fold 10 is never read)
    observed: tuple[tuple[str, float, int], ...] = ()  # (word, fold-9 frequency of the label, findings)

    def frequency(self, word: str) -> float | None:
        """The share of fold-9 findings worded ``word`` that carried the label (None: not recorded)."""
        return next((f for w, f, _ in self.observed if w == word), None)

    def summary(self) -> str:
        """One sentence on what the words meant on the fold they were chosen on (a tooltip's)."""
        parts = [f'"{w}" {100 * f:.0f} % of {n}' for w, f, n in self.observed]
        if not parts:
            return (
                f'"likely" was chosen on PTB-XL fold {self.fold} to mean at least {100 * self.target:.0f} %'
            )
        return (
            f"On PTB-XL fold {self.fold}, the cardiologists' label was present in: "
            + "; ".join(parts)
            + " findings"
        )


def score(probability: float, threshold: float, scale: str) -> float:
    """Where ``probability`` lies on ``scale``: itself, the fraction of the way from ``threshold``
    to 1, or its log-odds less the threshold's. The command and the app both use this one."""
    if scale == "probability":
        return probability
    if scale == "above_threshold":
        return (probability - threshold) / (1.0 - threshold) if threshold < 1.0 else 0.0
    if scale == "log_odds":
        return _logit(probability) - _logit(threshold)
    raise ValueError(f"unknown likelihood scale {scale!r}; choose from {', '.join(SCALES)}")


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)  # a probability of exactly 0 or 1 has no finite log-odds
    return math.log(p / (1.0 - p))


def bands_from_card(card: Mapping[str, object] | None) -> Bands | None:
    """The card's ``likelihood`` section as ``Bands``; None without one, or when it was written for
    other weights (a re-exported model keeps no stale words). A malformed section is an error."""
    section = (card or {}).get(SECTION)
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise EcgError(f"model card: the {SECTION!r} section is not an object")
    assert card is not None
    written_for, weights = section.get("weights_sha256"), card.get("weights_sha256")
    if written_for and weights and written_for != weights:
        return None
    try:
        scale, likely = str(section["scale"]), float(section["likely"])
        observed = tuple(
            (w, float(b["frequency"]), int(b["n"]))
            for w in WORDS
            if isinstance(b := (section.get("bands") or {}).get(w), Mapping)
        )
        bands = Bands(scale, likely, float(section["target"]), int(section["fold"]), observed)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EcgError(f"model card: malformed {SECTION!r} section ({exc!r})") from None
    if scale not in SCALES or not math.isfinite(likely):
        raise EcgError(f"model card: {SECTION!r} has scale {scale!r} and cut-off {likely!r}")
    return bands


def word(probability: float, threshold: float | None, bands: Bands | None) -> str | None:
    """ "likely", "possible" or "unlikely" for a finding; None without bands or a threshold (no
    decision, so no word)."""
    if bands is None or threshold is None:
        return None
    if probability < threshold:
        return UNLIKELY
    return LIKELY if score(probability, threshold, bands.scale) >= bands.likely else POSSIBLE


def phrase(probability: float, threshold: float | None, bands: Bands | None) -> str:
    """ "likely (0.94)"; without a word (no bands or no threshold) "p = 0.94", as before."""
    w = word(probability, threshold, bands)
    return f"p = {probability:.2f}" if w is None else f"{w} ({probability:.2f})"
