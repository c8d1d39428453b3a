"""The classifiers this installation can run: the bundled one and those the user added.

Listing reads only each file's safetensors header and its model card, never the weights into
torch: the Preferences dialog lists models without importing torch (``safe_open`` with the numpy
framework reads the header alone), and the same files load later through ``bundle.load_model``,
which decides whether this app can run them (tokeniser kind, contract version). A file that is not
a readable classifier is listed with a message naming it and the cause, never raised, so one bad
download cannot hide the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from ecgviewer import assets
from ecgviewer.errors import EcgError
from ecgviewer.ml import contract
from ecgviewer.storage import atomic_write_bytes
from ecgviewer.weights import read_card

SUFFIX = ".safetensors"
CARD_SUFFIXES = (".json", ".md")
DEFAULT_KIND = contract.BEATS  # a classifier exported before the "kind" entry existed uses beat tokens
# metadata keys of the app's other models: listed nowhere as classifiers
OTHER_ROLES = ("delineator", "beat_classifier", "record_head")
HEADLINE_TASK = "super"  # the card's headline metric: this task's test-fold AUROC when it has one


@dataclass(frozen=True)
class ModelInfo:
    """One classifier file as the picker shows it; ``error`` set: it cannot be used, and why."""

    path: Path
    name: str
    bundled: bool
    kind: str = ""  # "beats" | "patches" (the tokeniser family); "" when unreadable
    tokenizer: str = ""
    architecture: str = ""
    tasks: dict[str, int] = field(default_factory=dict)  # task -> number of classes
    auroc: float | None = None  # test-fold macro AUROC from the card (``auroc_task``'s)
    auroc_task: str | None = None
    card: Path | None = None  # the Markdown model card, when present
    sha256: str | None = None  # of the weights, as the card states (checked against the file)
    error: str | None = None


def bundled_dir() -> Path:
    return assets.model_path().parent


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return f.metadata() or {}
    except (OSError, SafetensorError) as exc:
        raise EcgError(f"{path.name}: not a readable safetensors file ({exc})") from exc


def _classifier_config(path: Path, meta: dict[str, str]) -> dict:
    """The classifier configuration of the metadata (encoder, head, classes), checked for shape."""
    if "config" not in meta and "encoder" in meta:
        raise EcgError(f"{path.name}: a pretrained encoder without a classifier head (fine-tune it first)")
    try:
        config = json.loads(meta["config"])
        ok = all(isinstance(m["encoder"], dict) for m in _members(config)) and all(
            isinstance(names, list) for names in config["classes"].values()
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise EcgError(f"{path.name}: not an ecgviewer classifier (its header has no classifier config)")
    return config


def _members(config: dict) -> list[dict]:
    """The classifiers a file holds: an ensemble's members, or the file's one classifier."""
    members = config.get("members")
    return members if isinstance(members, list) and members else [config]


def _tokenizer(kind: str, config: dict, card: dict) -> str:
    """The card's own words when it has them, else what the weights' configuration says."""
    given = card.get("tokenizer")
    if isinstance(given, str):
        return given
    if kind == contract.PATCHES:
        spec = _members(config)[0]["encoder"].get("spec") or {}
        if {"leads", "fs", "patch_s"} <= set(spec):
            return f"patches: {len(spec['leads'])} leads \u00d7 {spec['patch_s']:g} s at {spec['fs']:g} Hz"
        return contract.PATCHES
    c = card.get("contract") or {}
    if {"max_beats", "token_len", "fs"} <= set(c):
        return f"beats: \u2264{c['max_beats']} \u00d7 {c['token_len']} samples at {c['fs']} Hz per lead"
    return f"{kind} (contract {config.get('contract')})"


def _architecture(config: dict, card: dict) -> str:
    given = card.get("architecture")
    if isinstance(given, str):
        return given
    members = _members(config)
    text = " + ".join(_one_architecture(m) for m in members)
    if len(members) > 1:
        text = f"ensemble of {len(members)}: {text}"
    n = given.get("parameters") if isinstance(given, dict) else None
    text = f"{text}; {n / 1e6:.2f} M parameters" if isinstance(n, int) else text
    pretraining = card.get("pretraining")
    method = pretraining.get("label") if isinstance(pretraining, dict) else None
    return f"{method} encoder, {text}" if isinstance(method, str) else text


def _one_architecture(config: dict) -> str:
    enc = config["encoder"]
    return ", ".join(
        part
        for part in (
            f"{enc['dim']}-d" if "dim" in enc else "",
            f"{enc['depth']} layers" if "depth" in enc else "",
            f"{enc['heads']} heads" if "heads" in enc else "",
            f"{config['head']} head" if config.get("head") else "",
        )
        if part
    )


def _headline(card: dict) -> tuple[float | None, str | None]:
    """The test-fold AUROC of ``HEADLINE_TASK``, else of the first task the card reports one for."""
    labels = card.get("labels")
    if not isinstance(labels, dict):
        return None, None
    order = [HEADLINE_TASK] + [t for t in labels if t != HEADLINE_TASK]
    for task in order:
        value = ((labels.get(task) or {}).get("test") or {}).get("auroc")
        if isinstance(value, int | float):
            return float(value), task
    return None, None


def describe(path: Path, bundled: bool = False) -> ModelInfo | None:
    """What the picker shows of ``path``; None for another of the app's models (the delineator),
    which is not a classifier and not listed. Never raises: a bad file comes back with ``error``."""
    path = Path(path)
    info = ModelInfo(path=path, name=path.stem, bundled=bundled)
    try:
        meta = _metadata(path)
        if any(key in meta for key in OTHER_ROLES):
            return None
        config = _classifier_config(path, meta)
        card = read_card(path) or {}  # raises when the card's SHA-256 does not match the weights
    except (EcgError, OSError) as exc:  # OSError: the file went away or is not readable
        return replace(info, error=str(exc) if isinstance(exc, EcgError) else f"{path.name}: {exc}")
    kind = str(config.get("kind") or DEFAULT_KIND)
    auroc, task = _headline(card)
    md = path.with_suffix(".md")
    return replace(
        info,
        name=str(card.get("name") or path.stem),
        kind=kind,
        tokenizer=_tokenizer(kind, config, card),
        architecture=_architecture(config, card),
        tasks={t: len(names) for t, names in config["classes"].items()},
        auroc=auroc,
        auroc_task=task,
        card=md if md.is_file() else None,
        sha256=card.get("weights_sha256"),
    )


def installed_models(folders: list[Path] | None = None) -> list[ModelInfo]:
    """Every classifier in ``folders`` (default: the bundled folder, then the user's), bundled
    first, then by name; folders that do not exist are skipped, never created."""
    bundled = bundled_dir().resolve()
    if folders is None:
        folders = [bundled, assets.user_models_dir()]
    seen: set[Path] = set()
    out: list[ModelInfo] = []
    for folder in folders:
        folder = Path(folder).resolve()
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            info = describe(path, bundled=folder == bundled)
            if info is not None:
                out.append(info)
    return sorted(out, key=lambda m: (not m.bundled, m.name.casefold(), str(m.path)))


def install(path: Path, folder: Path | None = None) -> ModelInfo:
    """Copy the classifier ``path`` and its model card (.json, .md) into ``folder`` (default: the
    user's models folder), each file atomically; refuses a file that is not a readable classifier,
    a card whose SHA-256 disagrees with the weights, and a different model of the same file name."""
    path = Path(path)
    if path.suffix != SUFFIX:
        raise EcgError(f"{path.name}: a model file ends in {SUFFIX}")
    info = describe(path)
    if info is None:
        raise EcgError(f"{path.name}: not a classifier (another of ecgviewer's models)")
    if info.error is not None:
        raise EcgError(info.error)
    folder = Path(folder) if folder is not None else assets.user_models_dir()
    target = folder / path.name
    if target.resolve() == path.resolve():
        return info
    data = path.read_bytes()
    if target.is_file() and target.read_bytes() != data:
        raise EcgError(f"{path.name}: a different model of this name is installed already ({target})")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcgError(f"cannot create the models folder {folder}: {exc.strerror}") from None
    atomic_write_bytes(target, data)
    for suffix in CARD_SUFFIXES:
        source, copy = path.with_suffix(suffix), target.with_suffix(suffix)
        if source.is_file():
            atomic_write_bytes(copy, source.read_bytes())
        else:
            copy.unlink(missing_ok=True)  # a card left by an earlier file would not describe this one
    return replace(info, path=target, card=target.with_suffix(".md") if info.card else None)
