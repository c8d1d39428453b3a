"""A reader never rejects a whole ECG for one field it cannot represent (issue 71): it reads the
waveform, leaves the field out and says so in the recording's warnings, naming the field and the
cause (never a patient identifier).

The reported failure, a Philips Sierra XML 1.04 file refused with "Python integer 2148169007 out of
bounds for int32", comes from ecgdatakit's XLI decoder: it sums a lead's delta codes exactly and
stores int32, where the format's samples are 16-bit and the reference decoders wrap at 16 bits. Its
reproduction therefore changes one lead's compressed data (the waveform, not a header field); the
median beats' duration is the out-of-range field outside the waveform that used to reject the file.
"""

from __future__ import annotations

import base64
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.errors import EcgReadError
from ecgviewer.io import load
from ecgviewer.io.wfdb_reader import AGE_LEFT_OUT
from ecgviewer.io.writers import save
from tests.helpers import synthetic
from tests.io.test_readers import PTBXL_NAMES, ecg_like, write

PHILIPS_104 = "formats/philips_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml"
_WAVEFORMS = re.compile(r"<parsedwaveforms[^>]*>([^<]*)</parsedwaveforms>")


def _philips(shared: Path) -> str:
    return (shared / PHILIPS_104).read_bytes().decode("utf-16")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "derived.xml"
    path.write_bytes(text.encode("utf-16"))
    return path


def _xli_chunk(codes: np.ndarray, start: int) -> bytes:
    """One XLI chunk holding ``codes`` (int16 delta codes): high bytes then low bytes, each byte an
    LZW literal of 10 bits (valid LZW that compresses nothing), after the 8-byte chunk header."""
    words = codes.astype(np.int16).view(np.uint16)
    raw = bytes((words >> 8).astype(np.uint8)) + bytes((words & 0xFF).astype(np.uint8))
    bits = "".join(f"{b:010b}" for b in raw)
    bits += "0" * (-len(bits) % 8)
    body = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return struct.pack("<ihh", len(body), 0, start) + body


def _chunks(blob: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(blob):
        size = struct.unpack_from("<i", blob, at)[0]
        out.append(blob[at : at + 8 + size])
        at += 8 + size
    return out


def _decode_16bit(codes: np.ndarray, start: int) -> np.ndarray:
    """sierraecg's C decoder, line for line, in ``short`` arithmetic: the oracle."""
    out = [int(c) for c in codes]
    wrap = lambda v: (v + 32768) % 65536 - 32768  # noqa: E731
    x, y, last = out[0], out[1], start
    for i in range(2, len(out)):
        z = wrap(2 * y - x - last)
        last = wrap(out[i] - 64)
        out[i], x, y = z, y, z
    return np.array(out)


def test_a_lead_whose_exact_sums_leave_int32_opens(shared: Path, tmp_path: Path) -> None:
    """The reported failure, reproduced: V6's compressed codes replaced by codes whose exact
    second-order sums leave int32. The library alone refuses the file with the reported message;
    the viewer shows it, V6 decoded in 16 bits as the reference decoder does, the other leads as
    they were."""
    text = _philips(shared)
    blob = _WAVEFORMS.search(text).group(1)  # type: ignore[union-attr]
    chunks = _chunks(base64.b64decode(blob))
    assert len(chunks) >= 12  # a chunk per lead, in leadlabels order (V6 the 12th)
    n = 5500  # samples per lead (11 s at 500 Hz)
    codes = np.random.default_rng(71).integers(-32768, 32768, n)
    chunks[11] = _xli_chunk(codes, start=0)
    derived = text.replace(blob, base64.b64encode(b"".join(chunks)).decode())
    path = _write(tmp_path, derived)

    from ecgdatakit.parsing.parsers.sierra_xml import SierraXMLParser

    with warnings.catch_warnings(), pytest.raises(OverflowError, match="out of bounds for int32"):
        warnings.simplefilter("ignore")
        SierraXMLParser().parse(path)

    rec, original = load(path), load(shared / PHILIPS_104)
    assert rec.leads == original.leads and rec.fs == original.fs == 500.0
    m = original.n_samples
    v6 = rec.index("V6")
    np.testing.assert_array_equal(np.delete(rec.signals[:, :m], v6, 0), np.delete(original.signals, v6, 0))
    step_mv = rec.resolution[v6] if rec.resolution else None
    assert step_mv == 5e-3  # the file's 5 uV per step
    expected = (_decode_16bit(codes, 0) * step_mv).astype(np.float32)
    np.testing.assert_allclose(rec.signals[v6], expected[: rec.n_samples], atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ('<waveform duration="2400">', '<waveform duration="2148169007">'),
        ('<waveform duration="2400">', '<waveform duration="99999999999999999999">'),
        ('samplespersec="500"', 'samplespersec="4294967296"'),
    ],
    ids=["duration over 2**31", "duration of 20 digits", "rate of 2**32"],
)
def test_an_out_of_range_median_beat_field_leaves_the_beats_out(
    shared: Path, tmp_path: Path, field: str, value: str
) -> None:
    """A median beat field (outside the rhythm waveform) out of range: the ECG opens without the
    device's median beats, and a warning names what was left out and why."""
    text = _philips(shared)
    derived = text.replace(field, value, 1)
    assert derived != text
    rec, original = load(_write(tmp_path, derived)), load(shared / PHILIPS_104)
    np.testing.assert_array_equal(rec.signals, original.signals)
    assert original.metadata.device is not None and original.metadata.device.median is not None
    assert rec.metadata.device is not None and rec.metadata.device.median is None
    assert rec.metadata.device.statements == original.metadata.device.statements
    notes = [w for w in rec.warnings if "median beats not read" in w]
    assert len(notes) == 1 and "repbeat I" in notes[0], rec.warnings
    assert "ZZDEMOPTONLY" not in " ".join(rec.warnings)


def test_an_edf_birth_date_no_date_can_hold(tmp_path: Path) -> None:
    """EDF+'s patient field with a 20-digit birth year: the recording opens, without an age."""
    rec = synthetic()
    path = save(rec, tmp_path / "x.edf")
    raw = bytearray(path.read_bytes())
    raw[8:88] = b"X F 01-JAN-99999999999999999999 X".ljust(80)
    path.write_bytes(bytes(raw))
    back = load(path)
    np.testing.assert_allclose(back.signals, load(save(rec, tmp_path / "y.edf")).signals)
    assert back.metadata.age is None and back.metadata.sex == "female"
    assert back.metadata.identifiers["birth date"] == "01-JAN-99999999999999999999"


def test_a_wfdb_age_no_patient_has_is_left_out_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path, "aged", ecg_like(1000, 12), PTBXL_NAMES, comments=["Age: 2148169007", "Sex: F"])
    rec = load(path)
    assert rec.metadata.age is None and rec.metadata.extra["age"] == "2148169007"
    assert AGE_LEFT_OUT in rec.warnings and rec.metadata.sex == "female"


@pytest.mark.parametrize(
    ("field", "value", "cause"),
    [
        (
            r"\(-?\d+\)",
            "(99999999999999999999)",
            "lead 'I': baseline 99999999999999999999 is beyond a 64-bit integer",
        ),
        (r"(?<=\.dat )16", "2148169007", "lead 'I': '2148169007' is not a WFDB signal format"),
    ],
    ids=["baseline", "format"],
)
def test_a_wfdb_sample_layout_out_of_range_is_named(
    tmp_path: Path, field: str, value: str, cause: str
) -> None:
    """Fields every sample is read through: refused, but by name, not as wfdb's bare KeyError."""
    path = write(tmp_path, "layout", ecg_like(1000, 12), PTBXL_NAMES)
    lines = path.read_text().splitlines()
    lines[1] = re.sub(field, value, lines[1], count=1)  # lead I's line: "layout.dat 16 22637.37(111)/mV ..."
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EcgReadError) as err:
        load(path)
    assert err.value.cause == cause


def test_an_npy_shape_no_file_holds_is_named(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((12, 1000), np.float32))
    path.with_suffix(".json").write_text('{"fs": 500, "leads": ["I", "II", "III", "aVR", "aVL", "aVF", '
                                         '"V1", "V2", "V3", "V4", "V5", "V6"], "units": "mV"}')  # fmt: skip
    path.write_bytes(path.read_bytes().replace(b"(12, 1000)", b"(12, 99999999999999999999)"))
    with pytest.raises(EcgReadError, match="the header's array shape is not one a file holds"):
        load(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("<LeadSampleCountTotal>600<", "<LeadSampleCountTotal>2148169007<"),
        ("<LeadByteCountTotal>1200<", "<LeadByteCountTotal>99999999999999999999<"),
        ("<LeadSampleSize>2<", "<LeadSampleSize>-2147483649<"),
        ("<SampleExponent>0<", "<SampleExponent>2148169007<"),
        ("<SampleExponent>0<", "<SampleExponent>-2147483649<"),
        ("<SampleBase>500<", "<SampleBase>-1<"),
    ],
    ids=["sample count", "byte count", "sample size", "rate exponent", "rate exponent < 0", "rate base"],
)
def test_a_muse_median_field_out_of_range_leaves_the_beats_out(
    shared: Path, tmp_path: Path, field: str, value: str
) -> None:
    """GE MUSE keeps its median waveform first: the first such field is the median beats'."""
    source = shared / "formats/ge_muse_xml/muse-sinus.xml"
    text = source.read_text(encoding="latin-1")
    assert text.index(field) > text.index("<WaveformType>Median<") and field in text
    path = tmp_path / "derived.xml"
    path.write_text(text.replace(field, value, 1), encoding="latin-1")
    rec, original = load(path), load(source)
    np.testing.assert_array_equal(rec.signals, original.signals)
    assert original.metadata.device is not None and original.metadata.device.median is not None
    assert rec.metadata.device is not None and rec.metadata.device.median is None
    notes = [w for w in rec.warnings if "median beats not" in w]
    assert len(notes) == 1, rec.warnings
    assert set(rec.warnings) == {*notes, *original.warnings}
    assert path.name not in notes[0] and str(tmp_path) not in notes[0]  # a file name may name a patient


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        ("<LeadSampleCountTotal>5000<", "<LeadSampleCountTotal>2148169007<", True),
        ("<LeadByteCountTotal>10000<", "<LeadByteCountTotal>99999999999999999999<", True),
        ("<LeadSampleSize>2<", "<LeadSampleSize>-2147483649<", False),
    ],
    ids=["sample count", "byte count", "sample size"],
)
def test_a_muse_rhythm_lead_field_out_of_range_keeps_the_ecg(
    shared: Path, tmp_path: Path, field: str, value: str, kept: bool
) -> None:
    """Lead I's field in the rhythm waveform out of range: a count that only repeats the stored
    samples is set aside and the lead read from them; a sample size no lead can have leaves lead I
    out. Either way the other leads open as they were, and a note names the lead and the cause."""
    source = shared / "formats/ge_muse_xml/muse-sinus.xml"
    text = source.read_text(encoding="latin-1")
    at = text.index(field, text.index("<WaveformType>Rhythm<"))
    path = tmp_path / "derived.xml"
    path.write_text(text[:at] + text[at:].replace(field, value, 1), encoding="latin-1")
    rec, original = load(path), load(source)
    notes = [w for w in rec.warnings if "rhythm lead I " in w]
    assert len(notes) == 1 and path.name not in notes[0], rec.warnings
    if kept:
        assert rec.leads == original.leads and "read from its 5000 stored samples" in notes[0]
        np.testing.assert_array_equal(rec.signals, original.signals)
    else:
        assert "not read" in notes[0] and "I" not in rec.leads
        for lead in ("II", "V1", "V6"):
            np.testing.assert_array_equal(
                rec.signals[rec.index(lead)], original.signals[original.index(lead)]
            )
