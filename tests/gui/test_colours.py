"""Colours that must be told apart stay apart for readers with colour-vision deficiency (issue 25):
each pair is compared after simulating deuteranomaly, protanomaly and tritanomaly at full severity
(Machado, Oliveira & Fernandes 2009, as colorspacious implements it), by its distance in
CAM02-UCS (Luo et al. 2006), where about 1 is just noticeable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from colorspacious import cspace_convert, deltaE

from ecgviewer.gui.annotations import COLOUR as NOTE
from ecgviewer.gui.median_view import DEVICE_INK, EARLIER_INK
from ecgviewer.gui.overlay import HIGHLIGHT
from ecgviewer.render.options import THEMES
from ecgviewer.render.painting import DIVERGING, SEQUENTIAL

DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")
APART = 20.0  # CAM02-UCS distance of two lines or marks told apart at a glance


def _rgb(colour: str) -> np.ndarray:
    h = colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0


def _seen(rgb: np.ndarray, deficiency: str | None) -> np.ndarray:
    if deficiency is None:
        return rgb
    cvd = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    return np.clip(cspace_convert(rgb, cvd, "sRGB1"), 0, 1)


def distance(a: np.ndarray, b: np.ndarray, deficiency: str | None) -> float:
    return float(deltaE(_seen(a, deficiency), _seen(b, deficiency), input_space="sRGB1"))


def test_the_measure_tells_red_from_green_apart_only_for_normal_vision() -> None:
    """The check can fail: a red/green pair collapses for a deuteranomalous reader."""
    red, green = _rgb("#d62728"), _rgb("#2ca02c")
    assert distance(red, green, None) > APART > distance(red, green, "deuteranomaly")


@pytest.mark.parametrize("theme", sorted(THEMES))
@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_paper_colours_stay_apart(theme: str, deficiency: str) -> None:
    """The trace against the paper and its grid; our marks (calipers, fiducials, notes), the
    device's median beat, the earlier ECG's (serial comparison) and the highlighted beat against
    the trace, the paper and each other."""
    t = THEMES[theme]
    pairs = {
        "ink/paper": (t.ink, t.paper),
        "ink/minor grid": (t.ink, t.minor),
        "ink/major grid": (t.ink, t.major),
        "calipers/ink": (t.marks, t.ink),
        "calipers/paper": (t.marks, t.paper),
        "calipers/major grid": (t.marks, t.major),
        "notes/ink": (NOTE, t.ink),
        "notes/paper": (NOTE, t.paper),
        "device median/ink": (DEVICE_INK, t.ink),
        "device median/paper": (DEVICE_INK, t.paper),
        "device median/calipers": (DEVICE_INK, t.marks),
        "earlier ECG/ink": (EARLIER_INK, t.ink),
        "earlier ECG/paper": (EARLIER_INK, t.paper),
        "earlier ECG/major grid": (EARLIER_INK, t.major),  # its view has no calipers, ticks or device
        "highlight/ink": (HIGHLIGHT, t.ink),
        "highlight/paper": (HIGHLIGHT, t.paper),
    }
    close = {
        name: round(d, 1)
        for name, (a, b) in pairs.items()
        if (d := distance(_rgb(a), _rgb(b), deficiency)) < APART
    }
    assert not close, close


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_attribution_maps_keep_their_ends_apart(deficiency: str) -> None:
    """The diverging map's lowering end, neutral middle and raising end, and the sequential
    map's ends, stay distinct."""
    for name, stops in ((DIVERGING, (0.0, 0.5, 1.0)), (SEQUENTIAL, (0.0, 1.0))):
        rgb = pg.colormap.get(name).map(np.array(stops), mode="float")[:, :3]
        for i in range(len(stops)):
            for j in range(i + 1, len(stops)):
                assert distance(rgb[i], rgb[j], deficiency) > APART, (name, stops[i], stops[j])
