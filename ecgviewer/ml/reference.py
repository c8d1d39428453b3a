"""What an explanation compares a recording with, and the explanation settings a model's card
carries (chosen on PTB-XL fold 9 by ``python -m training explain-benchmark``).

Integrated Gradients and occlusion need a reference input that holds no evidence. A flat line
(0 mV everywhere) is the usual choice, but to the bundled model a flat line looks like an
infarct (no R waves), so against it nearly every lead *lowers* the MI logit and the explanation
answers "why less MI than a flat line". A cardiologist compares with a normal ECG: the reference
here is the mean beat of PTB-XL's NORM records in the training folds, per lead, placed on every
beat token's samples. A mean (not a median) keeps Einthoven's and Goldberger's relations, so the
limb leads of the reference stay consistent with one another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.ml import contract
from ecgviewer.ml.inputs import ModelInput

FLAT_NAME = "zeros (flat signal, 0 mV)"


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference input: ``beat`` (12, 96) mV, R at sample 48, laid on every real beat token (None:
    a flat signal)."""

    name: str
    beat: np.ndarray | None = None

    def applies(self, model_input: ModelInput) -> Reference:
        """Itself, or the flat reference where a beat cannot be laid on the input (patch tokens)."""
        return self if self.beat is None or model_input.kind == contract.BEATS else FLAT

    def values(self, model_input: ModelInput) -> np.ndarray:
        """The reference in the model's input layout: each real beat token's filled samples (a
        short beat's empty ends and missing leads stay 0, as in the input itself)."""
        if self.beat is None or model_input.kind != contract.BEATS:
            return np.zeros_like(model_input.values)
        filled = ~model_input.pad[..., None] & model_input.tokens.support()[:, None]  # (W, 12, 15, 96)
        return np.where(filled, self.beat[None, :, None, :], 0.0).astype(np.float32)


FLAT = Reference(FLAT_NAME)


@dataclass(frozen=True)
class Settings:
    """How the app explains with a model: the default method, the reference, whether the limb
    leads' attribution is shared by the frontal axes (``hexaxial``), and how territories are
    ranked (``wording``)."""

    method: str
    reference: Reference
    frontal: bool
    scoring: str

    @classmethod
    def from_card(cls, card: dict | None) -> Settings:
        """The card's ``explanations`` section; a card without one gets Integrated Gradients, the
        flat reference, leads as recorded and summed territories (the app before the benchmark)."""
        x = (card or {}).get("explanations") or {}
        ref = x.get("reference")
        reference = FLAT if not ref else Reference(ref["name"], np.asarray(ref["beat_mv"], dtype=np.float32))
        return cls(x.get("method", "ig"), reference, bool(x.get("frontal", False)), x.get("scoring", "sum"))
