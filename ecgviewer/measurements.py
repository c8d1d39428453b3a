"""The measurement vocabulary, written once: each global measurement's key, label and unit in the
order every table shows them, and the fiducials' names. Ours (``measure.intervals``) and the
device's (``DeviceReport.measurements``) use the same keys, so the two sit side by side. Read-only:
every module shares them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

MS, BPM, DEGREES = "ms", "bpm", "\u00b0"


class Quantity(NamedTuple):
    label: str
    unit: str


MEASUREMENTS: Mapping[str, Quantity] = MappingProxyType(
    {
        "hr": Quantity("HR", BPM),
        "rr": Quantity("RR", MS),
        "p": Quantity("P duration", MS),
        "pr": Quantity("PR", MS),
        "qrs": Quantity("QRS", MS),
        "qt": Quantity("QT", MS),
        "qtc": Quantity("QTc", MS),
        "p_axis": Quantity("P axis", DEGREES),
        "qrs_axis": Quantity("QRS axis", DEGREES),
        "t_axis": Quantity("T axis", DEGREES),
    }
)


def unit(key: str) -> str:
    """The unit of a measurement key, QTc per formula (``qtc_bazett``) included."""
    return MEASUREMENTS["qtc" if key.startswith("qtc_") else key].unit


# The median beat's global fiducials, in time order, and their names on screen and paper.
FIDUCIAL_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "p_on": "P on",
        "p_off": "P off",
        "qrs_on": "QRS on",
        "qrs_off": "QRS off",
        "t_on": "T on",
        "t_off": "T off",
    }
)
FIDUCIALS: tuple[str, ...] = tuple(FIDUCIAL_NAMES)

# Every beat of a recording is one of these (the long-recording beat list, ``measure.rhythm``):
# key -> name on screen, in the order the counts are shown. AAMI EC57's classes, with paced
# beats apart and beats that cannot be read named as such.
BEAT_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "normal": "normal",
        "supraventricular": "supraventricular premature",
        "ventricular": "ventricular ectopic",
        "paced": "paced",
        "unreadable": "unreadable",
    }
)
# The events of a recording that the event list jumps to.
EVENT_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "pause": "pause",
        "ventricular run": "ventricular run",
        "supraventricular run": "supraventricular run",
        "ventricular bigeminy": "ventricular bigeminy",
        "ventricular trigeminy": "ventricular trigeminy",
        "supraventricular bigeminy": "supraventricular bigeminy",
        "supraventricular trigeminy": "supraventricular trigeminy",
        "atrial fibrillation": "atrial fibrillation",
        "ventricular fibrillation": "ventricular flutter or fibrillation",
        "unreadable": "unreadable stretch",
    }
)
ALERT_EVENTS = ("ventricular fibrillation",)  # life-threatening: shown in bold in the event list
