"""A continued fine-tune's card names the runs its weights descend from, read off their cards: the
card once said the encoder was pretrained 12 epochs (the continuing run's preset) when the run
that pretrained it ran 30."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ecgviewer.weights import sha256
from tests.conftest import REPO
from training.supervised import lineage as L


def _card(name: str, weights: Path, start: Path | None, epochs: int) -> dict:
    training = {"pretrain": {"epochs": epochs}} | ({"start": {"file": start.name, "sha256": sha256(start)}}
                                                   if start else {})  # fmt: skip
    return {"name": name, "weights_sha256": sha256(weights), "created": f"day {name}",
            "command": f"python -m training run --name {name}", "training": training}  # fmt: skip


def test_the_walk_goes_back_to_the_run_that_pretrained_and_stops_at_what_is_not_found(tmp_path: Path) -> None:
    files = {}
    for name in "abc":
        files[name] = tmp_path / f"{name}.safetensors"
        files[name].write_bytes(name.encode())
    cards = {
        sha256(files["a"]): _card("a", files["a"], None, 30),
        sha256(files["b"]): _card("b", files["b"], files["a"], 12),
    }
    c = _card("c", files["c"], files["b"], 12)
    chain = L.ancestry(c["training"]["start"], cards.get)
    assert [r["name"] for r in chain] == ["b", "a"]
    assert chain[0]["pretrained"] is None and chain[1]["pretrained"] == {"epochs": 30}
    # a card that lists its own ancestry ends the walk with it
    listed = cards | {sha256(files["b"]): cards[sha256(files["b"])] | {"ancestry": [{"name": "kept"}]}}
    assert [r["name"] for r in L.ancestry(c["training"]["start"], listed.get)] == ["b", "kept"]
    # a start whose card is gone is named, not skipped
    lost = L.ancestry(c["training"]["start"], {}.get)
    assert lost == [{"name": "b.safetensors", "sha256": sha256(files["b"]), "card": "not found"}]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_a_shipped_card_gets_its_chain_from_the_cards_in_git_history(tmp_path: Path) -> None:
    """Each replaced model's card was committed at the model's path; ``lineage --model`` finds them
    by SHA-256, writes the chain into the current card (JSON and Markdown) and marks that its run
    pretrained nothing."""
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    real = json.loads((REPO / "resources/models/clear-hug-bundled.json").read_text())
    real.pop("ancestry", None)
    weights = tmp_path / "m.safetensors"
    previous: Path | None = None
    for version in ("a", "b", "c"):
        older = tmp_path / f"{version}-old.safetensors"  # the replaced model's bytes, kept to hash them
        older.write_bytes(version.encode())
        weights.write_bytes(version.encode())
        ours = _card(version, weights, previous, 30 if version == "a" else 12)
        card = real | ours | {"training": real["training"] | ours["training"]}
        if previous is None:
            card["training"].pop("start")
        weights.with_suffix(".json").write_text(json.dumps(card))
        if version != "c":
            _git(tmp_path, "add", "m.json")
            _git(tmp_path, "commit", "-q", "-m", version)
        previous = older
    chain = L.fill(weights)
    assert [(r["name"], r["pretrained"]) for r in chain] == [("b", None), ("a", {"epochs": 30})]
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["ancestry"] == chain and card["training"]["pretrain"] is None
    said = weights.with_suffix(".md").read_text()
    assert "Lineage (from the cards; this run pretrained nothing): continued `b`" in said
    assert "its run pretrained the encoder 30 epochs" in said
    with pytest.raises(ValueError, match="not a continued fine-tune"):
        weights.write_bytes(b"a")
        weights.with_suffix(".json").write_text(json.dumps(_card("a", weights, None, 30)))
        L.fill(weights)
