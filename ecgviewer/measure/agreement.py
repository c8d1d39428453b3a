"""Our measurements beside the acquiring device's own (the file's): where the two differ by more
than an electrocardiograph's interval measurements may, the difference is flagged beside the value
(panel, report, ``analyze --measure``), so that a reader checks the median beat before trusting
either number.

The limits are IEC 60601-2-25's (2011; it took over IEC 60601-2-51:2003's requirements for
automated measurement): on the CSE database's biological ECGs a program's global intervals may
differ from the referees' by a mean within a limit, with a standard deviation under another
(P duration 10 / 15 ms, PR 10 / 10 ms, QRS 10 / 10 ms, QT 25 / 30 ms; the table
``training/validate/measurements.py`` validates the delineator against). Those bound a program over many
recordings; for one recording a difference beyond the mean limit plus one standard deviation is
more than a compliant program's usual error: one of the two measurements is likely off. QTc takes
QT's limit, compared in the device's own formula where the file names it or its QT and RR give it
away. The standard sets no such limit for the heart rate or the axes: they are shown, not flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecgviewer.measure.intervals import QTC_FORMULAS, Measurements, Value

if TYPE_CHECKING:
    from ecgviewer.recording import DeviceReport

STANDARD = "IEC 60601-2-25"
# Mean difference and its standard deviation (ms) allowed on the CSE biological ECGs.
LIMITS_MS: dict[str, tuple[float, float]] = {
    "p": (10.0, 15.0),
    "pr": (10.0, 10.0),
    "qrs": (10.0, 10.0),
    "qt": (25.0, 30.0),
}
FORMULA_MATCH_MS = 3.0  # the device's QTc is this close to a formula applied to its own QT and RR


@dataclass(frozen=True)
class Difference:
    """One value of ours against the device's, and the most the standard lets them differ by."""

    key: str
    ours: float
    device: float
    limit_ms: float
    formula: str | None = None  # QTc: the formula both are compared in

    @property
    def ms(self) -> float:
        return abs(self.ours - self.device)

    @property
    def beyond(self) -> bool:
        return self.ms > self.limit_ms

    def text(self) -> str:
        """ "53 ms from the device's 144 ms: beyond IEC 60601-2-25's 20 ms" (or "within")."""
        side = "beyond" if self.beyond else "within"
        how = f" (both {self.formula})" if self.formula else ""
        limit = f"{STANDARD}'s {self.limit_ms:.0f} ms"
        return f"{self.ms:.0f} ms from the device's {self.device:.0f} ms{how}: {side} {limit}"

    def to_json(self) -> dict:
        return {
            "ours": round(self.ours, 1),
            "device": self.device,
            "difference_ms": round(self.ms, 1),
            "limit_ms": self.limit_ms,
            "beyond_limit": self.beyond,
            **({"formula": self.formula} if self.formula else {}),
            "standard": STANDARD,
        }


def limit_ms(key: str) -> float | None:
    """The largest difference from the device not flagged for measurement ``key`` (QTc as QT),
    None where the standard sets none."""
    mean, sd = LIMITS_MS.get("qt" if key == "qtc" else key, (None, None))
    return None if mean is None or sd is None else mean + sd


def device_formula(device: DeviceReport) -> str | None:
    """The device's QTc formula: as the file names it, else the one that turns the device's own QT
    and RR (or heart rate) into its QTc within ``FORMULA_MATCH_MS``; None if neither tells."""
    if device.qtc_formula in QTC_FORMULAS:
        return device.qtc_formula
    d = device.measurements
    rr = d.get("rr") or (60000.0 / d["hr"] if d.get("hr") else None)
    if rr is None or "qt" not in d or "qtc" not in d:
        return None
    gaps = {name: abs(fn(d["qt"], rr / 1000) - d["qtc"]) for name, fn in QTC_FORMULAS.items()}
    best = min(gaps, key=gaps.__getitem__)
    return best if gaps[best] <= FORMULA_MATCH_MS else None


def differences(m: Measurements, device: DeviceReport | None, formula: str) -> dict[str, Difference]:
    """Each measurement with a limit that both we and ``device`` give, keyed as ``MEASUREMENTS``;
    QTc in the device's formula where known, else in ``formula`` (the one shown beside it)."""
    if device is None:
        return {}
    out = {}
    for key, theirs in device.measurements.items():
        limit = limit_ms(key)
        if limit is None:
            continue
        named = (device_formula(device) or formula) if key == "qtc" else None
        ours: Value | None = m.qtc(named) if named else m.values.get(key)
        if ours is not None and ours.value is not None:
            out[key] = Difference(key, float(ours.value), float(theirs), limit, named)
    return out


def flags(m: Measurements, device: DeviceReport | None, formula: str) -> dict[str, Difference]:
    """The ``differences`` beyond the standard's limit: the ones to flag beside the value."""
    return {k: d for k, d in differences(m, device, formula).items() if d.beyond}
