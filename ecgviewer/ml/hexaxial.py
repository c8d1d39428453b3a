"""Attribution on the six limb leads shared out by the frontal plane's lead axes.

III, aVR, aVL and aVF are linear combinations of I and II (Einthoven's and Goldberger's
relations), so a model may read the same evidence from any of them and a gradient attribution
lands on whichever lead the model happened to weight: on aVR, say, for an inferior infarct. The
six limb leads are projections of one frontal-plane heart vector ``v`` onto the hexaxial axes
(I 0°, II 60°, III 120°, aVF 90°, aVL -30°, aVR -150°; the augmented leads scaled by √3/2 in the
equilateral-triangle model). Written here because no ECG or XAI library does this: the gradient is
taken with respect to ``v`` (the chain rule through the six leads, so it no longer depends on
which of them the model read), and each lead gets ``(u·v)(u·g)/3``: the heart vector's
projection on its axis times the gradient's. The six axes are evenly spaced over 180°, so
``Σ u uᵀ = 3 I`` and these shares add up to ``v·g``, exactly the limb leads' total; what the
leads hold beyond one common vector (noise, leads recorded rather than derived) stays on its own
lead. Completeness therefore holds sample by sample.
"""

from __future__ import annotations

import numpy as np

from ecgviewer.leads import LIMB_LEADS

AXES_DEG = {"I": 0.0, "II": 60.0, "III": 120.0, "aVR": -150.0, "aVL": -30.0, "aVF": 90.0}
_GAIN = {"I": 1.0, "II": 1.0, "III": 1.0, "aVR": 3**0.5 / 2, "aVL": 3**0.5 / 2, "aVF": 3**0.5 / 2}
UNIT = np.array([[np.cos(np.radians(AXES_DEG[n])), np.sin(np.radians(AXES_DEG[n]))] for n in LIMB_LEADS])
# x_limb = LEAD_OF_VECTOR @ v: each limb lead as a projection of the frontal heart vector
LEAD_OF_VECTOR = UNIT * np.array([_GAIN[n] for n in LIMB_LEADS])[:, None]
_FIT = np.linalg.pinv(LEAD_OF_VECTOR)  # least-squares heart vector from the six leads
FRAME = float(np.trace(UNIT.T @ UNIT) / 2)  # Σ u uᵀ = FRAME · I (= 3)


def share(x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The limb leads' attribution shared by axis: ``x`` and ``grad`` (6, ...) in the order of
    ``LIMB_LEADS`` (samples and the path-averaged gradient of the explained output). Returns (6, ...),
    summing over the six leads to ``(x * grad).sum(0)``."""
    shape = x.shape
    xf, gf = x.reshape(6, -1).astype(np.float64), grad.reshape(6, -1).astype(np.float64)
    v = _FIT @ xf  # (2, n) heart vector
    g = LEAD_OF_VECTOR.T @ gf  # (2, n) gradient with respect to v
    on_axes = (UNIT @ v) * (UNIT @ g) / FRAME
    own = (xf - LEAD_OF_VECTOR @ v) * gf  # what no common heart vector explains stays on its lead
    return (on_axes + own).reshape(shape)
