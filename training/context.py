"""What every phase works on: the preset, the run folder, the token cache and PTB-XL's splits
(``Context``), the caches as tensors, the label subsets of a task, and batched prediction."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import contract
from ecgviewer.ml.model import Classifier
from training.data import datasets as D
from training.engine import Dist, barrier, init_distributed
from training.presets import Preset
from training.pretrain.batch import Batch
from training.pretrain.methods import lead_features


@dataclass
class Tensors:
    """A token cache loaded into memory as torch tensors."""

    values: torch.Tensor
    pad: torch.Tensor
    signal: torch.Tensor
    length: torch.Tensor
    present: torch.Tensor
    rpeaks: torch.Tensor

    @classmethod
    def of(cls, caches: list[D.TokenCache]) -> Tensors:
        cat = lambda name: torch.from_numpy(np.concatenate([np.asarray(getattr(c, name)) for c in caches]))  # noqa: E731
        return cls(*(cat(f.name) for f in fields(cls)))

    def batch(
        self, rows: torch.Tensor | np.ndarray, device: torch.device, spec: contract.PatchSpec | None = None
    ) -> tuple[torch.Tensor | None, ...]:
        """A classifier's inputs for ``rows``: beat tokens, or (with a patch ``spec``) the patches
        of the stored window, with no R-peaks."""
        rows = torch.as_tensor(rows)
        if spec is not None:
            b = self.full(rows, device)
            return (*contract.patchify(b.signal, b.present, spec, b.length), None)
        return self.values[rows].to(device), self.pad[rows].to(device), self.rpeaks[rows].to(device)

    def full(self, rows: torch.Tensor | np.ndarray, device: torch.device, index: torch.Tensor | None = None
             ) -> Batch:  # fmt: skip
        """Everything a pretraining objective may use; ``index`` becomes ``Batch.rows``."""
        rows = torch.as_tensor(rows)
        got = {f.name: getattr(self, f.name)[rows].to(device) for f in fields(self)}
        return Batch(**got, rows=(rows if index is None else torch.as_tensor(index)).to(device))


@dataclass
class Context:
    data_root: Path
    run_dir: Path
    cache_dir: Path
    preset: Preset
    workers: int = 2
    unlabelled: list[Path] = field(default_factory=list)
    progress: bool = True
    dist: Dist = field(default_factory=init_distributed)
    _ptbxl: D.PtbxlData | None = None
    _tensors: Tensors | None = None
    timings: dict = field(default_factory=dict)
    # the exported classifier a continued fine-tune starts from (``run --init-model``): its file
    # name and SHA-256, for the card, as the file itself may be replaced by the result
    start: dict | None = None
    # what its encoder was pretrained on (its card's ``LINEAGE`` entries): a continued fine-tune
    # pretrains nothing, so its card inherits them rather than list this run's data
    lineage: dict | None = None
    # the runs its weights descend from, nearest first (``lineage.ancestry``)
    ancestry: list[dict] | None = None

    @property
    def ptbxl(self) -> D.PtbxlData:
        if self._ptbxl is None:
            t0 = time.perf_counter()
            self._ptbxl = rank0_first(
                self.dist,
                lambda: D.load_ptbxl(
                    self.data_root, self.cache_dir, self.workers, self.preset.limit, self.progress
                ),
            )
            # the build time is kept in the cache, so a resumed run still reports it
            self.timings["tokenise_s"] = self._ptbxl.cache.build_s
            self.timings["tokenise_open_s"] = round(time.perf_counter() - t0, 1)
        return self._ptbxl

    @property
    def tensors(self) -> Tensors:
        if self._tensors is None:
            self._tensors = Tensors.of([self.ptbxl.cache])
        return self._tensors


def rank0_first(d: Dist, build):
    """Run ``build`` on rank 0 first (it may write the token cache), then on the other ranks,
    which then find the cache complete and only open it."""
    if not d.main:
        barrier(d)
    out = build()
    if d.main:
        barrier(d)
    return out


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


# --------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict(
    model: Classifier, tensors: Tensors, rows: np.ndarray, batch: int, device: torch.device
) -> dict[str, np.ndarray]:
    model.eval().to(device)
    out: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(rows), batch):
        logits = model(*tensors.batch(rows[i : i + batch], device, model.patch_spec))
        for task, z in logits.items():
            out.setdefault(task, []).append(torch.sigmoid(z.float()).cpu().numpy())
    return {task: np.concatenate(v) for task, v in out.items()}


@torch.no_grad()
def lead_cls_features(
    enc: nn.Module, tensors: Tensors, rows: np.ndarray, batch: int, device: torch.device
) -> torch.Tensor:
    """Frozen per-lead encoder outputs (N, 12, dim) for head-only training."""
    enc.eval().to(device)
    chunks = (tensors.full(rows[i : i + batch], device) for i in range(0, len(rows), batch))
    return torch.cat([lead_features(enc, b).cpu() for b in chunks])


# --------------------------------------------------------------------------- supervised phases
@dataclass
class TaskData:
    classes: dict[str, list[str]]
    train: dict[str, D.Split]
    val: dict[str, D.Split]


def task_data(ctx: Context, tasks: tuple[str, ...], frac: float, seed: int) -> TaskData:
    """Splits for each task; the label fraction subsets the *records* of the training folds,
    the same records for every task."""
    classes, train, val = {}, {}, {}
    for task in tasks:
        classes[task], train[task] = ctx.ptbxl.split(task, D.TRAIN_FOLDS)
        _, val[task] = ctx.ptbxl.split(task, [D.VAL_FOLD])
    pool = np.unique(np.concatenate([s.ecg_id for s in train.values()]))
    chosen = set(pool[D.fraction(len(pool), frac, seed)].tolist())
    for task, s in train.items():
        keep = np.array([e in chosen for e in s.ecg_id], dtype=bool)
        train[task] = D.Split(s.rows[keep], s.y[keep], s.ecg_id[keep])
    return TaskData(classes, train, val)


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# What a run writes (reports, run logs, the ledger): changed there, the code that ran is still the commit's
OUTPUTS = ("training/reports", "training/run-logs", "training/FOLD10.md")


def code_changed(root: Path | None = None) -> bool | None:
    """Whether the tracked code (``ecgviewer/``, ``training/`` but its OUTPUTS) differs from HEAD:
    a figure computed so came from code no commit holds. None where git cannot tell."""
    spec = ["ecgviewer", "training", *(f":(exclude){o}" for o in OUTPUTS)]
    try:
        done = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", *spec],
            capture_output=True,
            cwd=root or Path(__file__).parents[1],
        )
    except OSError:
        return None
    return {0: False, 1: True}.get(done.returncode)
