"""Issue 73 part 4: the over-read, its history and its storage in the library: every change is
kept (a process killed mid-edit loses nothing committed), the computer's statements stay apart,
``find confirmed=yes`` and ``reader=NAME`` find the confirmed ones, a rebuilt library keeps them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from ecgviewer.errors import EcgError
from ecgviewer.interpretation import Statement, vocabulary
from ecgviewer.library import db, overreads, query
from ecgviewer.overread import UNCONFIRMED, Overread

COMPUTER = (
    Statement("Sinus rhythm", "SR", "Rhythm", "measured: rate 72 bpm"),
    Statement(
        "Complete left bundle branch block",
        "CLBBB",
        "Conduction",
        "model: positive (p = 0.97 \u2265 0.41)",
        likelihood="likely (0.97)",
    ),
)


@pytest.fixture
def recording(tmp_path, sample):
    """A copy of the bundled sample in a folder of its own (the over-read keys on its content)."""
    out = tmp_path / "ecgs"
    out.mkdir()
    for part in sample.parent.glob(sample.stem + ".*"):
        shutil.copy(part, out / part.name)
    return out / sample.name


def test_edits_are_logged_and_an_edit_reopens_a_confirmed_read():
    read = Overread.start(COMPUTER, "Dr A")
    assert read.status() == UNCONFIRMED and not read.edited()
    read.edit("Dr A", 1, "Incomplete left bundle branch block", "ILBBB")
    read.add("Dr A", Statement("Compared with the ECG of 2019, no change"))
    read.remove("Dr A", 0)
    read.confirm("Dr A")
    assert read.confirmed and read.status().startswith("Confirmed by Dr A, ")
    assert [s.text for s in read.statements] == ["Incomplete left bundle branch block",
                                                 "Compared with the ECG of 2019, no change"]  # fmt: skip
    assert [s.origin for s in read.statements] == ["reader", "reader"]
    assert read.computer == COMPUTER  # the proposal is never edited
    assert [e.action for e in read.history] == ["start", "edit", "add", "remove", "confirm"]
    read.move("Dr B", 1, 0)  # a change after signing must be signed again
    assert not read.confirmed and read.status() == "Edited, not confirmed"
    assert [e.action for e in read.history][-2:] == ["reopen", "move"]
    assert read.history[-1].reader == "Dr B"


def test_bad_edits_say_why():
    read = Overread.start(COMPUTER, "Dr A")
    with pytest.raises(EcgError, match="reader's name"):
        read.confirm("  ")
    with pytest.raises(EcgError, match="no statement 5"):
        read.remove("Dr A", 4)
    with pytest.raises(EcgError, match="remove it instead"):
        read.edit("Dr A", 0, " ")
    with pytest.raises(EcgError, match="already statement 1"):
        read.add("Dr A", Statement("sinus rhythm"))
    assert [e.action for e in read.history] == ["start"]  # nothing half-done


def test_the_vocabulary_holds_ptbxl_statements_and_our_criteria():
    words = {s.code: s for s in vocabulary()}
    assert len(words) >= 71
    assert words["CLBBB"].text == "Complete left bundle branch block" and words["CLBBB"].group == "Conduction"
    assert words["AFLT"].group == "Rhythm" and words["IMI"].group == "Morphology"


def test_a_stored_overread_is_found_by_confirmation_and_reader(tmp_path, recording):
    conn = db.open_library(tmp_path / "lib.sqlite")
    sha = overreads.content_sha256(recording)
    assert overreads.load(conn, sha) is None
    read = Overread.start(COMPUTER, "Dr Jane Roe")
    overreads.save(conn, sha, recording, read)  # not indexed yet: listed on the first save
    assert query.find(conn, "confirmed=yes").total == 0
    assert query.find(conn, "confirmed=no").total == 1
    read.remove("Dr Jane Roe", 0)
    read.confirm("Dr Jane Roe")
    overreads.save(conn, sha, recording, read)
    for q in ("confirmed=yes", 'reader="dr jane roe"', "reader~roe"):
        found = query.find(conn, q)
        assert found.total == 1 and found.rows[0].overread.startswith("confirmed by Dr Jane Roe"), q
    assert query.find(conn, "reader~smith").total == 0 and query.find(conn, "confirmed!=yes").total == 0
    with pytest.raises(query.QueryError, match="yes or no"):
        query.find(conn, "confirmed=maybe")
    back = overreads.load(conn, sha)
    assert back is not None
    assert back.statements == read.statements and back.computer == COMPUTER
    assert back.history == read.history and back.confirmed_by == "Dr Jane Roe"
    conn.close()


def test_a_rebuilt_library_keeps_its_overreads(tmp_path, recording):
    path = tmp_path / "lib.sqlite"
    conn = db.open_library(path)
    sha = overreads.content_sha256(recording)
    read = Overread.start(COMPUTER, "Dr A")
    read.confirm("Dr A")
    overreads.save(conn, sha, recording, read)
    conn.close()
    old = db.rebuild(path)
    conn = db.open_library(path)
    assert old is not None and overreads.carry(old, conn) == 1
    assert overreads.load(conn, sha).history == read.history
    conn.close()


def test_an_overread_survives_a_killed_process(tmp_path, recording):
    """A child saves three edits and is killed (SIGKILL) before it can close anything: all three
    are in the library."""
    path = tmp_path / "lib.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal
        from ecgviewer.interpretation import Statement
        from ecgviewer.library import db, overreads
        from ecgviewer.overread import Overread
        conn = db.open_library({str(path)!r})
        sha = overreads.content_sha256({str(recording)!r})
        read = Overread.start([Statement("Sinus rhythm", "SR", "Rhythm")], "Dr K")
        read.add("Dr K", Statement("Left axis deviation", "LAD", "Morphology"))
        overreads.save(conn, sha, {str(recording)!r}, read)
        read.confirm("Dr K")
        overreads.save(conn, sha, {str(recording)!r}, read)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60)
    assert done.returncode == -9
    conn = db.open_library(path)
    read = overreads.load(conn, overreads.content_sha256(recording))
    assert read is not None and read.confirmed_by == "Dr K"
    assert [s.text for s in read.statements] == ["Sinus rhythm", "Left axis deviation"]
    assert query.find(conn, "confirmed=yes reader=dr\\ k").total == 1
    conn.close()


def test_the_command_line_prints_and_finds_a_confirmed_overread(tmp_path, recording, capsys):
    from ecgviewer.cli import main
    from tests.report.reading import flat, pdf_pages

    lib = tmp_path / "lib.sqlite"
    conn = db.open_library(lib)
    read = Overread.start(COMPUTER, "Dr Cli")
    read.edit("Dr Cli", 1, "Incomplete left bundle branch block", "ILBBB")
    read.confirm("Dr Cli")
    overreads.save(conn, overreads.content_sha256(recording), recording, read)
    conn.close()
    pdf = tmp_path / "r.pdf"
    assert (
        main(["report", str(recording), "--out", str(pdf), "--no-ai", "--no-measure", "--db", str(lib)]) == 0
    )
    text = flat(" ".join(t for _, t in pdf_pages(pdf)))
    assert "Confirmed by Dr Cli, " in text and "2. Incomplete left bundle branch block" in text
    assert "Computer interpretation (as proposed)" in text
    assert "2. Complete left bundle branch block \u2014 likely (0.97)" in text  # as proposed, apart
    assert "Behind the computer's statements 1. Sinus rhythm: measured: rate 72 bpm" in text
    capsys.readouterr()
    assert main(["find", "confirmed=yes", "--db", str(lib)]) == 0
    assert "confirmed by Dr Cli" in capsys.readouterr().out
