"""``python -m training keep``: a run's report inputs, and only those, copied into the repository."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.__main__ import main
from training.data.keep import keep_run, kept_files, load_npz


def _run(root: Path) -> Path:
    run = root / "run"
    (run / "preds").mkdir(parents=True)
    (run / "128x4" / "preds").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (run / "pretrain.json").write_text("{}")
    np.savez_compressed(run / "preds" / "cell.npz", p=np.array([0.1, 0.3, 0.2]))
    (run / "128x4" / "scaling.jsonl").write_text('{"epoch": 0}\n')
    np.savez_compressed(run / "128x4" / "preds" / "scaling.npz", p=np.ones(3))
    # what the reports never read, and what a stopped write leaves
    for rel in ("encoder.safetensors", "pretrain.ckpt", "features-random1234-9.pt",
                "teacher-xresnet.npz", "128x4/encoder-jepa.safetensors", "preds/.x.tmp.npz"):  # fmt: skip
        (run / rel).write_bytes(b"\0" * 64)
    return run


def test_keep_copies_the_logs_and_predictions_of_a_run_and_its_size_subfolders(tmp_path: Path) -> None:
    run = _run(tmp_path)
    want = ["128x4/preds/scaling.npz", "128x4/scaling.jsonl", "metrics.jsonl", "preds/cell.npz",
            "pretrain.json"]  # fmt: skip
    assert [str(p) for p in kept_files(run)] == want
    dest = tmp_path / "kept" / "run"
    copies = keep_run(run, dest)
    assert sorted(str(p.relative_to(dest)) for p in copies) == want
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == want
    assert (dest / "128x4" / "scaling.jsonl").read_text() == '{"epoch": 0}\n'
    kept = load_npz(dest / "preds" / "cell.npz")["p"]  # ranked as the probabilities were
    assert np.array_equal(np.argsort(kept), [0, 2, 1]) and kept.dtype == np.float32


def test_keeping_again_brings_the_copy_up_to_date(tmp_path: Path, capsys) -> None:
    run, dest = _run(tmp_path), tmp_path / "kept"
    keep_run(run, dest)
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    main(["keep", str(run), str(dest)])
    assert (dest / "metrics.jsonl").read_text().count("epoch") == 2
    assert json.loads(capsys.readouterr().out)["files"] == 5


def test_kept_predictions_are_compact_and_score_as_before(tmp_path: Path, capsys) -> None:
    """A grid cell's kept file drops its fold-9 arrays and keeps each class's ranks in place of the
    probabilities; it loads as float32 scores, and the paired comparison the reports make is the
    same to the last digit, ties and rare classes with tiny probabilities included."""
    from training.data.keep import compact_kept
    from training.validate import metrics as M

    rng = np.random.default_rng(0)
    y = (rng.random((400, 6)) < [0.2, 0.2, 0.2, 0.2, 0.02, 0.01]).astype(np.float32)
    probs = [np.clip(0.3 * y + rng.random(y.shape) ** 3, 0, 1).astype(np.float32) for _ in range(2)]
    for p in probs:
        p[:, 4:] *= 1e-5  # rare classes: values float16 would tie
        p[::7, 0] = 0.5  # ties of its own
    preds = tmp_path / "run" / "preds"
    preds.mkdir(parents=True)
    for k, p in enumerate(probs):
        ids = np.arange(400)
        np.savez_compressed(preds / f"cell{k}.npz", classes=np.array(list("abcdef")), val_ecg_id=ids,
                            val_y=y, val_probs=p, test_ecg_id=ids, test_y=y, test_probs=p)  # fmt: skip
    before = M.paired_bootstrap(y, [probs[0]], [probs[1]], 200)
    main(["compact-logs", str(tmp_path / "run")])
    assert json.loads(capsys.readouterr().out)["bytes_saved"] > 0
    with np.load(preds / "cell0.npz") as z:
        assert set(z.files) == {"classes", "test_ecg_id", "test_y", "test_probs_rank"}
        assert z["test_probs_rank"].dtype == np.uint16 and z["test_y"].dtype == np.uint8
        # a rare class: its negatives between the same two positives share one code
        assert len(np.unique(z["test_probs_rank"][:, 5])) <= 2 * y[:, 5].sum() + 1
    kept = [load_npz(preds / f"cell{k}.npz") for k in range(2)]
    assert kept[0]["test_probs"].dtype == np.float32 and kept[0]["test_y"].dtype == np.float32
    after = M.paired_bootstrap(kept[0]["test_y"], [kept[0]["test_probs"]], [kept[1]["test_probs"]], 200)
    assert after == before
    assert compact_kept(tmp_path / "run") == 0  # already compact: the same bytes again


def test_keep_names_a_missing_run_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        keep_run(tmp_path / "gone", tmp_path / "kept")


def test_a_kept_runs_scaling_table_is_read_from_a_relative_path(tmp_path: Path, monkeypatch) -> None:
    """``--runs training/run-logs/NAME`` is relative: each point's predictions are found beside
    its log (they were once looked up under the run folder twice over, which only an absolute
    path survived)."""
    from training.pretrain.scaling import scaling_table

    run = tmp_path / "run"
    (run / "preds").mkdir(parents=True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 2))
    rows = []
    for epoch, noise in ((0, 2.0), (4, 0.5)):
        for seed in range(2):
            tag = f"scaling-clear-{epoch}-super-{seed}"
            p = 1 / (1 + np.exp(-(y + noise * rng.standard_normal(y.shape) - 0.5)))
            np.savez_compressed(run / "preds" / f"{tag}.npz", y=y, p=p)
            rows.append({"method": "clear", "epoch": epoch, "task": "super", "seed": seed,
                         "masking": "groups", "amplitude": 1.0, "schedule": 4,
                         "encoder": {"dim": 64, "depth": 1}, "val_auroc": 0.9,
                         "val_auroc_ci": [0.8, 1.0], "preds": f"{tag}.npz"})  # fmt: skip
    (run / "scaling.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = tmp_path / "repo" / "training" / "run-logs" / "run"
    keep_run(run, kept)
    monkeypatch.chdir(tmp_path / "repo")
    table, _ = scaling_table([Path("training/run-logs/run")])
    gain = [line for line in table if line.startswith("| clear") and "| 4 |" in line]
    assert len(gain) == 1 and gain[0].split(" | ")[-1].startswith("+")


def test_a_kept_run_reads_its_model_card_from_the_copy(tmp_path: Path) -> None:
    """``run.json`` names its card by the path written at export, outside the repository; once the
    run is kept and that folder is gone, the card kept under the run is read, and a card kept
    nowhere is named in the error."""
    from training.reports.results import run_card

    run = tmp_path / "scratch" / "run"
    (run / "export").mkdir(parents=True)
    card = run / "export" / "clear-hug-x.json"
    card.write_text(json.dumps({"name": "clear-hug-x", "weights_sha256": "ab" * 32}))
    meta = {"weights": str(card.with_suffix(".safetensors")), "card": str(card)}
    (run / "run.json").write_text(json.dumps(meta))
    assert run_card(run)["name"] == "clear-hug-x"
    kept = tmp_path / "repo" / "g48"
    keep_run(run, kept)
    card.unlink()
    assert run_card(kept)["weights_sha256"] == "ab" * 32
    (kept / "export" / "clear-hug-x.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"clear-hug-x\.json is missing"):
        run_card(kept)
    assert run_card(tmp_path) is None
