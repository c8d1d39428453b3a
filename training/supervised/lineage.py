"""Where a model's weights come from, read off the model cards rather than typed.

A continued fine-tune (``run --init-model``) pretrains nothing: its encoder is its start's, which
may itself have continued another model. Its card therefore inherits what the encoder was
pretrained on (``LINEAGE``, the data) and lists the runs its weights descend from (``ancestry``,
nearest first, the one that pretrained the encoder last, with that pretraining's schedule).
``python -m training lineage`` gives a card written before cards carried their ancestry its
chain, from the earlier cards kept in git history.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

# what a card says its encoder was pretrained on: the PTB-XL records and the unlabelled folders
LINEAGE = ("pretrain_ecg_ids", "unlabelled_pretraining")


def lineage(card: dict | None) -> dict | None:
    """A card's ``LINEAGE`` entries (None without a card or without them)."""
    data = (card or {}).get("data", {})
    return {k: data[k] for k in LINEAGE} if all(k in data for k in LINEAGE) else None


def ancestor(card: dict) -> dict:
    """One run of a lineage: its weights, command and date, and its pretraining's schedule when
    it pretrained the encoder (None when it continued another model)."""
    tr = card.get("training", {})
    return {
        "name": card.get("name"),
        "sha256": card["weights_sha256"],
        "created": card.get("created"),
        "command": card.get("command"),
        "pretrained": None if tr.get("start") else tr.get("pretrain"),
    }


def ancestry(start: dict | None, find: Callable[[str], dict | None]) -> list[dict]:
    """The runs a model continued from ``start`` (its card's ``training.start``) descends from,
    nearest first; ``find`` gives the card of weights by their SHA-256. A card that lists its own
    ancestry ends the walk; a start whose card is not found is named as such."""
    out: list[dict] = []
    while start:
        card = find(start["sha256"])
        if card is None:
            return [*out, {"name": start.get("file"), "sha256": start["sha256"], "card": "not found"}]
        out.append(ancestor(card))
        if "ancestry" in card:
            return out + card["ancestry"]
        start = card.get("training", {}).get("start")
    return out


def card_of(weights: Path, digest: str) -> dict | None:
    """The card beside ``weights`` when it describes the weights of SHA-256 ``digest``."""
    path = weights.with_suffix(".json")
    card = json.loads(path.read_text()) if path.is_file() else None
    return card if card and card.get("weights_sha256") == digest else None


def beside(weights: Path) -> Callable[[str], dict | None]:
    """``find`` for the card beside ``weights`` (the start a continued fine-tune reads)."""
    return partial(card_of, weights)


def in_history(card_path: Path) -> Callable[[str], dict | None]:
    """``find`` over every version of ``card_path`` in git history (a shipped model's earlier
    cards: each replaced model's card was committed at the same path)."""
    repo = card_path.resolve().parent
    rel = subprocess.run(["git", "ls-files", "--full-name", card_path.name], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    commits = subprocess.run(["git", "log", "--format=%H", "--", card_path.name], cwd=repo,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    cards: dict[str, dict] = {}
    for commit in commits:
        shown = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=repo, capture_output=True, text=True)
        try:
            card = json.loads(shown.stdout)
        except ValueError:
            continue
        cards.setdefault(card.get("weights_sha256", ""), card)
    return cards.get


def fill(model_file: Path) -> list[dict]:
    """Write the ancestry of a continued fine-tune's card from the earlier cards in git history
    (``in_history``), and mark that its run pretrained nothing; returns the ancestry."""
    from ecgviewer.weights import read_card, write_card
    from training.supervised.card import markdown

    card = read_card(model_file)
    if card is None:
        raise ValueError(f"{model_file.name}: no model card")
    start = card.get("training", {}).get("start")
    if not start:
        raise ValueError(f"{model_file.name}: not a continued fine-tune, its run pretrained its encoder")
    chain = ancestry(start, in_history(model_file.with_suffix(".json")))
    card["training"]["pretrain"] = None
    card["ancestry"] = chain
    write_card(model_file, card, markdown(card))
    return chain
