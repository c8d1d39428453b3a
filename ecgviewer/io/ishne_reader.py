"""ISHNE Holter (.ecg) files, read lazily: a 24 h recording is memory-mapped, never loaded.

Hand-written because no library reads the format lazily (the parsers we know, ecgdatakit's and
ishneholterlib, read every sample into memory). Format: Badilini F., "The ISHNE Holter Standard
Output File Format", Ann Noninvasive Electrocardiol 1998;3(3):263-266. Layout: the magic
``ISHNE1.0``, a CRC-CCITT checksum (uint16) of what follows up to the samples, a fixed 512-byte
header, a variable-length block of free text, then int16 little-endian samples interleaved by lead.
"""

from __future__ import annotations

import binascii
import struct
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType

from ecgviewer.errors import EcgReadError
from ecgviewer.io.registry import Reader, register
from ecgviewer.recording import DeviceReport, Metadata, Recording, age_at, make_recording
from ecgviewer.sources import MemmapSource

MAGIC = b"ISHNE1.0"
ANN_MAGIC = b"ANN  1.0"  # the companion beat-annotation file has the same header
PREFIX = 10  # magic + checksum
HEADER_END = PREFIX + 512  # the variable-length block starts here
MIN_FS, MAX_FS = 50, 100_000
MAX_LEADS = 12
FAULT = -32768  # the sample value the standard proposes for a lead fault: shown as a gap
MAX_TEXT = 65_536  # characters of the variable-length block kept as comments

# The fixed header after the checksum: sizes and offsets, file version, first and last name, ID,
# sex, race, birth / record / file-creation dates (day, month, year), start time (h, m, s), number of
# leads, 12 lead specs, 12 qualities, 12 resolutions (nV), pacemaker code, recorder type, sampling
# rate, proprietary, copyright, reserved.
_HEADER = struct.Struct("<4ih40s40s20s2h3h3h3h3hh12h12h12hh40sh80s80s88s")
assert _HEADER.size == 512

# Table 1 of the standard (lead specification); 0, 1 and -9 name no lead.
LEAD_SPECS = MappingProxyType({
    2: "X", 3: "Y", 4: "Z",
    5: "I", 6: "II", 7: "III", 8: "aVR", 9: "aVL", 10: "aVF",
    11: "V1", 12: "V2", 13: "V3", 14: "V4", 15: "V5", 16: "V6",
    17: "ES", 18: "AS", 19: "AI",
})  # fmt: skip
_UNNAMED = MappingProxyType({-9: "absent", 0: "unknown type", 1: "bipolar"})
# Table 2 (lead quality); 2-5 are worth a warning.
QUALITY = MappingProxyType({
    -9: "absent", 0: "not rated", 1: "good", 2: "intermittent noise", 3: "frequent noise",
    4: "intermittent disconnection", 5: "frequent disconnection",
})  # fmt: skip
PACEMAKER = MappingProxyType({
    0: "none", 1: "unknown type", 2: "single chamber unipolar", 3: "dual chamber unipolar",
    4: "single chamber bipolar", 5: "dual chamber bipolar",
})  # fmt: skip
SEX = MappingProxyType({1: "male", 2: "female"})
RACE = MappingProxyType({1: "caucasian", 2: "black", 3: "oriental"})


def sniff(path: Path, head: bytes) -> bool:
    """An ISHNE ECG file, or its annotation file (claimed so that it is refused by name)."""
    return head[:8] in (MAGIC, ANN_MAGIC)


def _text(raw: bytes) -> str:
    """A fixed-width text field: up to the first NUL, in the standard's 8-bit character set."""
    return "".join(c for c in raw.split(b"\0", 1)[0].decode("latin-1") if c.isprintable()).strip()


def _date(day: int, month: int, year: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # -9 (unknown) or a corrupt field
        return None


def _time(hour: int, minute: int, second: int) -> time | None:
    try:
        return time(hour, minute, second)
    except ValueError:
        return None


def _lead_name(k: int, code: int) -> str:
    if code in LEAD_SPECS:
        return LEAD_SPECS[code]
    return f"lead {k + 1} ({_UNNAMED.get(code, f'code {code}')})"


def _checksum(path: Path, end: int) -> int:
    """CRC-CCITT (polynomial 0x1021, initial 0xFFFF) of bytes 10 to ``end``, read in chunks."""
    crc = 0xFFFF
    with path.open("rb") as fh:
        fh.seek(PREFIX)
        left = end - PREFIX
        while left > 0:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                break
            crc = binascii.crc_hqx(chunk, crc)
            left -= len(chunk)
    return crc


def _n_samples(path: Path, declared: int, held: int, n_leads: int, warnings: list[str]) -> int:
    """Samples per lead: the declared count, checked against what the file holds."""
    if held == 0:
        raise EcgReadError(path, "the file holds no samples after its header")
    if declared <= 0:
        warnings.append(
            f"the header declares no sample count: reading the {held} samples per lead the file holds"
        )
        return held
    if declared <= held:
        if declared < held:
            warnings.append(f"{held - declared} samples per lead after the declared {declared} are ignored")
        return declared
    if n_leads > 1 and declared // n_leads == held:  # some writers store the total over all leads
        return held
    raise EcgReadError(
        path, f"truncated: the header declares {declared} samples per lead, the file holds {held}"
    )


def read(path: Path) -> Recording:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEADER_END)
    if head[:8] == ANN_MAGIC:
        raise EcgReadError(
            path, "this is an ISHNE annotation file (beat labels, no ECG): open the matching .ecg file"
        )
    if head[:8] != MAGIC:
        raise EcgReadError(path, "not an ISHNE Holter file (it lacks the ISHNE1.0 signature)")
    if len(head) < HEADER_END:
        raise EcgReadError(path, f"truncated: {size} bytes, the ISHNE header alone takes {HEADER_END}")
    stored_crc = struct.unpack_from("<H", head, 8)[0]
    f = _HEADER.unpack_from(head, PREFIX)
    var_size, declared, _var_offset, ecg_offset, version = f[:5]
    first, last, patient_id = (_text(b) for b in f[5:8])
    sex, race = f[8:10]
    birth, recorded, created = _date(*f[10:13]), _date(*f[13:16]), _date(*f[16:19])
    start = _time(*f[19:22])
    n_leads, specs, quality, res_nv = f[22], f[23:35], f[35:47], f[47:59]
    pacemaker, recorder, fs, _proprietary, copyright_ = f[59], _text(f[60]), f[61], f[62], _text(f[63])

    if not 1 <= n_leads <= MAX_LEADS:
        raise EcgReadError(
            path, f"the header declares {n_leads} leads (the standard allows 1 to {MAX_LEADS})"
        )
    if not MIN_FS <= fs <= MAX_FS:
        raise EcgReadError(path, f"sampling rate {fs} Hz is outside {MIN_FS}-{MAX_FS} Hz")
    names = [_lead_name(k, specs[k]) for k in range(n_leads)]
    bad = [f"{names[k]} ({res_nv[k]} nV)" for k in range(n_leads) if res_nv[k] <= 0]
    if bad:
        raise EcgReadError(path, "amplitude resolution missing or not positive for " + ", ".join(bad))
    if var_size < 0:
        raise EcgReadError(path, f"the variable-length block has a negative size ({var_size} bytes)")
    data_offset = HEADER_END + var_size  # the standard fixes the layout; ECG-Kit trusts it over the offset
    if data_offset > size:
        raise EcgReadError(
            path, f"truncated: the variable-length block of {var_size} bytes runs past the end of the file"
        )
    warnings: list[str] = []
    if ecg_offset != data_offset:
        warnings.append(
            f"the header puts the samples at byte {ecg_offset}, the layout at {data_offset}: used the latter"
        )
    frame = 2 * n_leads
    held = (size - data_offset) // frame
    n = _n_samples(path, declared, held, n_leads, warnings)
    if (size - data_offset) % frame:
        warnings.append("the file ends in an incomplete sample frame, ignored")

    crc = _checksum(path, data_offset)
    if stored_crc and stored_crc not in (crc, int.from_bytes(crc.to_bytes(2, "little"), "big")):
        warnings.append(
            f"header checksum mismatch (stored {stored_crc:#06x}, computed {crc:#06x}):"
            " the header may be corrupt"
        )
    for k in range(n_leads):
        if 2 <= quality[k] <= 5:
            warnings.append(f"{names[k]}: the recorder rated this lead '{QUALITY[quality[k]]}'")

    meta = Metadata(sex=SEX.get(sex))
    if first or last:
        meta.identifiers["name"] = f"{first} {last}".strip()
    if patient_id:
        meta.identifiers["patient id"] = patient_id
    if birth:
        meta.identifiers["birth date"] = birth.isoformat()
        if recorded and recorded >= birth:
            meta.age = age_at(birth, recorded)
    with path.open("rb") as fh:  # free text: it may name the patient, so it is kept with the identifiers
        fh.seek(HEADER_END)
        comments = _text(fh.read(min(var_size, MAX_TEXT)))
    if comments:
        meta.identifiers["comments"] = comments
    extra = {
        "file version": str(version),
        "race": RACE.get(race),
        "pacemaker": PACEMAKER.get(pacemaker),
        "recorder": recorder,
        "file created": created.isoformat() if created else None,
        "copyright": copyright_,
        "lead quality": ", ".join(
            f"{names[k]} {QUALITY[q]}" for k, q in enumerate(quality[:n_leads]) if q in QUALITY
        ),
    }
    meta.extra = {k: v for k, v in extra.items() if v}
    if recorder and recorder.lower() not in ("analog", "digital"):  # the field often names the model
        meta.device = DeviceReport(device=recorder)

    source = MemmapSource(
        path,
        dtype="<i2",
        n_channels=n_leads,
        n_samples=n,
        offset=data_offset,
        gain=[1.0] * n_leads,
        baseline=[0.0] * n_leads,
        to_mv=[r * 1e-6 for r in res_nv[:n_leads]],
        missing=FAULT,
    )
    return make_recording(
        path,
        source,
        float(fs),
        names,
        "ISHNE Holter",
        start_time=datetime.combine(recorded, start) if recorded and start else None,
        metadata=meta,
        warnings=warnings,
        resolution=tuple(r * 1e-6 for r in res_nv[:n_leads]),
    )


register(Reader("ISHNE", (".ecg",), sniff, read))
