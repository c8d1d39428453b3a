"""``python -m training ensemble A B --name N``: classifiers read together (``ml.model.Ensemble``:
the logit of their mean probability), exported with a card of their own: thresholds chosen on
fold 9 for the ensemble's probabilities, fold 9 and fold 10 reported, each member named with its
weights' SHA-256 and the command that made it. Whether it ships is ``choose``'s decision."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.context import Context, task_data


def build(ctx: Context, members: list[Path], name: str, out: Path, command: list[str]) -> Path:
    """Export the ensemble of ``members`` (classifier files with cards) as ``out/<name>``."""
    from ecgviewer.errors import EcgError
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.ml.model import Ensemble
    from training.supervised.export import export

    loaded = [load_model(p) for p in members]
    if len({str(m.classes) for m in loaded}) != 1:
        raise EcgError("ensemble: the members' classes differ")
    cards = [m.card or {} for m in loaded]
    model = Ensemble([m.model for m in loaded]).eval()
    td = task_data(ctx, tuple(loaded[0].classes), 1.0, 0)
    ctx.timings = {"members_total_s": round(sum(c.get("timings", {}).get("total_s", 0.0) for c in cards), 1)}
    training = {
        "ensemble": "the logit of the members' mean probability (ecgviewer.ml.model.Ensemble)",
        "members": [
            {
                "name": c.get("name", p.stem),
                "weights_sha256": c.get("weights_sha256"),
                "command": c.get("command"),
                "training": c.get("training"),
            }
            for c, p in zip(cards, members, strict=True)
        ],
        "selection": "each member's own; thresholds of the ensemble chosen on fold 9",
    }
    method = (cards[0].get("pretraining") or {}).get("method", "clear")
    weights = export(ctx, model, td, name, out, command, method, training=training)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)  # the grid's "exported" rows read it, as after `run`
    (ctx.run_dir / "run.json").write_text(
        json.dumps({"weights": str(weights), "card": str(weights.with_suffix(".json"))})
    )
    return weights


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("members", type=Path, nargs="+", help="classifier files (with their cards)")
    p.add_argument("--name", required=True)
    p.add_argument("--out", type=Path, default=None, help="export folder (default: the run folder)")
