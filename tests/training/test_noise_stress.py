"""Issue 74 part 6: EC57's noise stress test on the beat list (``python -m training noise-stress``):
noise mixed at the stated signal-to-noise ratio in the stated stretches, and the command on one
record."""

from __future__ import annotations

import numpy as np
import pytest

from training.validate import noise_stress as NS

FS = 360.0


def test_noise_is_mixed_at_the_stated_ratio_in_alternating_two_minute_stretches():
    n = round(900 * FS)
    t = np.arange(n) / FS
    r = np.arange(round(0.5 * FS), n - round(0.5 * FS), round(FS))  # a beat a second
    signal = np.zeros((2, n))
    for c in r:
        signal[:, c - 5 : c + 5] = [[2.0], [1.0]]  # QRS peak-to-peak 2 and 1 mV
    noise = np.sin(2 * np.pi * 7.0 * t[None, : n // 3]) * [[1.0], [3.0]]  # repeated to the length
    out = NS.mixed(signal, noise, FS, r, 6.0)
    added = out - signal
    assert NS.noisy_stretches(900.0) == [(300.0, 420.0), (540.0, 660.0), (780.0, 900.0)]
    on = (t >= 300) & (t < 420)
    assert not added[:, t < 300].any() and not added[:, (t >= 420) & (t < 540)].any()
    for lead, ptp in enumerate((2.0, 1.0)):
        snr = 10 * np.log10((ptp**2 / 8) / np.mean(added[lead, on] ** 2))
        assert snr == pytest.approx(6.0, abs=0.1)
    assert np.count_nonzero(NS.mixed(signal, noise, FS, r, 6.0, everywhere=True)[0] - signal[0]) > 0.9 * n


def test_the_command_on_one_record(shared, tmp_path):
    from training.__main__ import main

    out = tmp_path / "NOISE_STRESS.md"
    mitdb = str(shared / "mitdb")
    args = ["--records", "119", "--noise", "ma", "--snr", "24", "-6", "--bundled", "--out", str(out)]
    main(["noise-stress", "--mitdb", mitdb, *args])
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| 119 |")]
    assert [r[2].strip() for r in rows] == ["+24", "-6"] and "optimistic" in out.read_text()
    clean, drowned = ([float(c) for c in r[3:5]] for r in rows)
    assert clean[0] > 99.0 and drowned[1] < clean[1]  # QRS +P falls in noise
