"""The atrial activity between the QRS-T complexes: flutter's organised waves against
fibrillation's and against none, on synthetic 10 s spans at the delineation contract's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS as LEADS
from ecgviewer.measure import signal
from ecgviewer.measure.atrial_waves import FLUTTER_ORGANISATION, atrial_waves

SECONDS = 10.0


def _span(r_s: np.ndarray, atria: np.ndarray, seconds: float = SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """(leads, n) at ``signal.FS``: a QRS and a T wave at each R (s), ``atria`` (n,) added to II,
    III, aVF and V1; the R samples."""
    t = np.arange(round(seconds * signal.FS)) / signal.FS
    beat = np.zeros_like(t)
    for at in r_s:
        beat += 1.2 * np.exp(-0.5 * ((t - at) / 0.012) ** 2) + 0.3 * np.exp(
            -0.5 * ((t - at - 0.3) / 0.05) ** 2
        )
    x = np.tile(beat, (len(LEADS), 1))
    for lead in ("II", "III", "aVF", "V1"):
        x[LEADS.index(lead)] += atria
    return x.astype(np.float32), np.round(np.asarray(r_s) * signal.FS).astype(int)


def _variable_conduction(cycle_s: float, ratios: tuple[int, ...], seconds: float = SECONDS) -> np.ndarray:
    """R times conducting every 2nd, 3rd or 4th atrial wave in turn (irregular RR intervals),
    each after a conduction time that shortens as more waves are blocked before it (the AV node
    recovers): the waves are not locked to the QRS, as in flutter with variable conduction."""
    delay = {2: 0.24, 3: 0.19, 4: 0.15}
    out, wave, k = [], 0.1, 0
    while (at := wave + delay[ratios[k % len(ratios)]]) < seconds - 0.6:
        out.append(at)
        wave += ratios[k % len(ratios)] * cycle_s
        k += 1
    return np.array(out)


def test_flutter_waves_are_found_at_their_rate_and_organised() -> None:
    t = np.arange(round(SECONDS * signal.FS)) / signal.FS
    sawtooth = 0.15 * (2 * ((t * 5.0) % 1.0) - 1)  # 300 a minute
    x, r = _span(_variable_conduction(0.2, (2, 3, 4, 2, 3)), sawtooth)
    waves = atrial_waves(x, r, np.ones(len(LEADS), bool), LEADS)
    assert waves is not None and waves.flutter
    assert abs(waves.rate_per_min - 300) < 5 and waves.organisation >= FLUTTER_ORGANISATION


def test_a_long_span_is_read_whole() -> None:
    """A minute whose second half is flutter: the periodogram reads all of it, not its first part."""
    t = np.arange(round(60.0 * signal.FS)) / signal.FS
    sawtooth = np.where(t >= 30.0, 0.15 * (2 * ((t * 5.0) % 1.0) - 1), 0.0)
    x, r = _span(_variable_conduction(0.2, (2, 3, 4, 2, 3), 60.0), sawtooth, 60.0)
    waves = atrial_waves(x, r, np.ones(len(LEADS), bool), LEADS)
    assert waves is not None and waves.flutter


def test_fibrillation_waves_and_no_atrial_activity_are_not_flutter() -> None:
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(3)
    n = round(SECONDS * signal.FS)
    fibrillation = sosfiltfilt(
        butter(2, (4.0, 9.0), "bandpass", fs=signal.FS, output="sos"), rng.standard_normal(n)
    )
    fibrillation *= 0.08 / fibrillation.std()
    r_s = np.cumsum(rng.uniform(0.45, 0.95, 20)) - 0.2
    r_s = r_s[(r_s > 0.3) & (r_s < SECONDS - 0.6)]
    for atria in (fibrillation, 0.005 * rng.standard_normal(n)):
        waves = atrial_waves(*_span(r_s, atria), np.ones(len(LEADS), bool), LEADS)
        assert waves is not None and not waves.flutter and waves.organisation < FLUTTER_ORGANISATION


def test_no_reading_without_its_leads_or_beats() -> None:
    t = np.arange(round(SECONDS * signal.FS)) / signal.FS
    x, r = _span(_variable_conduction(0.2, (2, 3)), 0.15 * np.sin(2 * np.pi * 5.0 * t))
    limb_and_v2_only = np.array([lead not in ("II", "III", "aVF", "V1") for lead in LEADS])
    assert atrial_waves(x, r, limb_and_v2_only, LEADS) is None
    assert atrial_waves(x, r[:2], np.ones(len(LEADS), bool), LEADS) is None


def test_ptbxl_18_atrial_flutter_with_variable_conduction_is_stated_as_flutter(shared: Path) -> None:
    """PTB-XL record 18: atrial flutter conducted 2:1 and 3:1 (its report: "vorhofflattern ...
    hf:265"), RR 428-632 ms without a P wave: it read as atrial fibrillation."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.measure.statements import statements

    m = measure_recording(
        load(shared / "ptbxl" / "records100" / "00000" / "00018_lr.hea"), Delineator.bundled()
    )
    said = {s.criterion.code: s for s in statements(m)}
    assert "AFLT" in said and "AFIB" not in said
    assert m.atrial_waves is not None and 250 <= m.atrial_waves.rate_per_min <= 285
    assert said["AFLT"].values["atrial waves"].endswith(f"/min in {m.atrial_waves.lead}")


@pytest.mark.parametrize("ecg_id", [10, 180])
def test_sinus_and_bundle_branch_block_records_are_not_flutter(shared: Path, ecg_id: int) -> None:
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.measure.statements import statements

    m = measure_recording(
        load(shared / "ptbxl" / "records100" / "00000" / f"{ecg_id:05d}_lr.hea"), Delineator.bundled()
    )
    assert "AFLT" not in [s.criterion.code for s in statements(m)]
