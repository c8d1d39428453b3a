"""The installed-model registry (``ecgviewer.ml.registry``), the user models folder, the ``ai/model``
setting and ``--model`` on the command line: no torch for listing, bad files listed with a reason,
installs that refuse what they cannot vouch for."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore
from safetensors import safe_open
from safetensors.numpy import save_file

from ecgviewer import assets
from ecgviewer.cli import main
from ecgviewer.errors import EcgError
from ecgviewer.gui.settings import Settings
from ecgviewer.ml import registry
from ecgviewer.weights import sha256
from tests.helpers import copy_model

BUNDLED = assets.model_path()


def bundled_config() -> str:
    """The bundled classifier's header configuration (JSON text)."""
    with safe_open(str(BUNDLED), framework="numpy") as f:
        return f.metadata()["config"]


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-models"
    monkeypatch.setenv("ECGVIEWER_MODELS", str(folder))
    return folder


def test_lists_the_bundled_classifier_and_not_the_delineator(user_dir):
    (info,) = registry.installed_models()
    card = json.loads(BUNDLED.with_suffix(".json").read_text())
    assert info.path == BUNDLED and info.bundled and info.error is None
    assert info.name == "clear-hug-bundled" and info.kind == "beats"
    assert info.tasks == {"super": 5, "all": len(card["labels"]["all"]["classes"])}
    assert info.auroc == card["labels"]["super"]["test"]["auroc"] and info.auroc_task == "super"
    assert info.sha256 == sha256(BUNDLED) and info.card == BUNDLED.with_suffix(".md")
    assert (
        "96 samples" in info.tokenizer
        and "100 Hz" in info.tokenizer
        and "128-d, 4 layers, 4 heads, hug head" in info.architecture
    )
    assert assets.delineator_path().parent == BUNDLED.parent and assets.delineator_path().is_file()
    assert not user_dir.exists()  # reading the list creates no folder


def test_a_user_copy_is_listed_after_the_bundled_one_then_by_name(user_dir):
    copy_model(user_dir, "zeta", "Zeta")
    copy_model(user_dir, "alpha", "alpha")
    shutil.copyfile(assets.delineator_path(), user_dir / "delineator-copy.safetensors")
    models = registry.installed_models()
    assert [(m.name, m.bundled) for m in models] == [
        ("clear-hug-bundled", True),
        ("alpha", False),
        ("Zeta", False),
    ]
    assert all(m.error is None for m in models)
    # the same folder named twice (ECGVIEWER_MODELS pointing at the bundled one) lists it once
    assert len(registry.installed_models([BUNDLED.parent, BUNDLED.parent])) == 1


def test_garbage_truncated_and_headless_files_are_listed_with_the_reason(user_dir):
    user_dir.mkdir()
    (user_dir / "garbage.safetensors").write_bytes(b"this is not a model at all")
    data = BUNDLED.read_bytes()
    (user_dir / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    save_file({"w": np.zeros(2, np.float32)}, str(user_dir / "encoder.safetensors"), {"encoder": "{}"})
    save_file({"w": np.zeros(2, np.float32)}, str(user_dir / "other.safetensors"), {"config": "[1, 2]"})
    errors = {m.path.name: m.error for m in registry.installed_models() if not m.bundled}
    assert set(errors) == {
        "garbage.safetensors",
        "truncated.safetensors",
        "encoder.safetensors",
        "other.safetensors",
    }
    for file, error in errors.items():
        assert error is not None and error.startswith(f"{file}: "), error
    assert "not a readable safetensors file" in errors["truncated.safetensors"]
    assert "incomplete" in errors["truncated.safetensors"]
    assert "without a classifier head" in errors["encoder.safetensors"]
    assert "not an ecgviewer classifier" in errors["other.safetensors"]


def test_a_card_that_does_not_match_its_weights_is_listed_with_the_reason(user_dir):
    path = copy_model(user_dir, "tampered")
    card = json.loads(path.with_suffix(".json").read_text())
    card["weights_sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(card))
    (info,) = [m for m in registry.installed_models() if not m.bundled]
    assert info.error == "tampered.safetensors: weights do not match the SHA-256 in tampered.json"


def test_a_patch_token_classifier_is_listed_whatever_the_app_can_run(user_dir):
    """Listing reads the header only: an ECG-JEPA (patches) classifier is described, and loading
    it is left to ``bundle.load_model``."""
    user_dir.mkdir()
    spec = {"leads": ["I", "II", "V1"], "fs": 250, "patch_s": 0.2, "window_s": 10.0}
    config = {
        "kind": "patches",
        "encoder": {"dim": 192, "depth": 8, "heads": 6, "spec": spec},
        "head": "linear",
        "classes": {"super": ["CD", "HYP", "MI", "NORM", "STTC"]},
        "contract": "1",
    }
    path = user_dir / "jepa.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(path), {"config": json.dumps(config)})
    card = {"name": "ECG-JEPA linear", "weights_sha256": sha256(path), "architecture": "ViT, CroPA attention"}
    path.with_suffix(".json").write_text(json.dumps(card))
    (info,) = [m for m in registry.installed_models() if not m.bundled]
    assert info.error is None and info.kind == "patches" and info.name == "ECG-JEPA linear"
    assert info.tokenizer == "patches: 3 leads \u00d7 0.2 s at 250 Hz"
    assert info.architecture == "ViT, CroPA attention" and info.tasks == {"super": 5}
    assert info.auroc is None and info.card is None  # no labels in the card; no Markdown beside it


def test_install_copies_the_weights_and_card_atomically(user_dir, tmp_path):
    source = copy_model(tmp_path / "downloads", "mine", "My model")
    info = registry.install(source)
    target = user_dir / "mine.safetensors"
    assert info.path == target and info.error is None and not info.bundled and info.name == "My model"
    for suffix in (".safetensors", ".json", ".md"):
        assert target.with_suffix(suffix).read_bytes() == source.with_suffix(suffix).read_bytes()
    assert info.card == target.with_suffix(".md")
    assert not [p for p in user_dir.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert [m.path for m in registry.installed_models()] == [BUNDLED, target]
    assert registry.install(source) == info  # the same file again is no change


def test_install_drops_a_stale_card_the_new_file_does_not_bring(user_dir, tmp_path):
    source = copy_model(tmp_path / "downloads", "mine")
    source.with_suffix(".md").unlink()
    user_dir.mkdir()
    (user_dir / "mine.md").write_text("the card of a model that was here before")
    info = registry.install(source)
    assert info.card is None and not (user_dir / "mine.md").exists()
    assert (user_dir / "mine.json").read_bytes() == source.with_suffix(".json").read_bytes()


@pytest.mark.parametrize("damage", ["sha", "delineator", "garbage", "suffix", "name taken"])
def test_install_refuses_what_it_cannot_vouch_for(user_dir, tmp_path, damage):
    source = copy_model(tmp_path / "downloads", "mine")
    if damage == "sha":
        card = json.loads(source.with_suffix(".json").read_text())
        card["weights_sha256"] = "f" * 64
        source.with_suffix(".json").write_text(json.dumps(card))
        message = "weights do not match the SHA-256 in mine.json"
    elif damage == "delineator":
        shutil.copyfile(assets.delineator_path(), source)
        source.with_suffix(".json").unlink()
        message = "not a classifier"
    elif damage == "garbage":
        source.write_bytes(b"\x00" * 64)
        message = "not a readable safetensors file"
    elif damage == "suffix":
        source = source.rename(source.with_suffix(".bin"))
        message = "a model file ends in .safetensors"
    else:
        other = tmp_path / "elsewhere" / "mine.safetensors"  # another classifier of the same file name
        other.parent.mkdir()
        save_file({"w": np.zeros(1, np.float32)}, str(other), {"config": bundled_config()})
        registry.install(other)
        message = "a different model of this name is installed already"
    before = sorted(p.name for p in user_dir.iterdir()) if user_dir.exists() else []
    with pytest.raises(EcgError, match=message):
        registry.install(source)
    after = sorted(p.name for p in user_dir.iterdir()) if user_dir.exists() else []
    assert after == before  # nothing written


def test_listing_imports_no_torch(tmp_path):
    script = (
        "import sys; from ecgviewer.ml import registry; "
        "assert registry.installed_models()[0].error is None; print('torch' in sys.modules)"
    )
    env = {**__import__("os").environ, "ECGVIEWER_MODELS": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_user_models_dir_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("ECGVIEWER_MODELS", raising=False)
    monkeypatch.setattr(assets.Path, "home", lambda: tmp_path / "home")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(assets.sys, "platform", "linux")
    assert assets.user_models_dir() == tmp_path / "xdg/ecgviewer/models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert assets.user_models_dir() == tmp_path / "home/.local/share/ecgviewer/models"
    monkeypatch.setattr(assets.sys, "platform", "darwin")
    assert assets.user_models_dir() == tmp_path / "home/Library/Application Support/ecgviewer/models"
    monkeypatch.setattr(assets.sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert assets.user_models_dir() == tmp_path / "roaming/ecgviewer/models"
    monkeypatch.setenv("ECGVIEWER_MODELS", str(tmp_path / "mine"))
    assert assets.user_models_dir() == tmp_path / "mine"


def test_the_model_setting_falls_back_to_the_bundled_model(tmp_path):
    s = Settings(QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat))
    assert s.model_file() == (BUNDLED, None)
    mine = copy_model(tmp_path / "models", "mine")
    s.set_model_file(mine)
    assert s.model_file() == (mine.resolve(), None)
    mine.unlink()
    path, note = s.model_file()
    assert path == BUNDLED and note is not None and str(mine.resolve()) in note and "bundled" in note
    assert s.value("ai/model") == str(mine.resolve())  # kept: the file may come back
    s.set_model_file(BUNDLED)
    assert s.value("ai/model") is None  # the bundled model is no stored path (installations move)


def test_cli_model_option(tmp_path, sample, capsys):
    mine = copy_model(tmp_path, "mine")
    out = tmp_path / "out.json"
    args = ["analyze", str(sample), "--device", "cpu", "--method", "gxi", "--json", str(out)]
    assert main([*args, "--model", str(mine)]) == 0
    assert json.loads(out.read_text())["model"]["file"] == "mine.safetensors"
    assert main([*args, "--model", str(tmp_path / "absent.safetensors")]) == 2
    assert "absent.safetensors: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    assert main([*args, "--model", str(bad)]) == 2
    assert "bad.safetensors" in capsys.readouterr().err
    report = tmp_path / "r.pdf"
    assert main(["report", str(sample), "--out", str(report), "--no-measure", "--model", str(bad)]) == 2
    assert "bad.safetensors" in capsys.readouterr().err and not report.exists()
