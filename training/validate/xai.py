"""``python -m training explain-benchmark``: where the app's explanations point, against the
cardiologists' statements of PTB-XL folds 9 (choices) and 10 (reported).

Every attribution method the app offers is run through the app's own code (``ml.explain``,
``ml.attention``, ``measure``) on the explained class's logit:

- **MI localisation**: records whose MI statements all name one territory family; does the
  top-ranked territory lie in the family's territories?
- **Conduction and hypertrophy**: the share of the positive attribution on the leads where
  CRBBB, CLBBB, LAFB and LVH show.
- **Beats**: in PVC records, do the ectopic beats (the measurement pipeline's beat
  classification) carry more attribution than the others?
- **Sanity**: the MI numbers again for a copy of the model with re-initialised weights.

Per-record results are appended to ``<run-dir>/xai-fold<k>-<model sha>.jsonl`` as they are
computed, so a stopped run resumes; ``xai_report`` turns them into ``XAI.md`` and its figures.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.leads import LIMB_LEADS, STANDARD_LEADS, TERRITORIES
from ecgviewer.ml.reference import FLAT, Reference
from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, RUNS
from training.data import datasets as D

# MI statement families (PTB-XL SCP codes) and the territories (``leads.TERRITORIES``) they name.
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "inferior": (("IMI", "ILMI", "IPMI", "IPLMI"), ("inferior",)),
    "anteroseptal": (("ASMI",), ("septal", "anterior")),
    "anterior": (("AMI",), ("anterior",)),
    "anterolateral": (("ALMI",), ("anterior", "lateral")),
    "lateral": (("LMI",), ("lateral",)),
}
_LATERAL = ("I", "aVL", "V5", "V6")
# Conduction and hypertrophy: statement -> (explained superclass, {lead set name: leads}).
LEAD_COHORTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "CRBBB": ("CD", {"V1-V2": ("V1", "V2"), "I, aVL, V5-V6": _LATERAL}),
    "CLBBB": ("CD", {"V1-V2": ("V1", "V2"), "I, aVL, V5-V6": _LATERAL}),
    "LAFB": ("CD", {"frontal (limb) leads": LIMB_LEADS}),
    "LVH": ("HYP", {"precordial and lateral": ("V1", "V2", "V3", "V4", "V5", "V6", "I", "aVL")}),
}
PVC = "PVC"  # explained as itself (the `all` task's statement)


@dataclass(frozen=True)
class Variant:
    """One way the app can explain: its method, whether the limb leads are shared by the frontal
    axes, and the reference (a flat signal, or the normal beat: ``ml.reference``)."""

    method: str
    frontal: bool = False
    normal: bool = False


# The app's attribution methods as the benchmark runs them; "rollout" is attention rollout
# (class-agnostic, no reference). Occlusion shares no limb lead, so it has no frontal variant.
VARIANTS: dict[str, Variant | None] = {
    "ig": Variant("ig"),
    "ig-frontal": Variant("ig", frontal=True),
    "ig-normal": Variant("ig", normal=True),
    "ig-normal-frontal": Variant("ig", frontal=True, normal=True),
    "gxi": Variant("gxi"),
    "gxi-normal": Variant("gxi", normal=True),
    "gxi-normal-frontal": Variant("gxi", frontal=True, normal=True),
    "occlusion": Variant("occlusion"),
    "occlusion-normal": Variant("occlusion", normal=True),
    "rollout": None,
}
# also run on the re-initialised copy (MI records)
RANDOMISED = ("ig", "ig-normal", "ig-normal-frontal", "occlusion-normal")
# A re-initialised copy is one draw with favourites of its own: its random gradient projects the same
# way onto every record's departure from the reference, so one draw can sit above chance for one
# family and below for another. Chance is judged over several draws; the app's method (Integrated
# Gradients with the normal beat) is run on every seed, the others on seed 0 only (CPU time).
RANDOM_SEEDS = (0, 1, 2, 3, 4)
SEEDED = ("ig-normal", "ig-normal-frontal")
NORMAL_RECORDS = 1000  # NORM records of the training folds averaged into the normal beat
ECTOPIC = ("premature", "other QRS morphology")  # the measurement pipeline's reasons
MATCH_S = 0.06  # a measured beat and a beat token are the same beat when their R peaks are this close


@dataclass(frozen=True)
class Cohorts:
    """Which benchmark questions a record answers."""

    family: str | None  # MI family, when all its MI statements name one
    lead: tuple[str, ...]  # LEAD_COHORTS keys it carries
    pvc: bool


def mi_family(statements: set[str], mi_codes: set[str]) -> str | None:
    """The one family all of a record's MI statements belong to (None: no MI statement, or MI
    statements of several families or of none, such as INJAS or PMI)."""
    mine = statements & mi_codes
    found = {f for f, (codes, _) in FAMILIES.items() if mine & set(codes)}
    covered = set().union(*(FAMILIES[f][0] for f in found)) if found else set()
    return found.pop() if len(found) == 1 and mine <= covered else None


def cohorts(labels: D.Labels, folds: tuple[int, ...]) -> dict[int, Cohorts]:
    """Every record of ``folds`` that answers at least one question, by ecg_id."""
    scp = labels.scp
    mi_codes = {c for c in labels.statements if scp.loc[c, "diagnostic_class"] == "MI"}
    out = {}
    for row in np.flatnonzero(np.isin(labels.fold, folds)):
        have = {s for s, v in zip(labels.statements, labels.y[row], strict=True) if v}
        c = Cohorts(mi_family(have, mi_codes), tuple(k for k in LEAD_COHORTS if k in have), PVC in have)
        if c.family or c.lead or c.pvc:
            out[int(labels.ecg_id[row])] = c
    return out


def _round(a: np.ndarray, digits: int = 6) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


class Bench:
    """The app's model, its randomised copy and the delineator, and what one record yields."""

    def __init__(self, model_file: Path, normal: Reference, ig_steps: int | None = None) -> None:
        from ecgviewer.measure.delineate import Delineator
        from ecgviewer.ml.checks import randomised_copy
        from ecgviewer.ml.infer import Analyzer

        self.normal = normal
        self.analyzer = Analyzer(model_file, device="cpu")
        self.randoms = {seed: randomised_copy(self.analyzer.model, seed) for seed in RANDOM_SEEDS}
        self.delineator = Delineator.bundled()
        self.variants = dict(VARIANTS)  # what each record is explained with
        self.ig_steps = ig_steps  # None: the app's

    def target(self, task: str, code: str):
        from ecgviewer.ml.explain import Target

        return Target(task, code, self.analyzer.classes[task].index(code))

    def record(self, path: Path, c: Cohorts) -> dict:
        """Lead and territory scores of every variant for each question ``c`` asks of the record."""
        from ecgviewer.io import load

        rec = load(path)
        analysis = self.analyzer.analyse(rec)
        out: dict = {"questions": {}}
        if c.family:
            out["questions"]["MI"] = self._scores(analysis, self.target("super", "MI"), profile=True)
            out["mi_statement"] = mi_statement(analysis)
        for code in c.lead:
            superclass = LEAD_COHORTS[code][0]
            if superclass not in out["questions"]:
                out["questions"][superclass] = self._scores(analysis, self.target("super", superclass))
        if c.pvc and PVC in self.analyzer.classes["all"]:
            out["questions"][PVC] = self._scores(analysis, self.target("all", PVC), beats=True)
            out["beats"] = self._beats(rec, analysis)
        return out

    def _scores(self, analysis, target, profile: bool = False, beats: bool = False) -> dict:
        from ecgviewer.ml.attention import attention_maps

        inputs = analysis.inputs
        res: dict = {}
        done: dict = {}  # (model, method, reference) -> the first explanation: its gradient is reused
        for name, how in self.variants.items():
            if how is None:  # attention rollout onto the beats: the lead's total
                roll = attention_maps(self.analyzer.model, inputs).rollout.astype(np.float64)
                leads, per_beat = roll.sum(axis=(0, 2)), roll
                territories = {t: float(leads[_idx(ls)].sum()) for t, ls in TERRITORIES.items()}
            else:
                e = self._explain(self.analyzer.model, inputs, target, how, done)
                leads, per_beat, territories = e.leads, e.beats, e.territories
            res[name] = {
                "leads": _round(leads),
                "territories": {k: round(v, 6) for k, v in territories.items()},
            }
            if beats:
                res[name]["beats"] = _round(per_beat.sum(axis=1))  # (W, 15): over the leads
            if profile and how is not None and how.method == "ig":
                res[name]["profile"] = _round(_profile(e.samples, analysis.tokens.pad), 5)
        if profile:
            res |= self._randomised(inputs, target, randomised_runs(), done)
        return res

    def _randomised(self, inputs, target, runs: list[tuple[str, int]], done: dict) -> dict:
        """The scores of ``runs`` (variant, seed) on the re-initialised copies of the model."""
        out = {}
        for name, seed in runs:
            how = self.variants.get(name)
            if how is not None:
                e = self._explain(self.randoms[seed], inputs, target, how, done)
                out[randomised_name(name, seed)] = {"leads": _round(e.leads), "territories": e.territories}
        return out

    def complete(self, path: Path, row: dict) -> None:
        """Add what an MI row lacks (``incomplete``): randomised scores (``RANDOMISED`` or the seeds
        grew since it was written), the model's own MI statement."""
        from ecgviewer.io import load

        mi = row["questions"]["MI"]
        missing = [(n, s) for n, s in randomised_runs() if randomised_name(n, s) not in mi]
        analysis = self.analyzer.analyse(load(path))
        row["questions"]["MI"] |= self._randomised(analysis.inputs, self.target("super", "MI"), missing, {})
        row["mi_statement"] = mi_statement(analysis)

    def _explain(self, model, inputs, target, how: Variant, done: dict):
        """``how``'s explanation; a frontal variant reuses its plain twin's gradient (``like``)."""
        from ecgviewer.ml.explain import DEFAULT_STEPS, attribute

        key = (id(model), how.method, how.normal)
        like = done.get(key) if how.method != "occlusion" else None
        e = attribute(
            model, inputs, target, how.method, self.ig_steps or DEFAULT_STEPS, frontal=how.frontal,
            reference=self._ref(how),
            like=like,
        )  # fmt: skip
        done.setdefault(key, e)
        return e

    def _ref(self, how: Variant) -> Reference:
        return self.normal if how.normal else FLAT

    def _beats(self, rec, analysis) -> dict:
        """Which beat tokens are ectopic by the measurement pipeline's classification."""
        from ecgviewer.measure.pipeline import measure_recording
        from ecgviewer.ml.placement import token_times

        m = measure_recording(rec, self.delineator)
        ectopic = np.array([why.startswith(ECTOPIC) for why in m.beat_reasons], dtype=bool)
        r_s = token_times(analysis.tokens).r_s  # (W, 15), NaN for empty slots
        label = np.full(r_s.shape, -1, dtype=np.int64)  # -1: no measured beat matched
        for idx in np.argwhere(np.isfinite(r_s)):
            gap = np.abs(m.r_times - r_s[tuple(idx)])
            if gap.size and gap.min() <= MATCH_S:
                label[tuple(idx)] = int(ectopic[int(np.argmin(gap))])
        return {"ectopic": label.tolist()}


def incomplete(row: dict) -> bool:
    """Whether an MI row lacks what ``Bench.complete`` adds."""
    if not row["family"]:
        return False
    mi = row["questions"]["MI"]
    return "mi_statement" not in row or any(randomised_name(n, s) not in mi for n, s in randomised_runs())


def randomised_runs() -> list[tuple[str, int]]:
    """(variant, seed) of every explanation an MI record gets on a re-initialised copy."""
    return [(n, 0) for n in RANDOMISED] + [(n, s) for n in SEEDED for s in RANDOM_SEEDS[1:]]


def randomised_name(variant: str, seed: int = 0) -> str:
    """The results key of ``variant`` on the copy re-initialised with ``seed`` (seed 0 keeps the
    name rows had before there were several seeds)."""
    return f"{variant}-randomised" + (f"-{seed}" if seed else "")


def mi_statement(analysis) -> str | None:
    """The MI statement the model itself finds most probable (the ``all`` task; None without one):
    which infarct the model sees, whatever the attribution then shows."""
    mi = [c for c in analysis.predictions.tasks.get("all", []) if c.group == "MI"]
    return max(mi, key=lambda c: c.probability).code if mi else None


def _idx(leads: tuple[str, ...]) -> list[int]:
    return [STANDARD_LEADS.index(lead) for lead in leads]


def _profile(samples: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """(12, 96): each lead's attribution over a beat, averaged over its real beats, the record
    scaled to unit total |attribution| so that every record weighs the same in a family's mean."""
    real = ~pad  # (W, 12, 15)
    n = np.maximum(real.sum(axis=(0, 2)), 1)[:, None]
    mean = np.where(real[..., None], samples, 0.0).sum(axis=(0, 2)) / n
    total = np.abs(mean).sum()
    return mean / total if total > 0 else mean


def normal_beat(
    root: Path, labels: D.Labels, run_dir: Path, limit: int = NORMAL_RECORDS
) -> tuple[Reference, list[int]]:
    """The normal-beat reference: the mean beat token, per lead, of the first ``limit`` PTB-XL
    records labelled NORM in the training folds (the app's tokeniser; a mean keeps the limb
    leads' linear relations). Computed once per run directory (``normal-beat.json``)."""
    from ecgviewer.io import load
    from ecgviewer.ml import contract

    path = run_dir / "normal-beat.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        return Reference(saved["name"], np.asarray(saved["beat_mv"], dtype=np.float32)), saved["ecg_ids"]
    norm = labels.y[:, labels.statements.index("NORM")].astype(bool) & np.isin(labels.fold, D.TRAIN_FOLDS)
    total, count, used = np.zeros((12, contract.TOKEN_LEN)), np.zeros((12, contract.TOKEN_LEN)), []
    for ecg_id in (int(e) for e in labels.ecg_id[norm]):
        hea = D.ptbxl_record(root, ecg_id).with_suffix(".hea")
        if len(used) == limit or not hea.is_file():
            if len(used) == limit:
                break
            continue
        rec = load(hea)
        tokens = contract.tokenise(rec.signals, rec.fs, rec.leads)
        if tokens.fallback.any() or tokens.missing_leads:
            continue
        filled = ~tokens.pad[..., None] & tokens.support()[:, None]  # (W, 12, 15, 96)
        total += np.where(filled, tokens.values, 0.0).sum(axis=(0, 2))
        count += filled.sum(axis=(0, 2))
        used.append(ecg_id)
    if not used:
        raise SystemExit(f"explain-benchmark: no NORM record of the training folds under {root}")
    beat = (total / np.maximum(count, 1)).astype(np.float32)
    name = f"normal beat (mean of {len(used)} PTB-XL NORM records, training folds)"
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = {"name": name, "beat_mv": _round(beat, 5), "ecg_ids": used}
    atomic_write_bytes(path, json.dumps(saved).encode())
    return Reference(name, beat), used


def results_path(run_dir: Path, fold: int, sha: str, ig_steps: int | None = None) -> Path:
    """A fold's results file; Integrated Gradients steps other than the app's (tests) a file apart."""
    steps = "" if ig_steps is None else f"-ig{ig_steps}"
    return run_dir / f"xai-fold{fold}-{sha[:12]}{steps}.jsonl"


def read_results(path: Path) -> list[dict]:
    """The records done so far; a last line cut short by a stopped run is left out (redone)."""
    lines = path.read_text().splitlines() if path.is_file() else []
    rows = []
    for k, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if k < len(lines) - 1:
                raise
    return rows


def run(
    model_file: Path,
    data_root: Path,
    run_dir: Path,
    folds: tuple[int, ...],
    limit: int | None,
    normal_records: int = NORMAL_RECORDS,
    progress: bool = True,
    ig_steps: int | None = None,
) -> dict[int, Path]:
    """Benchmark the records of ``folds`` (at most ``limit`` per question, in ecg_id order),
    appending to each fold's results file and skipping records already there. One run
    directory keeps one normal-beat reference (``normal_beat``)."""
    from ecgviewer.weights import sha256

    root = D.ptbxl_root(data_root)
    labels = D.load_labels(root)
    run_dir.mkdir(parents=True, exist_ok=True)
    sha = sha256(model_file)
    normal, _ = normal_beat(root, labels, run_dir, normal_records)
    bench: Bench | None = None
    paths = {}
    for fold in folds:
        chosen = _limited(cohorts(labels, (fold,)), limit)
        path = paths[fold] = results_path(run_dir, fold, sha, ig_steps)
        done = {r["ecg_id"] for r in read_results(path)}
        todo = [e for e in chosen if e not in done]
        t0 = time.perf_counter()
        for k, ecg_id in enumerate(todo):
            c = chosen[ecg_id]
            record = D.ptbxl_record(root, ecg_id)
            if not record.with_suffix(".hea").is_file():
                continue
            bench = bench or Bench(model_file, normal, ig_steps)
            row = {"ecg_id": ecg_id, "fold": fold, "family": c.family, "lead": list(c.lead), "pvc": c.pvc}
            row |= bench.record(record.with_suffix(".hea"), c)
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if progress and (k + 1) % 25 == 0:
                rate = (time.perf_counter() - t0) / (k + 1)
                print(f"fold {fold}: {k + 1}/{len(todo)} records, {rate:.2f} s each", flush=True)
        rows = read_results(path)
        if any(incomplete(r) for r in rows):  # rewritten whole, atomically: a stop redoes only this
            bench = bench or Bench(model_file, normal, ig_steps)
            for r in filter(incomplete, rows):
                bench.complete(D.ptbxl_record(root, r["ecg_id"]).with_suffix(".hea"), r)
            atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode())
    return paths


def _limited(chosen: dict[int, Cohorts], limit: int | None) -> dict[int, Cohorts]:
    """At most ``limit`` records per question (MI family, lead cohort, PVC), lowest ecg_ids first."""
    if limit is None:
        return chosen
    counts: dict[str, int] = {}
    kept = {}
    for ecg_id in sorted(chosen):
        c = chosen[ecg_id]
        keys = [*([c.family] if c.family else []), *c.lead, *([PVC] if c.pvc else [])]
        if any(counts.get(k, 0) < limit for k in keys):
            kept[ecg_id] = c
            for k in keys:
                counts[k] = counts.get(k, 0) + 1
    return kept


def fold_arguments(p: argparse.ArgumentParser, name: str, out: str, limit: str) -> None:
    """What the commands that run the app over PTB-XL folds 9 and 10 share (explain-benchmark,
    lead-sets): the model, the data, a resumable run folder ``runs/<name>``, the folds, a limit
    for tests, the generated file ``training/<out>`` and the model card it may write."""
    p.add_argument("--model", type=Path, default=None, help="classifier weights (default: the app's)")
    p.add_argument(
        "--data-root", type=Path, default=None, help="folder with ptbxl/ (default: ../shared/data)"
    )
    p.add_argument("--run-dir", type=Path, default=RUNS / name)
    p.add_argument("--folds", default="9,10", help="fold 9 makes any choice, fold 10 is reported")
    p.add_argument("--limit", type=int, default=None, help=f"{limit} (tests)")
    p.add_argument("--out", type=Path, default=REPORTS / out)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--no-card", dest="card", action="store_false", help="leave the model card alone")


def fold_inputs(args: argparse.Namespace, command: str) -> tuple[Path, Path, tuple[int, ...]]:
    """(model weights, data root, folds) of a ``fold_arguments`` command; no data is an error."""
    from ecgviewer import assets

    data_root = args.data_root or D.default_data_root()
    if data_root is None:
        raise SystemExit(f"{command}: no data root (give --data-root; PTB-XL folds 9 and 10 are needed)")
    return args.model or assets.model_path(), data_root, tuple(int(f) for f in args.folds.split(","))


def arguments(p: argparse.ArgumentParser) -> None:
    fold_arguments(p, "xai", "XAI.md", "at most N records per question")
    p.add_argument("--normal-records", type=int, default=NORMAL_RECORDS,
                   help="NORM records of the training folds averaged into the normal beat")  # fmt: skip
    p.add_argument("--ig-steps", type=int, default=None,
                   help="Integrated Gradients steps (default the app's; fewer for tests)")  # fmt: skip


def cmd_explain_benchmark(args: argparse.Namespace) -> None:
    """Run the explanation benchmark (resumable) and write XAI.md with its figures."""
    from training.validate.xai_report import write_report

    model, data_root, folds = fold_inputs(args, "explain-benchmark")
    paths = run(model, data_root, args.run_dir, folds, args.limit, args.normal_records, args.progress,
                args.ig_steps)  # fmt: skip
    normal = json.loads((args.run_dir / "normal-beat.json").read_text())
    print(write_report(model, paths, args.out, normal, args.card))
