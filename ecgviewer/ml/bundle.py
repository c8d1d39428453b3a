"""Model files: weights in safetensors (never a pickle) and a model card beside them.

``<name>.safetensors`` carries the architecture in its metadata (``config``: encoder config,
head kind, tasks and class names, contract version), so it loads on its own. ``<name>.json``
and ``<name>.md`` are the model card: data, command, metrics, thresholds, SHA-256 of the weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.errors import EcgError
from ecgviewer.ml import contract
from ecgviewer.storage import atomic_write_bytes


@dataclass
class LoadedModel:
    model: object  # ecgviewer.ml.model.Classifier, in eval mode
    config: dict  # the architecture metadata stored with the weights
    card: dict | None  # the JSON model card, when present beside the weights

    @property
    def classes(self) -> dict[str, list[str]]:
        return self.config["classes"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(path: Path, model, classes: dict[str, list[str]]) -> str:
    """Write the weights and their architecture metadata atomically; returns their SHA-256."""
    from safetensors.torch import save

    config = {
        "kind": model.kind,  # the tokeniser family: "beats" or "patches"
        "encoder": model.encoder.config.to_dict(),
        "head": model.head_kind,
        "classes": classes,
        "contract": contract.CONTRACT_VERSION,
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(state, metadata={"config": json.dumps(config)})
    atomic_write_bytes(path, data)
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


def load_model(path: Path) -> LoadedModel:
    """Load weights + card; refuses files whose contract version differs from this app's."""
    from ecgviewer.ml.model import Classifier, EncoderConfig
    from ecgviewer.ml.patches import PatchConfig

    path = Path(path)
    config, state = read_weights(path, "config", "model")
    if config.get("contract") != contract.CONTRACT_VERSION:
        raise EcgError(
            f"{path.name}: trained with preprocessing contract {config.get('contract')}, "
            f"this version uses {contract.CONTRACT_VERSION}"
        )
    try:
        tasks = {task: len(names) for task, names in config["classes"].items()}
        family = PatchConfig if config.get("kind") == "patches" else EncoderConfig  # before "kind": beats
        model = Classifier(family.from_dict(config["encoder"]), tasks, config["head"])
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError) as exc:  # metadata and tensors disagree
        raise EcgError(f"{path.name}: weights do not match their architecture ({exc})") from exc
    model.eval()
    return LoadedModel(model, config, read_card(path))


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
