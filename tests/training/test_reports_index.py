"""``training/REPORTS.md``: every generated report listed with the command that writes it, and that
command named in the report's own header, so a reader can find where a figure comes from."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from training.__main__ import build_parser

TRAINING = REPO / "training"
HAND_WRITTEN = {"README.md", "REPORTS.md"}


def _index() -> dict[str, str]:
    """report file -> the command in its row."""
    rows = re.findall(
        r"^\| \[([\w.-]+\.md)\]\([\w.-]+\.md\) \| ([^|]+) \|", (TRAINING / "REPORTS.md").read_text(), re.M
    )
    return {name: cell for name, cell in rows}


def test_every_report_is_listed_with_the_command_its_header_names(capsys: pytest.CaptureFixture) -> None:
    index = _index()
    reports = {p.name for p in TRAINING.glob("*.md")} - HAND_WRITTEN
    assert set(index) == reports
    parser = build_parser()
    for name, cell in index.items():
        if name == "FOLD10.md":  # the ledger: appended by the code, not generated
            assert "ledger.py" in cell and "ledger.py" in (TRAINING / name).read_text()
            continue
        (command,) = re.findall(r"`python -m training ([a-z-]+)", cell)[:1]
        with pytest.raises(SystemExit) as known:  # a command that exists prints its help and exits 0
            parser.parse_args([command, "--help"])
        assert known.value.code == 0, (name, command)
        header = "\n".join((TRAINING / name).read_text().splitlines()[:4])
        assert f"python -m training {command}" in header, (name, command)
