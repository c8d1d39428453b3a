"""Classifier files (``ecgviewer.weights`` holds the file format and the card I/O).

``<name>.safetensors`` carries the architecture in its metadata (``config``: encoder config,
head kind, tasks and class names, contract version), so it loads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecgviewer.errors import EcgError
from ecgviewer.ml import contract
from ecgviewer.weights import read_card, read_weights, save_weights

if TYPE_CHECKING:  # torch is imported only when a model loads
    from ecgviewer.ml.model import Classifier


@dataclass
class LoadedModel:
    model: Classifier  # in eval mode
    config: dict  # the architecture metadata stored with the weights
    card: dict | None  # the JSON model card, when present beside the weights

    @property
    def classes(self) -> dict[str, list[str]]:
        return self.config["classes"]


def save_model(path: Path, model, classes: dict[str, list[str]]) -> str:
    """Write the weights and their architecture metadata atomically; returns their SHA-256."""
    config = {
        "kind": model.kind,  # the tokeniser family: "beats" or "patches"
        "encoder": model.encoder.config.to_dict(),
        "head": model.head_kind,
        "classes": classes,
        "contract": contract.CONTRACT_VERSION,
    }
    return save_weights(path, model, "config", config)


def load_model(path: Path) -> LoadedModel:
    """Load weights + card; refuses files whose contract version differs from this app's."""
    from ecgviewer.ml.model import DEFAULT_KIND, Classifier, encoder_config

    path = Path(path)
    config, state = read_weights(path, "config", "model")
    if config.get("contract") != contract.CONTRACT_VERSION:
        raise EcgError(
            f"{path.name}: trained with preprocessing contract {config.get('contract')}, "
            f"this version uses {contract.CONTRACT_VERSION}"
        )
    try:
        tasks = {task: len(names) for task, names in config["classes"].items()}
        model = Classifier(
            encoder_config(config.get("kind", DEFAULT_KIND), config["encoder"]), tasks, config["head"]
        )
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError) as exc:  # metadata and tensors disagree
        raise EcgError(f"{path.name}: weights do not match their architecture ({exc})") from exc
    model.eval()
    return LoadedModel(model, config, read_card(path))
