"""Issue 74 part 6: EC57's noise stress test on the beat list (``python -m training noise-stress``):
noise mixed at the stated signal-to-noise ratio in the stated stretches, and the command on one
record."""

from __future__ import annotations

import re

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


def test_noise_in_one_lead_leaves_the_others_clean():
    clean = np.arange(12.0).reshape(3, 4)
    noisy = clean + 1.0
    out = NS.in_one_lead(noisy, clean, 1)
    assert (out[1] == noisy[1]).all() and (out[[0, 2]] == clean[[0, 2]]).all()
    assert out is not clean and (clean == np.arange(12.0).reshape(3, 4)).all()  # the clean one untouched


def test_the_command_on_one_record(shared, tmp_path, monkeypatch):
    from ecgviewer.assets import delineator_path
    from ecgviewer.measure import rhythm
    from training.__main__ import main

    read_at, analyse = [], rhythm.analyse
    monkeypatch.setattr(
        rhythm, "analyse", lambda rec, *a, **k: read_at.append(rec.fs) or analyse(rec, *a, **k)
    )

    out = tmp_path / "NOISE_STRESS.md"
    mitdb = str(shared / "mitdb")
    args = [
        "--records",
        "119",
        "--noise",
        "ma",
        "--snr",
        "-6",
        "--bundled",
        "--out",
        str(out),
        "--rate",
        "128",
        "--each-lead",
    ]
    main(["noise-stress", "--mitdb", mitdb, *args, "--delineator", str(delineator_path())])  # a comparison's
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| 119 |")]
    assert [(r[1].strip(), r[2].strip()) for r in rows] == [("ma in II only", "-6"), ("ma in V1 only", "-6")]
    assert "optimistic" in out.read_text() and "the other lead left clean" in out.read_text()
    assert "--delineator delineator-ludb.safetensors --rate 128 --each-lead" in out.read_text()
    assert "Each noisy record resampled to 128 Hz" in out.read_text() and read_at == [128.0] * 2
    assert all(float(r[4]) > 90.0 for r in rows)  # QRS +P: one lead's muscle noise invents few beats


def _nst_record(folder, name: str, clean: np.ndarray, noise: np.ndarray, snr: float) -> None:
    """A stand-in for one of the Noise Stress Test Database's test records of 118: the clean
    record with noise in the noisy stretches and nst's shift of the stored zero, its SNR noted."""
    import wfdb

    on = NS._stretches_on(clean.shape[1], FS)
    x = clean + np.where(on, noise, 0.0) + 0.3  # nst's records store the samples shifted
    wfdb.wrsamp(name, fs=FS, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=x.T, fmt=["212", "212"],
                adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(folder),
                comments=[f"Created by `nst' from records 118 and em (SNR = {snr:g} dB)"])  # fmt: skip


def test_em_is_recovered_from_a_test_record_and_remade_at_any_ratio(shared, tmp_path):
    """The noise a test record carries is found again, and scaled by 10^(-SNR/20) it remakes the
    record at another ratio (the check ``em_check`` writes in the report)."""
    import wfdb

    clean = wfdb.rdrecord(str(shared / "mitdb" / "118")).p_signal.T
    t = np.arange(clean.shape[1]) / FS
    rng = np.random.default_rng(0)
    noise = 0.5 * np.sin(2 * np.pi * 1.3 * t) + 0.3 * np.sin(2 * np.pi * 3.7 * t + 1.0)  # motion-like
    noise = noise[None] * [[1.0], [0.6]] + rng.normal(0, 0.05, clean.shape)
    _nst_record(tmp_path, "118e12", clean, noise, 12)
    _nst_record(tmp_path, "118e24", clean, noise / 10 ** (12 / 20), 24)
    em = NS.em_noise(tmp_path, shared / "mitdb")
    assert em.snr_db == 12.0 and em.noise.shape == clean.shape
    assert not em.noise[:, : round(300 * FS)].any()  # nothing in the learning period
    check = NS.em_check(tmp_path, shared / "mitdb", em)
    r, ratio = (re.findall(rf"{w} ([0-9.]+) and ([0-9.]+)", check)[0] for w in ("correlates", "at"))
    assert min(map(float, r)) > 0.99 and all(abs(float(v) - 1) < 0.02 for v in ratio), check
    with pytest.raises(ValueError, match="no SNR"):
        NS._snr_of(["Created by hand"])


def test_the_report_names_whose_settings_class_the_beats():
    assert "classed by the bundled classifier's settings fitted without it" in NS.report([])
    named = NS.report([], classifier="`beats-motion.safetensors`", command="cmd --classifier beats-motion")
    assert "classed by `beats-motion.safetensors`'s settings fitted without it" in named
    found = NS.report([], delineator="`delineator-motion.safetensors`")
    assert "on the beats the delineator `delineator-motion.safetensors` finds" in found


def test_the_sums_per_noise_and_another_run_s_beside_them(tmp_path):
    """The report sums each noise's rows (false ventricular: EC57's VEB +P denominator less its
    true ones), and with another run's saved rows sets theirs before these, on the rows both have."""
    from training.validate.ec57 import Counts

    def row(snr: int, tp_v: int, det_v: int, lead: str | None = None) -> dict:
        c = Counts("119", ref_beats=100, matched=98, ref_v=10, det_v=det_v, tp_v=tp_v, fp_not_v=1,
                   unreadable_s=2.5)  # fmt: skip
        return {
            "record": "119",
            "noise": "em",
            "snr_db": snr,
            "counts": c,
            "invented_in_noise": 3,
            "lead": lead,
        }

    before = [row(12, 9, 20), row(6, 8, 30), row(6, 8, 30, lead="V1")]
    NS.save_counts(tmp_path / "before.json", before)
    again = NS.load_counts(tmp_path / "before.json")
    assert again == before
    alone = NS.report(before)
    assert "| em | 200 | 196 | 6 | 20 | 17 | 31 | 5 |" in alone  # 20 - 1 - 9 + 30 - 1 - 8
    assert "| em in V1 only | 100 | 98 | 3 | 10 | 8 | 21 | 2 |" in alone  # 2.5 s shown whole
    after = [row(12, 9, 15), row(0, 5, 40)]  # the 0 dB row is this run's only
    paired = NS.report(after, against=again)
    assert "on the rows both runs have (1)" in paired
    assert "| em | 100 -> 100 | 98 -> 98 | 3 -> 3 | 10 -> 10 | 9 -> 9 | 10 -> 5 | 2 -> 2 |" in paired
