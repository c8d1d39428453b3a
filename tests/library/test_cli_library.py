"""``ecgviewer index`` and ``ecgviewer find``: output, JSON lines, exit codes, one-line errors,
Ctrl-C keeping what was stored."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from ecgviewer.cli import main
from ecgviewer.library import index as indexing
from tests.library.conftest import NAME, PATIENT_ID, write_ecg


def test_index_then_find_as_table_and_json(samples, tmp_path, capsys):
    lib = tmp_path / "lib.sqlite"
    write_ecg(samples / "clinic", "long-qt", qtc=512.0)
    assert main(["index", str(samples), "--db", str(lib), "--identifiers"]) == 0
    out = capsys.readouterr()
    assert f"{samples.resolve()}: 4 recordings found, 4 read, 0 unchanged" in out.out
    assert main(["find", "--db", str(lib), "qtc>480", "sex=F", "--sort", "-age"]) == 0
    out = capsys.readouterr()
    header, row = out.out.splitlines()
    assert re.split(r"\s{2,}", header) == ["date", "format", "age", "sex", "s", "Hz", "leads", "QTc (ms)",
                                           "note", "path"]  # fmt: skip
    assert row.split() == ["2021-03-04", "05:06:07", "WFDB", "71", "F", "10.0", "500", "12", "512",
                           str(samples / "clinic/long-qt.hea")]  # fmt: skip
    assert out.err == "1 of 1 matching recordings shown\n"

    assert main(["find", "--db", str(lib), "dataset=PTB-XL", "--sort=-age", "--limit", "2", "--json"]) == 0
    out = capsys.readouterr()
    found = [json.loads(line) for line in out.out.splitlines()]
    assert [f["record"] for f in found] == ["17", "8"] and out.err == "2 of 3 matching recordings shown\n"
    assert found[0]["statements"][0] == {"source": "labels", "text": "AFLT", "value": 100.0}
    assert (found[0]["now"], found[0]["fold"], found[0]["patient"]) == (None, 9, "13619")

    assert main(["find", "--db", str(lib), "--json", "--limit", "0", "status=any"]) == 0
    text = capsys.readouterr().out
    assert len(text.splitlines()) == 4
    assert NAME not in text and PATIENT_ID not in text  # stored with --identifiers, never shown by find


def test_bad_input_is_one_line_and_exit_2(samples, tmp_path, capsys):
    lib = tmp_path / "lib.sqlite"
    assert main(["find", "--db", str(lib), "age>60"]) == 2
    assert capsys.readouterr().err == (
        f"ecgviewer: error: no library at {lib}: build one with ecgviewer index FOLDER --db {lib}\n"
    )
    assert not lib.exists()
    assert main(["index", str(tmp_path / "nowhere"), "--db", str(lib)]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
    assert main(["index", str(samples), "--db", str(lib)]) == 0
    capsys.readouterr()
    assert main(["find", "--db", str(lib), "qtx>480"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgviewer: error: query term 'qtx>480': unknown name") and err.count("\n") == 1
    assert main(["find", "--db", str(lib), "--sort", "weight"]) == 2
    assert "not a sort key" in capsys.readouterr().err
    assert main(["find", "--db", str(lib), "--limit", "-3"]) == 2
    assert "--limit -3" in capsys.readouterr().err

    lib.write_bytes(b"\x00" * 8192)  # damaged beyond recognition
    assert main(["find", "--db", str(lib), "age>60"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"ecgviewer index FOLDER --db {lib} --rebuild" in err
    assert main(["index", str(samples), "--db", str(lib), "--rebuild"]) == 0
    out = capsys.readouterr()
    assert f"the previous library was moved to {lib}.old" in out.err and "3 read" in out.out


def test_ctrl_c_keeps_what_was_stored_and_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    folder, lib = tmp_path / "export", tmp_path / "lib.sqlite"
    for k in range(5):
        write_ecg(folder, f"ecg{k}")
    real, seen = indexing.registry.load, []

    def load_then_interrupt(path):
        seen.append(path)
        if len(seen) == 2:  # the user presses Ctrl-C while the second file is read
            os.kill(os.getpid(), signal.SIGINT)
        return real(path)

    monkeypatch.setattr(indexing.registry, "load", load_then_interrupt)
    handler = signal.getsignal(signal.SIGINT)
    assert main(["index", str(folder), "--db", str(lib)]) == 130
    out = capsys.readouterr()
    assert "2 read" in out.out and "run the same command again to finish" in out.err
    assert signal.getsignal(signal.SIGINT) == handler  # given back
    monkeypatch.setattr(indexing.registry, "load", real)
    assert main(["index", str(folder), "--db", str(lib)]) == 0
    assert "5 recordings found, 3 read, 2 unchanged" in capsys.readouterr().out


def test_the_commands_in_a_subprocess(samples, tmp_path):
    lib = tmp_path / "lib.sqlite"
    env = {**os.environ, "ECGVIEWER_LIBRARY": str(lib)}  # the default library, moved aside for the test

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ecgviewer", *args], capture_output=True, text=True, env=env, timeout=300
        )

    r = run("index", str(samples))
    assert r.returncode == 0 and lib.is_file(), r.stderr
    r = run("find", "statement=NORM age<40", "--json")
    assert r.returncode == 0 and [json.loads(x)["record"] for x in r.stdout.splitlines()] == ["3"]
    r = run("find", "age<=forty")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "not a number" in r.stderr
    r = run("index", str(samples), "--analyze", "--workers", "2")  # two worker processes
    assert r.returncode == 0 and "analysed 3 (" in r.stdout, r.stderr
    assert "0 could not be analysed" in r.stdout
    r = run("find", "ours.hr>0 finding=NORM>=0", "--json", "--sort", "record")
    assert r.returncode == 0 and [json.loads(x)["record"] for x in r.stdout.splitlines()] == ["17", "3", "8"]
    r = run("index", str(samples), "--analyze")
    assert r.returncode == 0 and "analysed 0 (" in r.stdout and "3 already were" in r.stdout
