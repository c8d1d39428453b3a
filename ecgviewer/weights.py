"""Weights files of every model the app runs (the encoder classifiers of ``ml``, the delineator
of ``measure``): safetensors (never a pickle) with JSON metadata under one key, and a model card
beside them. One module for both, so neither package imports the other for its file I/O.

``<name>.json`` and ``<name>.md`` are the card: data, command, metrics, thresholds and the
SHA-256 of the weights, which ``read_card`` checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ecgviewer.errors import EcgError
from ecgviewer.storage import atomic_write_bytes


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(path: Path, module, key: str, meta: dict) -> str:
    """Write ``module``'s tensors with ``meta`` as JSON under ``key``, atomically; returns the
    file's SHA-256."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    data = save(state, metadata={key: json.dumps(meta)})
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def read_weights(path: Path, key: str, kind: str) -> tuple[dict, dict]:
    """The JSON metadata entry ``key`` and the tensors of a safetensors file (never a pickle);
    any failure is one readable error naming the file."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})[key])
        return meta, load_file(str(path))
    except (OSError, KeyError, ValueError, SafetensorError) as exc:
        raise EcgError(f"{path.name}: not an ecgviewer {kind} file ({exc})") from exc


def read_card(weights: Path) -> dict | None:
    """The JSON model card beside ``weights`` (None when absent), checked against their SHA-256."""
    card_path = weights.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text()) if card_path.is_file() else None
    except (OSError, ValueError) as exc:
        raise EcgError(f"{card_path.name}: unreadable model card ({exc})") from exc
    if card is not None and card.get("weights_sha256") not in (None, sha256(weights)):
        raise EcgError(f"{weights.name}: weights do not match the SHA-256 in {card_path.name}")
    return card


def write_card(weights: Path, card: dict, markdown: str) -> None:
    """Write the model card's JSON and Markdown next to ``weights`` (atomically)."""
    atomic_write_bytes(weights.with_suffix(".json"), (json.dumps(card, indent=1) + "\n").encode())
    atomic_write_bytes(weights.with_suffix(".md"), markdown.encode())
