"""``training/reports/README.md``: every generated report listed with the command that writes it, and that
command named in the report's own header, so a reader can find where a figure comes from."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from training.__main__ import build_parser

TRAINING = REPO / "training"
REPORTS = TRAINING / "reports"
INDEX = REPORTS / "README.md"


def _index() -> dict[str, str]:
    """report file -> the command in its row."""
    rows = re.findall(r"^\| \[([\w.-]+\.md)\]\([\w./-]+\.md\) \| ([^|]+) \|", INDEX.read_text(), re.M)
    return {name: cell for name, cell in rows}


def test_every_report_is_listed_with_the_command_its_header_names(capsys: pytest.CaptureFixture) -> None:
    index = _index()
    reports = {p.name for p in REPORTS.glob("*.md")} - {INDEX.name}
    assert set(index) == reports | {"FOLD10.md"}
    assert {p.name for p in TRAINING.glob("*.md")} == {"README.md", "FOLD10.md"}  # no report left outside
    parser = build_parser()
    for name, cell in index.items():
        if name == "FOLD10.md":  # the ledger: appended by the code, not generated
            assert "ledger.py" in cell and "ledger.py" in (TRAINING / name).read_text()
            continue
        (command,) = re.findall(r"`python -m training ([a-z0-9-]+)", cell)[:1]
        with pytest.raises(SystemExit) as known:  # a command that exists prints its help and exits 0
            parser.parse_args([command, "--help"])
        assert known.value.code == 0, (name, command)
        header = "\n".join((REPORTS / name).read_text().splitlines()[:4])
        assert f"python -m training {command}" in header, (name, command)
