"""Tables the readers cache and share are read-only: a caller that changed one would change what
every other caller shows (issue 71: a library search once wrote its own words into PTB-XL's
descriptions, and the findings table then read "CLBBB (complete left bundle branch block Complete
left bundle branch block)")."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from ecgviewer import assets
from ecgviewer.io import ishne_reader, ptbxl, tabular, vendor, wfdb_reader, writers
from tests.library.conftest import SAMPLES

TABLES = SAMPLES  # the bundled PTB-XL tree: scp_statements.csv and ptbxl_database.csv


def _mutations(table: Mapping) -> list[Callable[[], object]]:
    key = next(iter(table))
    return [
        lambda: table.__setitem__(key, table[key]),  # type: ignore[attr-defined]
        lambda: table.__setitem__("new", 1),  # type: ignore[attr-defined]
        lambda: table.__delitem__(key),  # type: ignore[attr-defined]
        lambda: table.update({key: 1}),  # type: ignore[attr-defined]
        lambda: table.pop(key),  # type: ignore[attr-defined]
        lambda: table.clear(),  # type: ignore[attr-defined]
    ]


def _ecg_id(table: Mapping) -> int:
    return next(eid for eid, entry in table.items() if entry.get("labels"))


CACHED = {
    "ptbxl.descriptions": lambda: ptbxl.descriptions(TABLES),
    "ptbxl.descriptions (app's tables)": lambda: ptbxl.descriptions(assets.statements_dir()),
    "ptbxl.statement_groups": lambda: ptbxl.statement_groups(TABLES),
    "ptbxl.table": lambda: ptbxl.table(TABLES),
    "ptbxl.table entry": lambda: ptbxl.table(TABLES)[_ecg_id(ptbxl.table(TABLES))],
    "ptbxl.table entry labels": lambda: ptbxl.table(TABLES)[_ecg_id(ptbxl.table(TABLES))]["labels"],
}
VOCABULARIES = {
    "wfdb_reader.UNIT_TO_MV": lambda: wfdb_reader.UNIT_TO_MV,
    "tabular.UNITS": lambda: tabular.UNITS,
    "ishne_reader.LEAD_SPECS": lambda: ishne_reader.LEAD_SPECS,
    "ishne_reader.QUALITY": lambda: ishne_reader.QUALITY,
    "ishne_reader.PACEMAKER": lambda: ishne_reader.PACEMAKER,
    "writers.FORMATS": lambda: writers.FORMATS,
}


@pytest.mark.parametrize("get", [*CACHED.values(), *VOCABULARIES.values()], ids=[*CACHED, *VOCABULARIES])
def test_a_shared_table_cannot_be_changed(get: Callable[[], Mapping]) -> None:
    table = get()
    before = dict(table)
    for mutate in _mutations(table):
        with pytest.raises((TypeError, AttributeError)):
            mutate()
    assert dict(get()) == before


def test_shared_word_sets_are_frozen() -> None:
    for words in (tabular.TIME_COLUMNS, wfdb_reader.NOTE_SYMBOLS, vendor._UNKNOWN):
        assert isinstance(words, frozenset)


def test_descriptions_are_the_csv_and_a_copy_is_the_callers_own() -> None:
    with (TABLES / ptbxl.SCP).open(newline="", encoding="utf-8") as fh:
        on_disk = {row[""]: row["description"] for row in csv.DictReader(fh)}
    assert dict(ptbxl.descriptions(TABLES)) == on_disk
    mine = dict(ptbxl.descriptions(TABLES))
    mine["CLBBB"] += " (edited)"
    assert ptbxl.descriptions(TABLES)["CLBBB"] == on_disk["CLBBB"]


def test_a_recordings_labels_are_its_own(tmp_path: Path) -> None:
    """``attach`` copies the cached labels: editing one recording's labels changes no other."""
    from ecgviewer.io import load

    first = load(SAMPLES / "records500/00000/00008_hr.hea")
    assert first.metadata.labels
    code = next(iter(first.metadata.labels))
    first.metadata.labels[code] = -1.0
    first.metadata.label_descriptions[code] = "edited"
    second = load(SAMPLES / "records500/00000/00008_hr.hea")
    assert second.metadata.labels[code] != -1.0 and second.metadata.label_descriptions[code] != "edited"


def test_the_shared_vocabularies_refuse_a_change():
    """Leads, territories, measurement names, beat and event kinds, the statements' criteria: one
    source of truth each, which no caller can change for the others."""
    from ecgviewer import leads, measurements
    from ecgviewer.measure import statements

    tables = (leads.TERRITORIES, leads.HUG_LEAD_GROUPS, measurements.MEASUREMENTS,
              measurements.FIDUCIAL_NAMES, measurements.BEAT_KINDS, measurements.EVENT_KINDS,
              statements.CRITERIA)  # fmt: skip
    for table in tables:
        for mutate in _mutations(table):
            with pytest.raises((TypeError, AttributeError)):
                mutate()
