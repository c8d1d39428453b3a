"""The run recipes (``training/recipes.toml``, ``python -m training recipe``): runs of an hour or more
on a lent accelerator or the 2 CPU cores, where a typo costs the lease or the session. Every command
a recipe would run must be one the command line accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import recipes as R
from training.__main__ import build_parser

RECIPES = R.load()


def _dry(name: str, args: list[str], overrides: dict[str, str] | None = None) -> list[list[str]]:
    recipe = RECIPES[name]
    runner = R.Runner(recipe, R.variables(recipe, args, overrides or {}), dry=True, say=lambda _: None)
    runner.steps(recipe["steps"], runner.values)
    return runner.commands


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_command_of_a_recipe_is_one_the_command_line_accepts(name: str) -> None:
    recipe = RECIPES[name]
    assert recipe["about"] and recipe["example"]
    commands = _dry(name, recipe["example"])
    assert commands
    parser = build_parser()
    for args in commands:
        parser.parse_args(args)  # an unknown command or option exits


def test_the_recipes_that_replaced_the_shell_scripts() -> None:
    gpu = {"gpu-session", "gpu-ssl", "gpu-objectives", "gpu-scaling"}
    assert set(RECIPES) >= gpu | {"cpu-gain", "cpu-jepa", "cpu-scaling"}
    assert not list(R.RECIPES.parent.glob("*.sh"))


def test_specs_conditions_and_arguments() -> None:
    """One scaling run per spec, ``--size`` only where the spec gives one; the candidate's export
    and choice only when asked for; too few arguments name the recipe's usage."""
    runs = _dry("cpu-scaling", ["D", "C", "R", "n", "clear::8,16", "jepa:64x4:15"])
    scaling = [c for c in runs if c[0] == "scaling"]
    assert len(scaling) == 2 and "--size" not in scaling[0]
    assert scaling[1][scaling[1].index("--size") + 1] == "64x4" and "jepa" in scaling[1]
    assert [c[0] for c in runs] == ["scaling", "keep", "scaling", "keep"]
    plain = [c[0] for c in _dry("cpu-gain", ["D", "C", "R", "g48"])]
    asked = [c[0] for c in _dry("cpu-gain", ["D", "C", "R", "g48"], {"candidate": "1"})]
    assert "choose" not in plain and asked.count("choose") == 1 and asked.count("keep") == 2
    assert [c[0] for c in _dry("cpu-gain", ["D", "C", "R", "g48"], {"other_tasks": ""})].count("grid") == 1
    with pytest.raises(SystemExit, match="DATA CACHE RUN NAME SPECS"):
        R.variables(RECIPES["cpu-scaling"], ["D", "C", "R", "n"], {})
    with pytest.raises(SystemExit, match=r"PACK RUN CACHE\?"):
        R.variables(RECIPES["gpu-session"], ["P", "R", "C", "extra"], {})
    assert R.variables(RECIPES["gpu-session"], ["P", "R"], {})["cache"] == "R/cache"
    folds = _dry("cpu-delineator-folds", ["D", "R", "3", "4"])
    assert [c[0] for c in folds] == ["delineator", "delineator", "measurements", "measurements"] * 2
    assert folds[5][folds[5].index("--teachers") + 1] == "R/ludb12" and folds[5][-1] == "4"
    assert folds[3][-2:] == ["--keep", "training/run-logs/delineator-folds/ludb12-distilled4"]


def test_a_recipe_runs_its_lanes_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run for real: one lane writes a command's output whole, the other waits for that file, lists
    it and copies it without overwriting; a log is appended to."""
    recipe = {
        "args": ["out"],
        "steps": [
            {"lanes": [
                [{"run": ["pack", "--help"], "stdout": "{out}/help.txt"}],
                [{"wait": "{out}/help*.txt"}, {"list": "{out}/help*.txt", "to": "{out}/listed.txt"},
                 {"copy": ["{out}/help.txt"], "to": "{out}/copies"}],
            ]},
            {"run": ["ship", "--help"], "log": "{out}/logs/ship.log"},
        ],
    }  # fmt: skip
    said: list[str] = []
    runner = R.Runner(recipe, R.variables(recipe, [str(tmp_path)], {}), say=said.append)
    monkeypatch.setattr(R, "WAIT_S", 0.1)
    runner.steps(recipe["steps"], runner.values)
    assert "usage: python -m training pack" in (tmp_path / "help.txt").read_text()
    assert (tmp_path / "listed.txt").read_text() == f"{tmp_path / 'help.txt'}\n"
    assert (tmp_path / "copies" / "help.txt").read_bytes() == (tmp_path / "help.txt").read_bytes()
    assert "usage: python -m training ship" in (tmp_path / "logs" / "ship.log").read_text()
    assert any(s.startswith("side by side") for s in said)
