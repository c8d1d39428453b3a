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
    from ecgviewer.ml.model import Classifier, Model


@dataclass
class LoadedModel:
    model: Model  # in eval mode
    config: dict  # the architecture metadata stored with the weights
    card: dict | None  # the JSON model card, when present beside the weights

    @property
    def classes(self) -> dict[str, list[str]]:
        return self.config["classes"]


def _classifier_config(model: Classifier) -> dict:
    return {"kind": model.kind, "encoder": model.encoder.config.to_dict(), "head": model.head_kind}


def save_model(path: Path, model: Model, classes: dict[str, list[str]]) -> str:
    """Write the weights and their architecture metadata atomically; returns their SHA-256. An
    ensemble stores each member's architecture under ``members``."""
    from ecgviewer.ml.model import Ensemble

    arch = (
        {"kind": model.kind, "members": [_classifier_config(m) for m in model.parts]}
        if isinstance(model, Ensemble)
        else _classifier_config(model)  # the tokeniser family: "beats" or "patches"
    )
    return save_weights(
        path, model, "config", arch | {"classes": classes, "contract": contract.CONTRACT_VERSION}
    )


def load_model(path: Path) -> LoadedModel:
    """Load weights + card; refuses files of a contract this app does not read (its own, or one
    of ``contract.READS_ALSO``, whose change is measured for the bundled model)."""
    from ecgviewer.ml.model import DEFAULT_KIND, Classifier, Ensemble, encoder_config

    path = Path(path)
    config, state = read_weights(path, "config", "model")
    if config.get("contract") not in (contract.CONTRACT_VERSION, *contract.READS_ALSO):
        raise EcgError(
            f"{path.name}: trained with preprocessing contract {config.get('contract')}, "
            f"this version uses {contract.CONTRACT_VERSION}"
        )
    try:
        tasks = {task: len(names) for task, names in config["classes"].items()}

        def classifier(c: dict) -> Classifier:
            return Classifier(encoder_config(c.get("kind", DEFAULT_KIND), c["encoder"]), tasks, c["head"])

        model: Model = (
            Ensemble([classifier(c) for c in config["members"]])
            if "members" in config
            else classifier(config)
        )
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # metadata and tensors disagree
        raise EcgError(f"{path.name}: weights do not match their architecture ({exc})") from exc
    model.eval()
    return LoadedModel(model, config, read_card(path))
