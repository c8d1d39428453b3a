from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.measure.delineate import Delineator
from tests.measure.beat_records import sample_beat


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    return Delineator.bundled()


@pytest.fixture(scope="module")
def beat() -> np.ndarray:
    return sample_beat()
