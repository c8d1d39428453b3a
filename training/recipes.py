"""``python -m training recipe NAME ARGS...``: the runs of several training commands that sessions
start, kept as data (``training/recipes.toml``) rather than shell scripts, so that a test can check
every command a recipe would run against the command line it is run with (``--dry-run``).

Why by hand: the steps are few kinds (a command, lanes side by side, one step per item, waiting for
another lane's files), and a workflow engine (Snakemake, Nextflow) would be a dependency larger than
the recipes themselves.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ecgviewer.storage import atomic_write_bytes

RECIPES = Path(__file__).resolve().parent / "recipes.toml"
REPO = RECIPES.parent.parent
WAIT_S = 10.0  # how often a `wait` step looks for another lane's files
_VAR = re.compile(r"\{(\w+)\}")


def load(path: Path = RECIPES) -> dict[str, dict]:
    return tomllib.loads(path.read_text())


def variables(recipe: dict, args: list[str], overrides: dict[str, str]) -> dict[str, str]:
    """The recipe's values: its positional ``args`` (``name=default`` optional, ``name...`` the
    rest, joined by spaces), then its ``set`` defaults, then ``overrides``. Too few or too many
    arguments is an error that names them."""
    names = recipe["args"]
    rest = names[-1].endswith("...")
    fixed = names[:-1] if rest else names
    need = sum("=" not in n for n in fixed)
    usage = " ".join(n.split("=")[0].upper() + ("" if "=" not in n else "?") for n in names)
    if len(args) < need + rest or (not rest and len(args) > len(fixed)):
        raise SystemExit(f"usage: python -m training recipe NAME {usage}")
    values: dict[str, str] = {}
    for i, spec in enumerate(fixed):
        name, _, default = spec.partition("=")
        values[name] = args[i] if i < len(args) else expand(default, values)
    if rest:
        values[names[-1].removesuffix("...")] = " ".join(args[len(fixed) :])
    values |= {k: str(v) for k, v in recipe.get("set", {}).items()} | overrides
    return values


def expand(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{name}`` replaced by its value; an unknown name is an error."""

    def one(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"recipe value {{{m.group(1)}}} is not defined")
        return values[m.group(1)]

    return _VAR.sub(one, text)


def command(parts: list, values: dict[str, str], common: list) -> list[str]:
    """A ``run`` step's arguments: "{common}" spliced in, empty values left out, a nested list kept
    only when every value in it is set."""
    out: list[str] = []
    for part in parts:
        if part == "{common}":
            out += command(common, values, [])
        elif isinstance(part, list):
            group = [expand(p, values) for p in part]
            out += group if all(group) else []
        elif value := expand(part, values):
            out.append(value)
    return out


class Runner:
    """Runs (or, ``dry``, prints) a recipe's steps with its values."""

    def __init__(
        self, recipe: dict, values: dict[str, str], dry: bool = False, say: Callable = print
    ) -> None:
        self.recipe, self.values, self.dry, self.say = recipe, values, dry, say
        self.env = os.environ | {k: expand(v, values) for k, v in recipe.get("env", {}).items()}
        self.commands: list[list[str]] = []  # every command run (or, dry, that would be run)

    def steps(self, steps: list[dict], values: dict[str, str], depth: int = 0) -> None:
        for step in steps:
            if "when" in step and not expand(step["when"], values):
                continue
            self.step(step, values, depth)

    def step(self, step: dict, values: dict[str, str], depth: int) -> None:
        pad = "  " * depth
        if "run" in step:
            self.run(command(step["run"], values, self.recipe.get("common", [])), step, values, pad)
        elif "lanes" in step:
            self.say(f"{pad}side by side:")
            self._together([lambda lane=lane: self.steps(lane, values, depth + 1) for lane in step["lanes"]])
        elif "each" in step:
            items = expand(step["each"], values).split()
            bound = [values | split(item, step["as"]) for item in items]
            jobs = [lambda v=v: self.steps(step["steps"], v, depth + 1) for v in bound]
            if expand(str(step.get("parallel", "")), values):
                self.say(f"{pad}side by side, one per item:")
                self._together(jobs)
            else:
                for job in jobs:
                    job()
        elif "wait" in step:
            pattern, count = expand(step["wait"], values), int(step.get("count", 1))
            self.say(f"{pad}wait for {count} of {pattern}")
            while not self.dry and len(_glob(pattern)) < count:
                time.sleep(WAIT_S)
        elif "list" in step:
            pattern, to = expand(step["list"], values), Path(expand(step["to"], values))
            self.say(f"{pad}list {pattern} > {to}")
            if not self.dry:
                atomic_write_bytes(to, "".join(f"{p}\n" for p in _glob(pattern)).encode())
        elif "copy" in step:
            to = Path(expand(step["to"], values))
            files = [Path(expand(f, values)) for f in step["copy"]]
            self.say(f"{pad}copy {' '.join(map(str, files))} to {to}/ (no overwrite)")
            if not self.dry:
                to.mkdir(parents=True, exist_ok=True)
                for f in files:
                    if not (to / f.name).exists():
                        shutil.copy2(f, to / f.name)
        else:
            raise ValueError(f"unknown recipe step {sorted(step)}")

    def run(self, args: list[str], step: dict, values: dict[str, str], pad: str) -> None:
        self.commands.append(args)
        log = Path(expand(step["log"], values)) if "log" in step else None
        out = Path(expand(step["stdout"], values)) if "stdout" in step else None
        self.say(
            f"{pad}python -m training {' '.join(args)}"
            + (f" >> {log}" if log else "")
            + (f" > {out}" if out else "")
        )
        if self.dry:
            return
        cmd = [sys.executable, "-m", "training", *args]
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as fh:
                subprocess.run(cmd, check=True, cwd=REPO, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        else:
            res = subprocess.run(
                cmd, check=True, cwd=REPO, env=self.env, stdout=subprocess.PIPE if out else None
            )
            if out is not None:
                atomic_write_bytes(out, res.stdout)
                self.say(res.stdout.decode(errors="replace"))

    def _together(self, jobs: list[Callable[[], None]]) -> None:
        """The jobs side by side (one after another in a dry run, to print them in order); the
        first failure is raised once all have ended."""
        if self.dry:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(len(jobs)) as pool:
            for f in [pool.submit(job) for job in jobs]:
                f.result()


def split(item: str, pattern: str) -> dict[str, str]:
    """``item`` ("g=clear:release:256x4:25,50") into the names of ``pattern``
    ("name=method:preset:size:epochs"); a missing field is empty."""
    names = re.findall(r"\w+", pattern)
    seps = re.findall(r"[^\w]", pattern)
    fields, rest = [], item
    for sep in seps:
        head, found, rest = rest.partition(sep)
        fields.append(head)
        if not found:
            rest = ""
    fields.append(rest)
    if not fields[0]:
        raise SystemExit(f"{item!r}: expected {pattern}")
    return dict(zip(names, fields, strict=True))


def _glob(pattern: str) -> list[Path]:
    path = Path(pattern)
    return sorted(path.parent.glob(path.name))


def arguments(p: argparse.ArgumentParser) -> None:
    recipes = load()
    p.add_argument(
        "name", choices=sorted(recipes), help="; ".join(f"{k}: {v['about']}" for k, v in recipes.items())
    )
    p.add_argument("args", nargs="*", help="the recipe's arguments (its `args` in training/recipes.toml)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one of its values"
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")


def cmd_recipe(args: argparse.Namespace) -> None:
    """Run a recipe of training/recipes.toml (its commands resume, so it can be started again)."""
    recipe = load()[args.name]
    overrides = dict(kv.split("=", 1) for kv in args.set)
    runner = Runner(recipe, variables(recipe, args.args, overrides), args.dry_run)
    runner.steps(recipe["steps"], runner.values)
