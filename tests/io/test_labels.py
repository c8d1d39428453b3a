"""Every source's own diagnoses reach the recording (issue 71): LUDB's free-text lines, the
Challenge's ``Dx`` SNOMED CT codes, and a vendor file's statements under the right name (the
device's own, or a physician's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecgviewer.io import load, snomed
from ecgviewer.io.writers import save
from tests.io.test_readers import PTBXL_NAMES, ecg_like, write

LUDB_1 = (  # /work/shared/data/ludb/data/1.hea after "#<diagnoses>:"
    "Rhythm: Sinus bradycardia.",
    "Electric axis of the heart: left axis deviation.",
    "Left ventricular hypertrophy.",
    "Left ventricular overload.",
    "Non-specific repolarization abnormalities: posterior wall.",
)


def test_ludb_diagnoses_with_and_without_a_colon_are_the_report(shared: Path) -> None:
    meta = load(shared / "ludb/data/1.hea").metadata
    assert meta.report == " ".join(LUDB_1)
    assert (meta.age, meta.sex, meta.labels) == (51.0, "female", {})  # labels keep PTB-XL's meaning
    assert "rhythm" not in meta.extra  # the diagnoses are in the report, not twice


def test_ludb_diagnoses_survive_save_as(shared: Path, tmp_path: Path) -> None:
    rec = load(shared / "ludb/data/1.hea")
    back = load(save(rec, tmp_path / "copy.hea")).metadata
    assert back.report == rec.metadata.report and back.extra == rec.metadata.extra


@pytest.mark.parametrize("prefix", ["# Dx:", "#Dx:"])
def test_challenge_dx_codes_are_named_and_unknown_ones_kept(tmp_path: Path, prefix: str) -> None:
    path = write(
        tmp_path, "A0001", ecg_like(1000, 12), PTBXL_NAMES,
        comments=["Age: 74", "Sex: Male", "Dx: 164889003,59118001, 999999999", "Rx: Unknown"],
    )  # fmt: skip
    path.write_text(re.sub(r"^# Dx:", prefix, path.read_text(), flags=re.MULTILINE))
    meta = load(path).metadata
    assert meta.report == (
        "Atrial fibrillation (AF, SNOMED CT 164889003). "
        "Right bundle branch block (RBBB, SNOMED CT 59118001). SNOMED CT 999999999."
    )
    assert meta.extra["dx"] == "164889003,59118001, 999999999" and meta.extra["rx"] == "Unknown"
    assert (meta.age, meta.sex, meta.labels) == (74.0, "male", {})


def test_challenge_record_of_the_shared_data(shared: Path) -> None:
    meta = load(shared / "formats/wfdb_challenge_mat/HR06000.hea").metadata
    assert meta.report == (
        "T wave abnormal (TAb, SNOMED CT 164934002). Sinus rhythm (NSR, SNOMED CT 426783006)."
    )


def test_snomed_table_is_the_challenges_scored_list() -> None:
    assert len(snomed.SCORED) == 30 and len({abbr for _, abbr in snomed.SCORED.values()}) == 30
    assert snomed.statements("426783006,,1") == ["Sinus rhythm (NSR, SNOMED CT 426783006)", "SNOMED CT 1"]


def _muse_overread(shared: Path, tmp_path: Path) -> Path:
    """muse-sinus.xml confirmed by a physician, who changed the first statement: the device's
    original statements are in <OriginalDiagnosis>, the physician's in <Diagnosis>."""
    text = (shared / "formats/ge_muse_xml/muse-sinus.xml").read_text(encoding="latin-1")
    text = text.replace("<Status>UNCONFIRMED</Status>", "<Status>CONFIRMED</Status>")
    said = "".join(
        f"<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>{s}</StmtText></DiagnosisStatement>"
        for s in ("Sinus rhythm", "Otherwise normal ECG")
    )
    original = f"<OriginalDiagnosis><Modality>RESTING</Modality>{said}</OriginalDiagnosis>"
    text = text.replace("</Diagnosis>", "</Diagnosis>" + original, 1)
    path = tmp_path / "confirmed.xml"
    path.write_text(text, encoding="latin-1")
    return path


def test_a_physicians_statements_are_not_shown_as_the_devices(shared: Path, tmp_path: Path) -> None:
    meta = load(_muse_overread(shared, tmp_path)).metadata
    assert meta.device is not None and meta.device.statements == ["Sinus rhythm", "Otherwise normal ECG"]
    assert meta.report is not None and meta.report.startswith("Normal Sinus rhythm. Anterior infarct")
    assert meta.extra["report by"] == "a physician (confirmed)"


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("ge_muse_xml/muse-sinus.xml", "Normal Sinus rhythm"),
        ("philips_xml/129DYPRG.XML", "Sinus bradycardia (rate< 50)"),
        ("hl7_aecg/Example_aECG.xml", "Sinus Rhythm"),
        ("dicom/pydicom_waveform_ecg.dcm", "RITMO SINUSALE"),
    ],
)
def test_the_devices_own_statements_are_read(shared: Path, name: str, first: str) -> None:
    meta = load(shared / "formats" / name).metadata
    assert meta.device is not None and meta.device.statements[0] == first
    assert meta.report is None  # the device's, not a physician's
