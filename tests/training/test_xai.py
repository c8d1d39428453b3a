"""The explanation benchmark (``python -m training explain-benchmark``): its record selection, its
statistics, a synthetic model whose evidence is known to lie in the inferior leads, and a run of
the command on a few shared PTB-XL records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.ml.reference import FLAT
from tests.conftest import REPO
from training.validate import xai
from training.validate import xai_report as R
from training.validate import xai_scores as S

INFERIOR = [STANDARD_LEADS.index(n) for n in ("II", "III", "aVF")]


class InferiorEvidence(nn.Module):
    """A stand-in classifier: every class's logit is the mean energy of leads II, III and aVF,
    so any faithful attribution puts the evidence on the inferior territory."""

    patch_spec = None

    def __init__(self, classes: dict[str, list[str]]) -> None:
        super().__init__()
        self.n = {task: len(c) for task, c in classes.items()}
        self.heads = nn.ModuleDict({task: _Evidence(n) for task, n in self.n.items()})

    def lead_cls(self, values: Tensor, pad: Tensor, rpeaks: Tensor) -> Tensor:
        return (values**2).mean(dim=(-1, -2))[..., None]  # (B, 12, 1): each lead's energy

    def forward(self, values: Tensor, pad: Tensor, rpeaks: Tensor) -> dict[str, Tensor]:
        cls = self.lead_cls(values, pad, rpeaks)
        return {task: head(cls) for task, head in self.heads.items()}

    def logit(self, values: Tensor, pad: Tensor, rpeaks: Tensor, task: str, index: int) -> Tensor:
        return self(values, pad, rpeaks)[task][:, index]


class _Evidence(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, cls: Tensor) -> Tensor:
        return cls[:, INFERIOR, 0].sum(dim=1, keepdim=True).expand(-1, self.n) * 10.0


def test_mi_families_need_one_family_only() -> None:
    mi = {"IMI", "ILMI", "ASMI", "AMI", "INJAS", "PMI", "LMI"}
    assert xai.mi_family({"IMI", "ILMI", "SR"}, mi) == "inferior"
    assert xai.mi_family({"ASMI"}, mi) == "anteroseptal"
    assert xai.mi_family({"IMI", "ASMI"}, mi) is None  # two families
    assert xai.mi_family({"ASMI", "INJAS"}, mi) is None  # an MI statement of no family
    assert xai.mi_family({"NORM"}, mi) is None


def test_wilson_interval_holds_its_estimate_and_localise_counts() -> None:
    for k, n in ((0, 5), (3, 7), (7, 7), (40, 300)):
        lo, hi = S.wilson(k, n)
        assert 0 <= lo <= k / n <= hi <= 1
    row = {
        "family": "inferior",
        "questions": {
            "MI": {
                "ig": {
                    "territories": {
                        "inferior": 3.0,
                        "lateral": 3.5,
                        "septal": 0.1,
                        "anterior": 0.0,
                        "aVR": -1.0,
                    }
                }
            }
        },
    }
    by_sum, sized = S.localise([row], "ig", "sum"), S.localise([row], "ig", "standardised")
    # (3 - 3 * 5.6 / 12) / sqrt(3 * 9 / 11) = 1.02 > (3.5 - 4 * 5.6 / 12) / sqrt(4 * 8 / 11) = 0.96
    assert by_sum.hits["inferior"] == (0, 1) and sized.hits["inferior"] == (1, 1)
    assert by_sum.rank_auroc["inferior"][0] == pytest.approx(0.75)


def test_label_independent_chance_sees_a_ranker_with_a_favourite() -> None:
    """A ranker that names the inferior territory whatever the record scores inferior MI fully,
    above the uniform 1 / 5 but exactly at its label-independent chance: it tells nothing."""

    def row(family: str) -> dict:
        scores = {"inferior": 2.0, "lateral": 1.0, "septal": 0.5, "anterior": 0.2, "aVR": 0.0}
        return {"family": family, "questions": {"MI": {"ig": {"territories": scores}}}}

    loc = S.localise([row("inferior")] * 3 + [row("anteroseptal")] * 5, "ig", "sum")
    assert loc.rate("inferior") == 1.0 > S.chance("inferior")
    assert loc.independent_chance("inferior") == 1.0 and loc.independent_chance("anteroseptal") == 0.0
    table = R.informative([row("inferior")] * 3, ["ig"], "sum")
    assert "1.00 vs 1.00: not above" in table[2]
    said = [row("anterior") | {"mi_statement": m} for m in ("ASMI", "ASMI", "AMI")]
    assert "| anterior | 3 | ASMI 2, AMI 1 | 1/3 = 0.33 | 0/1 | 0/2 |" in R.called(said, "ig", "sum")


def test_a_randomised_model_is_judged_over_its_draws() -> None:
    """Each re-initialised copy has a favourite that follows the infarct: seed 0 ranks inferior MI
    inferior and anteroseptal MI lateral, seed 1 the other way round. One draw alone is above its
    label-independent chance; the draws together are not. A copy that localises every family on
    every seed stays above chance."""
    on = {"inferior": {"inferior": 2.0, "lateral": 1.0}, "lateral": {"inferior": 1.0, "lateral": 2.0}}
    on |= {"septal": {"septal": 2.0, "inferior": 1.0}}

    def row(family: str, by_seed: dict[int, str]) -> dict:
        base = {"septal": 0.0, "anterior": 0.0, "aVR": 0.0, "inferior": 0.0, "lateral": 0.0}
        mi = {xai.randomised_name("ig", s): {"territories": base | on[t]} for s, t in by_seed.items()}
        return {"family": family, "questions": {"MI": mi}}

    swap = [row("inferior", {0: "inferior", 1: "lateral"})] * 30
    swap += [row("anteroseptal", {0: "lateral", 1: "septal"})] * 30
    assert S.seeds_of(swap, "ig") == [0, 1]
    one = S.randomised_excess(swap, "ig", "sum", [0])
    hit, free, excess, lo, _ = one["inferior"]
    assert (hit, free, excess) == (1.0, 0.5, 0.5) and lo > 0
    both = S.randomised_excess(swap, "ig", "sum", [0, 1])
    hit, free, excess, lo, hi = both["inferior"]
    assert (hit, free, excess) == (0.5, 0.25, 0.25) and lo <= 0 <= hi  # the seeds disagree: not shown above
    right = [row("inferior", {0: "inferior", 1: "inferior"})] * 30
    right += [row("anteroseptal", {0: "septal", 1: "septal"})] * 30
    assert all(v[3] > 0 for v in S.randomised_excess(right, "ig", "sum", [0, 1]).values())
    assert "not met: above chance" in "".join(R.goals(right, "ig", "sum"))


def _on(lead: str) -> list[float]:
    """Lead scores (standard order) with all the positive attribution on ``lead``."""
    from ecgviewer.leads import STANDARD_LEADS

    return [1.0 if name == lead else 0.0 for name in STANDARD_LEADS]


def test_the_choice_needs_a_margin_the_records_support() -> None:
    """A variant that localises a record or two more than an earlier one ties with it (the paired
    interval includes zero) and the earlier one is chosen; a clear margin wins."""
    from training.validate.xai import VARIANTS

    right = {"inferior": 3.0, "lateral": 1.0, "septal": 0.5, "anterior": 0.2, "aVR": 0.0}
    wrong = {"inferior": 0.0, "lateral": 3.0, "septal": 0.5, "anterior": 0.2, "aVR": 0.0}

    def rows(n: int, better: int, worse_ig: int) -> list[dict]:
        """``n`` inferior MI records; every variant right on all but the last ``better``, where
        only occlusion-normal is right, and ig wrong on another ``worse_ig``."""
        out = []
        for k in range(n):
            mi = {v: {"territories": wrong if k >= n - better else right} for v in VARIANTS if VARIANTS[v]}
            mi["occlusion-normal"] = {"territories": right}
            if k < worse_ig:
                mi["ig"] = {"territories": wrong}
            out.append({"family": "inferior", "questions": {"MI": mi}})
        return out

    assert S.choose(rows(100, 2, 0))[:2] == ("ig", "sum")  # 2 records of 100: a tie, the first wins
    assert S.choose(rows(100, 30, 0))[:2] == ("occlusion-normal", "sum")  # 30 of 100: a margin
    assert S.choose(rows(100, 2, 30))[:2] == ("ig-frontal", "sum")  # ig itself is clearly worse
    # tied on MI, a variant clearly better on another question (CRBBB on V1-V2) is chosen
    tied = rows(100, 2, 0)
    for k in range(40):
        cd = {v: {"leads": _on("aVR")} for v in VARIANTS if VARIANTS[v]}
        cd["occlusion-normal"] = {"leads": _on("V1")}
        tied.append({"ecg_id": 1000 + k, "family": None, "lead": ("CRBBB",), "questions": {"CD": cd}})
    v, s, _, wins = S.choose(tied)
    assert (v, s) == ("occlusion-normal", "sum") and wins["occlusion-normal"][0] == "CRBBB on V1-V2"
    assert wins["ig"] == ["CRBBB on I, aVL, V5-V6"]  # none puts any there: all tie, and count it


@pytest.mark.parametrize("variant", [v for v, how in xai.VARIANTS.items() if how is not None])
def test_a_model_with_inferior_evidence_is_localised_inferior(shared: Path, variant: str) -> None:
    """A synthetic model that reads only II, III and aVF: on real inferior-MI records, every
    attribution method ranks the inferior territory first (the benchmark can see a right answer)."""
    from ecgviewer import assets

    bench = xai.Bench(assets.model_path(), FLAT)
    model = InferiorEvidence(bench.analyzer.classes).eval()
    bench.analyzer.model = model
    bench.randoms = dict.fromkeys(xai.RANDOM_SEEDS, model)
    bench.variants = {k: v for k, v in xai.VARIANTS.items() if v is not None}  # no attention to roll out
    labels = xai.D.load_labels(shared / "ptbxl")
    chosen = {e: c for e, c in xai.cohorts(labels, (10,)).items() if c.family == "inferior"}
    rows = []
    for ecg_id in sorted(chosen)[:3]:
        path = xai.D.ptbxl_record(shared / "ptbxl", ecg_id).with_suffix(".hea")
        rows.append({"family": "inferior", **bench.record(path, chosen[ecg_id])})
    loc = S.localise(rows, variant, "sum")
    assert loc.hits["inferior"] == (3, 3) and loc.avr_first == (0, 3)
    if variant == "ig":  # a row written before RANDOMISED grew gets the missing entries, no others
        row, path = rows[0], xai.D.ptbxl_record(shared / "ptbxl", sorted(chosen)[0]).with_suffix(".hea")
        gone = row["questions"]["MI"].pop("occlusion-normal-randomised")
        assert row["mi_statement"] in bench.analyzer.classes["all"] and xai.incomplete(row)
        bench.complete(path, row)
        assert not xai.incomplete(row)
        assert row["questions"]["MI"]["occlusion-normal-randomised"]["territories"] == pytest.approx(
            gone["territories"]
        )


@pytest.mark.long
def test_explain_benchmark_command_writes_xai_md(shared: Path, tmp_path: Path) -> None:
    """The command on one record per question of fold 10: the results file, XAI.md with the MI
    table and a figure, the normal beat; a re-run computes nothing. Then the report on those rows
    as both folds: the choice, the goals and the model card's ``explanations`` section. The model
    is the bundled one's architecture at a quarter of its width and depth, with its card: what is
    tested is the command, not the weights (their benchmark is XAI.md)."""
    import dataclasses
    import shutil

    from ecgviewer import assets
    from ecgviewer.ml.bundle import load_model, save_model
    from ecgviewer.ml.model import Classifier
    from ecgviewer.weights import read_card

    bundled = load_model(assets.model_path())
    big = bundled.model
    torch.manual_seed(0)
    small = Classifier(
        dataclasses.replace(big.encoder.config, dim=32, depth=1, heads=2),
        {task: len(names) for task, names in bundled.classes.items()},
        big.head_kind,
    ).eval()
    model = tmp_path / "model" / assets.model_path().name
    model.parent.mkdir()
    card = dict(bundled.card or {}, weights_sha256=save_model(model, small, bundled.classes))
    model.with_suffix(".json").write_text(json.dumps(card))
    out = tmp_path / "XAI.md"
    cmd = [sys.executable, "-m", "training", "explain-benchmark", "--data-root", str(shared),
           "--model", str(model), "--run-dir", str(tmp_path / "run"), "--folds", "10",
           "--limit", "1", "--normal-records", "20", "--ig-steps", "2", "--out", str(out),
           "--no-progress"]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True, timeout=900)
    (results,) = (tmp_path / "run").glob("xai-fold10-*-ig2.jsonl")  # the app's 32 steps: bench, not here
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert {r["family"] for r in rows if r["family"]} == set(xai.FAMILIES)
    mi = next(r for r in rows if r["family"])["questions"]["MI"]
    assert set(mi) == set(xai.VARIANTS) | {xai.randomised_name(v, s) for v, s in xai.randomised_runs()}
    assert np.array(mi["ig"]["profile"]).shape == (12, 96)
    md = out.read_text()
    assert (
        "### MI localisation" in md and "| ig-normal-frontal |" in md and "## The normal-beat reference" in md
    )
    assert (tmp_path / "xai" / "profiles-ig-fold10.png").is_file()
    normal = json.loads((tmp_path / "run" / "normal-beat.json").read_text())
    assert len(normal["ecg_ids"]) == 20 and np.array(normal["beat_mv"]).shape == (12, 96)
    before = results.read_text()
    again = xai.run(model, shared, tmp_path / "run", (10,), 1, 20, progress=False, ig_steps=2)  # as cmd
    assert again == {10: results} and results.read_text() == before  # resumed: every record was done

    as_fold9 = tmp_path / results.name.replace("fold10", "fold9")  # the name carries the weights
    shutil.copy(results, as_fold9)
    R.write_report(model, {9: as_fold9, 10: results}, out, normal)
    md = out.read_text()
    assert "## The choice on fold 9" in md and "### Goals (issue 24)" in md
    section = read_card(model)["explanations"]
    counted = sum(n for _, n in section["agreement"]["MI"].values())
    assert section["fold"] == 10 and counted == len([r for r in rows if r["family"]])
    chosen = xai.VARIANTS[md.split("Chosen: **")[1].split("**")[0]]
    assert chosen is not None and (section["reference"] is not None) == chosen.normal
    assert "## Explanations" in model.with_suffix(".md").read_text()
    ledger = Path(os.environ["TRAINING_LEDGER"]).read_text()  # its read of fold 10, logged
    assert f"{model.name} (explain-benchmark, " in ledger and "| MI | top territory labelled: " in ledger


def test_the_app_explains_as_its_card_says() -> None:
    """The bundled card's ``explanations`` section (written by the benchmark) names a benchmarked
    variant, the app's default method is that method, and the analyzer takes the card's settings."""
    from ecgviewer import assets
    from ecgviewer.ml import session
    from ecgviewer.ml.reference import Settings
    from ecgviewer.weights import read_card

    x = (read_card(assets.model_path()) or {}).get("explanations")
    if x is None:
        pytest.skip("the bundled model card has no explanations section yet")
    chosen = xai.Variant(x["method"], x["frontal"], x["reference"] is not None)
    assert chosen in xai.VARIANTS.values() and session.Request().method is None  # None: the card's
    settings = Settings.from_card({"explanations": x})
    assert (settings.method, settings.frontal, settings.scoring) == (x["method"], x["frontal"], x["scoring"])
    assert (settings.reference.beat is None) == (x["reference"] is None)


def test_a_line_cut_short_by_a_stopped_run_is_redone(tmp_path: Path) -> None:
    path = tmp_path / "xai-fold9-x.jsonl"
    path.write_text('{"ecg_id": 1}\n{"ecg_id": 2}\n{"ecg_id": 3, "quest')
    assert [r["ecg_id"] for r in xai.read_results(path)] == [1, 2]
    path.write_text('{"ecg_id": 1}\n{"ecg_i\n{"ecg_id": 3}\n')
    with pytest.raises(json.JSONDecodeError):  # a broken line inside is not a stopped run: say so
        xai.read_results(path)


def test_a_card_is_never_written_from_results_of_other_weights(tmp_path: Path) -> None:
    """The weights can be replaced while a benchmark of hours runs: its results file names carry the
    SHA-256 they were computed with, and a card is written only from its own weights' results."""
    from ecgviewer.weights import sha256
    from training.supervised.card import check_results_of

    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights")
    own = tmp_path / f"xai-fold9-{sha256(model)[:12]}.jsonl"
    check_results_of(model, [own])
    with pytest.raises(ValueError, match=r"is not the model of xai-fold10-0123456789ab\.jsonl"):
        check_results_of(model, [own, tmp_path / "xai-fold10-0123456789ab.jsonl"])
