"""Every beat read (issue 71): does reading a fast rhythm's further beats change what the shipped
model finds on PTB-XL?

The model was trained on each record's first 15 beats (``contract``: the first window of a 10 s
tile); the app now reads the further beats of a fast rhythm in further windows and averages the
windows' probabilities. This module tokenises every record of a fold exactly as the app does,
keeps each window's probabilities (float16, compressed, in ``training/run-logs/every-beat``), and
compares the ways of reading them, paired on the same records with a plain record bootstrap:
``first`` (the first window only: the card's figures and the app before), ``beats`` (windows
weighted by their beats: ``contract.window_weights``, what the app does) and ``mean`` (windows
weighted equally). The choice is made on fold 9; fold 10 is read only to report the chosen way,
and each read is written to the ledger (``training/data/ledger.py``).

A model trained under an earlier contract (``contract.READS_ALSO``) is also compared with itself
read under the contract it was trained with, whose window probabilities stay kept: both read
every beat (``beats``), paired on the same records. The rule, fixed before fold 9 was read: the
app reads the model under the new contract when no task is worse on fold 9 with an interval that
excludes zero. The figures go into the model card (``card_section``).

A model retrained under this contract is compared with the shipped one (``--against``), both
read every beat under this contract, paired on the same records. The rule, fixed before fold 9
was read (``ships``): the candidate ships when no task's difference on fold 9 has an interval
wholly below zero and the ``super`` difference is not negative. Where the shipped model was
trained under an earlier contract, the candidate is also compared with it as its card reports it
(``as_shipped``: that contract, the first window), the figures the candidate replaces.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ecgviewer.leads import canonical_lead
from ecgviewer.ml import contract
from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, RUN_LOGS
from training.data import datasets as D
from training.validate import metrics as M

WAYS = ("first", "beats", "mean")
TASKS = ("super", "sub", "diag", "form", "rhythm", "all")
LOGS = RUN_LOGS / "every-beat"


def _windows(path: str) -> tuple[np.ndarray, ...] | str:
    """All windows of one WFDB record as the app tokenises it: values, pad, local R-peaks."""
    import wfdb

    try:
        rec = wfdb.rdrecord(path)
        leads = [canonical_lead(n) for n in rec.sig_name]
        x, present = contract.prepare(rec.p_signal.T, rec.fs, leads)
        tok = contract.tokenise_prepared(x, present, rec.fs)
    except Exception as exc:  # reported and skipped, as the token cache does
        return f"{Path(path).name}: {exc}"
    return tok.values, tok.pad, tok.local_rpeaks


def window_probabilities(model_file: Path, root: Path, ids: np.ndarray, workers: int = 2) -> dict:
    """Every window's probabilities per task for the PTB-XL records ``ids``: ``record`` (W,) the
    record index of each window, ``beats`` (W,) its beats, and one (W, C) float16 array a task."""
    import torch

    from ecgviewer.ml.bundle import load_model

    model = load_model(model_file).model.eval()
    paths = [str(D.ptbxl_record(root, int(e))) for e in ids]
    record, beats, probs = [], [], []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, res in enumerate(pool.map(_windows, paths, chunksize=16)):
            if isinstance(res, str):
                raise RuntimeError(res)
            values, pad, rpeaks = (torch.from_numpy(a) for a in res)
            with torch.inference_mode():
                out = model(values, pad, rpeaks)
            record += [i] * len(values)
            beats += (rpeaks >= 0).sum(1).tolist()
            probs.append({t: torch.sigmoid(v).numpy() for t, v in out.items()})
    tasks = {t: np.concatenate([p[t] for p in probs]).astype(np.float16) for t in probs[0]}
    return {"record": np.asarray(record), "beats": np.asarray(beats), "ecg_id": ids, **tasks}


def combine(kept: dict, task: str, way: str) -> np.ndarray:
    """(N, C) record probabilities of ``task`` read the given way from the kept windows."""
    p, rec = kept[task].astype(np.float64), kept["record"]
    n = len(kept["ecg_id"])
    if way == "first":
        first = np.searchsorted(rec, np.arange(n))
        return p[first]
    w = kept["beats"].astype(np.float64) if way == "beats" else np.ones(len(rec))
    total = np.bincount(rec, w, minlength=n)
    return (
        np.stack([np.bincount(rec, w * p[:, k], minlength=n) for k in range(p.shape[1])], 1) / total[:, None]
    )


def task_probabilities(kept: dict, labels: D.Labels, task: str, way: str) -> np.ndarray:
    """(N, C) probabilities of ``task``: its own head, else read from the 71-statement head as the
    training evaluation scores a model with only an ``all`` head (``Labels.aggregate``)."""
    if task in kept:
        return combine(kept, task, way)
    return labels.aggregate(task, combine(kept, "all", way))[1]


def _iter_tasks(kept: dict, labels: D.Labels) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(task, labelled rows, targets) for each task, over the records with a label of that task."""
    row_of = {int(e): i for i, e in enumerate(labels.ecg_id)}
    rows = np.array([row_of[int(e)] for e in kept["ecg_id"]])
    for task in TASKS:
        _, y = labels.task(task)
        y = y[rows]
        keep = y.any(axis=1)
        yield task, keep, y[keep].astype(np.float32)


def compare(kept: dict, labels: D.Labels, against: str = "first", n_boot: int = 1000) -> dict:
    """Per task: each way's macro AUROC and its paired difference from ``against`` (plain record
    bootstrap, the same draws for every way)."""
    out: dict = {}
    for task, keep, y in _iter_tasks(kept, labels):
        ps = {way: task_probabilities(kept, labels, task, way)[keep] for way in WAYS}
        row = {"n": len(y), "fast": int(_fast(kept)[keep].sum())}
        for way in WAYS:
            row[way] = M.macro(y, ps[way])[0]
            if way != against:
                row[f"{way}-{against}"] = M.paired_bootstrap(y, [ps[way]], [ps[against]], n_boot)
        out[task] = row
    return out


def compare_kept(new: dict, old: dict, labels: D.Labels, n_boot: int = 1000, old_way: str = "beats") -> dict:
    """Per task: macro AUROC read every beat (``beats``) from two sets of window probabilities
    (two contracts, or two models; the old one read ``old_way``) and the paired difference (plain
    record bootstrap)."""
    if not np.array_equal(new["ecg_id"], old["ecg_id"]):
        raise ValueError("the two window probabilities cover different records")
    out = {}
    for task, keep, y in _iter_tasks(new, labels):
        p_new = task_probabilities(new, labels, task, "beats")[keep]
        p_old = task_probabilities(old, labels, task, old_way)[keep]
        diff = M.paired_bootstrap(y, [p_new], [p_old], n_boot)
        out[task] = {"n": len(y), "new": M.macro(y, p_new)[0], "old": M.macro(y, p_old)[0], "diff": diff}
    return out


def _fast(kept: dict) -> np.ndarray:
    """(N,) whether a record has more than one window (more than 15 beats in its 10 s)."""
    return np.bincount(kept["record"], minlength=len(kept["ecg_id"])) > 1


def save(kept: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **kept)


def load(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def table(results: dict, against: str = "first") -> str:
    """A markdown table of ``compare``'s results."""
    head = (
        "| task | records | >15 beats | "
        + " | ".join(WAYS)
        + " | "
        + " | ".join(f"{w} - {against}" for w in WAYS if w != against)
    )
    lines = [head + " |", "|" + "---|" * (3 + len(WAYS) + len(WAYS) - 1)]
    for task, r in results.items():
        diffs = [r[f"{w}-{against}"] for w in WAYS if w != against]
        cells = [f"{r[w]:.4f}" for w in WAYS] + [
            f"{d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}]" for d in diffs
        ]
        lines.append(f"| {task} | {r['n']} | {r['fast']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _diff_rows(tasks: dict) -> list[str]:
    """``compare_kept``'s rows as table lines."""
    return [
        f"| {t} | {r['n']} | {r['old']:.4f} | {r['new']:.4f} | {r['diff']['auroc']:+.4f} "
        f"[{r['diff']['auroc_ci'][0]:+.4f}, {r['diff']['auroc_ci'][1]:+.4f}] |"
        for t, r in tasks.items()
    ]


def contract_table(c: dict) -> str:
    """The model read under this contract against the contract it was trained with."""
    head = (
        f"Read under contract {c['read']} ({contract.READS_ALSO.get(c['trained'], '')}) against contract "
        f"{c['trained']}, which the model was trained with; every beat read, beats-weighted:\n\n"
        f"| task | records | contract {c['trained']} | contract {c['read']} | difference |\n"
        "|---|---|---|---|---|"
    )
    return "\n".join([head, *_diff_rows(c["tasks"])])


def against_table(a: dict) -> str:
    """The model against the shipped one, both read every beat under this contract."""
    head = (
        f"Against `{a['model']}` ({a['sha256'][:12]}), both read every beat under contract "
        f"{contract.CONTRACT_VERSION}, beats-weighted:\n\n"
        f"| task | records | `{a['model']}` | this model | difference |\n|---|---|---|---|---|"
    )
    lines = [head, *_diff_rows(a["tasks"])]
    if "as_shipped" in a:
        c = a["as_shipped"]["contract"]
        lines += [
            "",
            f"Against `{a['model']}` as its card reports it (contract {c}, which it was trained with, "
            "first window), this model read every beat under contract "
            f"{contract.CONTRACT_VERSION}, beats-weighted:\n",
            f"| task | records | `{a['model']}` (contract {c}, first window) | this model | difference |",
            "|---|---|---|---|---|",
            *_diff_rows(a["as_shipped"]["tasks"]),
        ]
    return "\n".join(lines)


def ships(tasks: dict) -> bool:
    """The module's rule for a retrained candidate (``compare_kept`` rows on fold 9): no task's
    interval wholly below zero, and ``super`` not worse."""
    return all(r["diff"]["auroc_ci"][1] >= 0 for r in tasks.values()) and tasks["super"]["diff"]["auroc"] >= 0


def card_section(logs: Path = LOGS) -> dict:
    """What the model card says of the contract the app reads the model under: each kept fold's
    comparison (fold 9 chose; fold 10 was read once)."""
    out = {}
    for fold in (D.VAL_FOLD, D.TEST_FOLD):
        path = logs / f"fold{fold}.json"
        if path.is_file() and "contract" in (res := json.loads(path.read_text())["results"]):
            c = res["contract"]
            out |= {"version": c["read"], "change": contract.READS_ALSO.get(c["trained"], "")}
            out[f"fold{fold}"] = {
                t: {"auroc": r["new"], "trained_contract": r["old"], "difference": r["diff"]["auroc"],
                    "difference_ci": r["diff"]["auroc_ci"]}
                for t, r in c["tasks"].items()
            }  # fmt: skip
    return out


def update_card(model_file: Path, logs: Path = LOGS) -> bool:
    """Put ``card_section`` into the model's card (JSON and Markdown) once fold 10 is read."""
    from ecgviewer.weights import read_card, write_card
    from training.supervised.card import markdown

    section, card = card_section(logs), read_card(model_file)
    if card is None or f"fold{D.TEST_FOLD}" not in section:
        return False
    new = card | {"contract": card["contract"] | {"read_under": section}}
    write_card(model_file, new, markdown(new))
    return True


def run(
    model_file: Path,
    data_root: Path,
    split: str,
    workers: int = 2,
    n_boot: int = 1000,
    logs: Path = LOGS,
    limit: int | None = None,
    against: Path | None = None,
) -> tuple[dict, Path]:
    """Keep (or reuse) the fold's window probabilities and compare the ways of reading them; with
    ``against``, compare with that model too (its window probabilities kept or reused the same way)."""
    from ecgviewer.weights import sha256

    root = D.ptbxl_root(data_root)
    labels = D.load_labels(root)
    fold = D.VAL_FOLD if split == "val" else D.TEST_FOLD
    digest = sha256(model_file)

    def kept_for(model: Path) -> tuple[dict, Path]:
        path = kept_path(logs, fold, sha256(model), contract.CONTRACT_VERSION, limit)
        if path.is_file():
            return load(path), path
        ids = labels.ecg_id[labels.fold == fold]
        ids = np.array([e for e in ids if D.ptbxl_record(root, int(e)).with_suffix(".hea").is_file()])
        kept = window_probabilities(model, root, ids[:limit], workers)
        save(kept, path)
        return kept, path

    kept, path = kept_for(model_file)
    results = compare(kept, labels, n_boot=n_boot)
    trained = trained_contract(model_file)
    older = kept_path(logs, fold, digest, trained, limit)
    if trained != contract.CONTRACT_VERSION and older.is_file():
        results["contract"] = {"trained": trained, "read": contract.CONTRACT_VERSION,
                               "tasks": compare_kept(kept, load(older), labels, n_boot)}  # fmt: skip
    if against is not None:
        tasks = compare_kept(kept, kept_for(against)[0], labels, n_boot)
        results["against"] = {"model": against.name, "sha256": sha256(against), "tasks": tasks}
        shipped = as_shipped(against, fold, logs, limit)
        if shipped is not None:
            version, old = shipped
            results["against"]["as_shipped"] = {
                "contract": version,
                "tasks": compare_kept(kept, old, labels, n_boot, old_way="first"),
            }
    if split == "test":
        from training.data.ledger import record

        for task, r in compare_tasks(results).items():
            what = (
                f"{model_file.name}, contract {contract.CONTRACT_VERSION}, every window weighted by its "
                f"beats (first window alone {r['first']:.4f})"
            )
            record(digest, task, f"macro AUROC {r['beats']:.4f}", what)
        a = results.get("against", {})
        for task, r in a.get("tasks", {}).items():
            what = f"{against.name if against else ''}, contract {contract.CONTRACT_VERSION}, beats-weighted"
            record(a["sha256"], task, f"macro AUROC {r['old']:.4f}", what)
        for task, r in a.get("as_shipped", {}).get("tasks", {}).items():
            what = f"{against.name if against else ''}, contract {a['as_shipped']['contract']}, first window"
            record(a["sha256"], task, f"macro AUROC {r['old']:.4f}", what)
    return results, path


def as_shipped(model_file: Path, fold: int, logs: Path, limit: int | None) -> tuple[str, dict] | None:
    """A model trained under an earlier contract as its card reports it: the contract it was trained
    with, its window probabilities kept here or in the module's folder (None when not kept)."""
    from ecgviewer.weights import sha256

    trained = trained_contract(model_file)
    if trained == contract.CONTRACT_VERSION:
        return None
    for folder in (logs, LOGS):
        path = kept_path(folder, fold, sha256(model_file), trained, limit)
        if path.is_file():
            return trained, load(path)
    return None


def trained_contract(model_file: Path) -> str:
    """The preprocessing contract a model was trained under (its weights' header)."""
    from ecgviewer.ml.bundle import load_model

    return load_model(model_file).config.get("contract", contract.CONTRACT_VERSION)


def kept_path(logs: Path, fold: int, digest: str, version: str, limit: int | None = None) -> Path:
    """Where a fold's window probabilities under contract ``version`` are kept (contract 1's files
    carry no version: they were written before there was a second)."""
    tag = "" if version == "1" else f"-c{version}"
    return logs / f"fold{fold}-{digest[:12]}{tag}{f'-first{limit}' if limit else ''}.npz"


def compare_tasks(results: dict) -> dict:
    """``run``'s per-task rows, without the comparisons with another contract or model."""
    return {k: v for k, v in results.items() if k not in ("contract", "against")}


def write(results: dict, split: str, model_file: Path, out: Path, command: str, logs: Path = LOGS) -> str:
    """Keep ``results`` beside the window probabilities and write ``out`` (EVERY_BEAT.md) anew from
    every fold kept so far: fold 10's section is the one read of it, never scored again here."""
    fold = D.VAL_FOLD if split == "val" else D.TEST_FOLD
    kept = {"model": model_file.name, "command": command, "results": results}
    atomic_write_bytes(logs / f"fold{fold}.json", json.dumps(kept, indent=1).encode())
    sections = []
    for f, title in ((D.VAL_FOLD, "choice"), (D.TEST_FOLD, "test fold, read once the choice was made")):
        path = logs / f"fold{f}.json"
        if path.is_file():
            k = json.loads(path.read_text())
            res = k["results"]
            sections.append(
                f"## Fold {f} ({title})\n\nModel `{k['model']}`; `{k['command']}`.\n\n"
                f"{table(compare_tasks(res))}\n"
                + (f"\n{contract_table(res['contract'])}\n" if "contract" in res else "")
                + (f"\n{against_table(res['against'])}\n" if "against" in res else "")
            )
    text = f"{HEADER}\n" + "\n".join(sections)
    atomic_write_bytes(out, text.encode())
    return text


HEADER = """# Every beat read (generated by `python -m training every-beat`)

The app reads a fast rhythm's beats beyond the 15th of a 10 s tile in further windows
(`ecgviewer.ml.contract.plan_windows`). Ways of reading a record's windows, macro AUROC of the
shipped model; the differences are paired on the same records (plain record bootstrap, 1000
draws, 95 % intervals): `first` is the first window alone (the model card's figures, and the app
before every beat was read), `beats` weights the windows by their beats (what the app does),
`mean` weights them equally. Fold 9 chooses; fold 10 is read once, after the choice, and logged
in `training/FOLD10.md`. Window probabilities are kept in `training/run-logs/every-beat/`.
"""


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``every-beat`` command's options."""
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    p.add_argument("--split", choices=("val", "test"), default="val")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--out", type=Path, default=REPORTS / "EVERY_BEAT.md")
    p.add_argument(
        "--logs", type=Path, default=LOGS, help="where the window probabilities and results are kept"
    )
    p.add_argument("--limit", type=int, default=None, help="only the fold's first N records (tests)")
    p.add_argument("--against", type=Path, default=None,
                   help="compare with this model too (a candidate against the shipped one)")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """The shipped model reading every beat against its first 15 (fold 9 chooses; fold 10 is logged)."""
    from ecgviewer import assets
    from training.supervised.export import command_line

    model = args.model or assets.model_path()
    results, kept = run(model, args.data_root, args.split, args.workers, args.n_boot, args.logs, args.limit,
                        args.against)  # fmt: skip
    print(write(results, args.split, model, args.out, " ".join(command_line()), args.logs))
    if "against" in results and args.split == "val":
        verdict = "ships" if ships(results["against"]["tasks"]) else "does not ship"
        rule = "by the rule fixed before fold 9 was read (training/supervised/every_beat.py)"
        print(f"{rule}, {model.name} {verdict}")
    if args.limit is None and update_card(model, args.logs):
        print(f"the contract it is read under is in {model.with_suffix('.md').name}")
    print(f"window probabilities kept in {kept}")
