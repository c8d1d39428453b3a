"""Do the bundled encoder's beat tokens help the beat list's classes where labels are few (issue 74
part 2)? The self-supervised encoder was pretrained on PTB-XL's 10 s 12-lead records; MIT-BIH
DS1 gives its beat classes to 22 patients only.

Each DS1 record's beats (the beat list's own detections, ``beat_classifier.detections``) are read
by the bundled encoder in the contract's windows (``contract.plan_windows``, every beat once), the
beat list's R peaks as the tokens' beats and MIT-BIH's two leads in their standard slots (the
others padded, as a missing lead is). A beat's token vector is the encoder's hidden state of its
token, averaged over the leads recorded: it has seen the beat's shape, its RR intervals and every
other beat of its window.

Three inputs to the same perceptron (the shipped classifier's settings and bias, clean records
only, leave one record out):

- ``features``: the hand-made features and their differences from the recording's median
  (``beat_classes.inputs``, what the app uses);
- ``tokens``: the token vectors and their differences from the recording's median;
- ``both``: the two side by side.

Every arm's records are scored by EC57 (``ec57.score_list``), and the arms are compared paired by
record: the gross difference from ``features`` with a 95 % interval by a bootstrap over records.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecgviewer.measure import beat_classes as C
from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, SHARED_DATA

COMMAND = "python -m training beat-tokens"
OUT = REPORTS / "BEAT_TOKENS.md"
ARMS = ("features", "tokens", "both")
COMPARED = ("veb_se", "veb_pp", "sveb_se", "sveb_pp")
BATCH = 64  # windows per encoder call


def token_vectors(rec, t_s: np.ndarray, model) -> np.ndarray:
    """(beats, dim) of a recording's beats at ``t_s`` (s): each beat's hidden state in the
    encoder of the classifier ``model``, averaged over the recorded leads; NaN for a beat the
    contract could not place (two beats in one 10 ms sample, or a tile it read as implausible)."""
    import torch

    from ecgviewer.ml import contract

    x, present = contract.prepare(np.asarray(rec.read(0, rec.n_samples), dtype=np.float64), rec.fs, rec.leads)
    peaks = np.round(np.asarray(t_s) * contract.FS).astype(np.int64)
    encoder = model.encoder
    out = np.full((len(peaks), encoder.config.dim), np.nan, dtype=np.float32)
    plan = [w for w in contract.plan_windows(peaks, x.shape[-1]) if not w.fallback]
    n_leads = len(contract.LEADS)
    for first in range(0, len(plan), BATCH):
        part = plan[first : first + BATCH]
        tokens = [contract.tokenise_window(x[:, w.start : w.stop], w.peaks - w.start, present) for w in part]
        values, pad, slots = (torch.from_numpy(np.stack([t[i] for t in tokens])) for i in range(3))
        with torch.inference_mode():
            hidden = encoder(values, pad, slots)[0][:, n_leads:].reshape(
                len(part), n_leads, contract.MAX_BEATS, -1
            )
        seen = (~pad).float()[..., None]  # (windows, leads, beats, 1)
        mean = ((hidden * seen).sum(1) / seen.sum(1).clamp_min(1.0)).numpy()  # (windows, beats, dim)
        for k, w in enumerate(part):
            at = np.searchsorted(peaks, w.peaks)
            ok = (at < len(peaks)) & (peaks[np.minimum(at, len(peaks) - 1)] == w.peaks)
            out[at[ok]] = mean[k, : len(w.peaks)][ok]
    return out


def relative(v: np.ndarray) -> np.ndarray:
    """(beats, 2 * dim): each vector and its difference from the recording's median, as
    ``beat_classes.inputs`` has the features."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no beat placed: NaN
        usual = np.nanmedian(v, axis=0, keepdims=True) if len(v) else np.zeros((1, v.shape[1]), np.float32)
    return np.concatenate([v, v - usual], axis=1).astype(np.float32)


@dataclass(frozen=True)
class OnInputs:
    """A fitted classifier that reads other inputs than the features (``BeatClassifier.labelled``'
    ``x``), so that ``rhythm.classify`` lists a record's beats with it."""

    model: C.BeatClassifier
    x: np.ndarray
    two_pass = False  # its inputs are given, not taken again from the RR intervals

    def labelled(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.model.labelled(features, self.x)


def run(mitdb: Path, names: Sequence[str], progress=print) -> tuple[dict[str, list], dict]:
    """Each arm's EC57 counts per record, every record classed by the arm fitted without it, and
    the perceptron's settings (the shipped classifier's)."""
    from ecgviewer.assets import model_path
    from ecgviewer.io import load
    from ecgviewer.measure.rhythm import classify
    from ecgviewer.ml.bundle import load_model
    from training.supervised import beat_classifier as BC
    from training.validate.ec57 import score_list

    data = BC.detections(mitdb, names, progress)
    model = load_model(model_path()).model.eval()
    vectors = {}
    for name in names:
        progress(f"beat-tokens {name}: encoding")
        vectors[name] = relative(token_vectors(load(mitdb / f"{name}.hea"), data[name][0].t_s, model))
    inputs = {
        "features": lambda name, found: C.inputs(found.features),
        "tokens": lambda name, found: vectors[name],
        "both": lambda name, found: np.concatenate([C.inputs(found.features), vectors[name]], axis=1),
    }
    bundled = C.BeatClassifier.bundled()
    cfg = BC.settings(bundled.meta)
    rows: dict[str, list] = {}
    for arm in ARMS:
        rows[arm] = []
        for name in names:
            progress(f"beat-tokens {arm}: fitting without {name}")
            x, y = BC.dataset(data, [n for n in names if n != name], inputs[arm])
            fitted = BC.with_bias(
                BC.fit(x, y, cfg, [f"{arm}{i}" for i in range(x.shape[1])])[0], bundled.meta["bias"]
            )
            found = data[name][0]
            listed = classify(found, OnInputs(fitted, inputs[arm](name, found)))  # type: ignore[arg-type]
            rows[arm].append(score_list(name, mitdb, listed))
    return rows, {**asdict(cfg), "bias": bundled.meta["bias"]}


def report(rows: dict[str, list], mitdb: Path, settings: dict) -> str:
    from training.validate.ec57 import NAMES, gross, paired, stats

    pct = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
    names = [c.record for c in rows["features"]]
    lines = [
        f"# Beat tokens or hand-made features for the beat list's classes (generated by `{COMMAND}`)",
        "",
        "Do not edit by hand: run the command again. See `training/validate/beat_tokens.py` for the "
        "protocol: the same perceptron (the shipped classifier's settings and bias) on three inputs, "
        f"leave one record out over {len(names)} MIT-BIH DS1 records from `{mitdb.name}/` "
        f"({', '.join(names)}), clean records only, scored by EC57's rules (`ec57.score_list`). "
        f"The perceptron's settings: `{json.dumps(settings)}`.",
        "",
        "| input | " + " | ".join(NAMES[k] for k in COMPARED) + " |",
        "|---|" + "---|" * len(COMPARED),
    ]
    for arm in ARMS:
        s = stats(gross(rows[arm], paced=False))
        lines.append(f"| {arm} | " + " | ".join(pct(s[k]) for k in COMPARED) + " |")
    lines += [
        "",
        "Paired by record, gross difference from `features` (percentage points) "
        "[95 % bootstrap over records]:",
        "",
    ]
    lines += ["| input | " + " | ".join(NAMES[k] for k in COMPARED) + " |", "|---|" + "---|" * len(COMPARED)]
    for arm in ARMS[1:]:
        d = paired(rows[arm], rows["features"], COMPARED)
        cells = [f"{d[k][0]:+.2f} [{d[k][1]:+.2f}, {d[k][2]:+.2f}]" if k in d else "-" for k in COMPARED]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "Per record (VEB Se / +P, SVEB Se / +P):", "", "| record | " + " | ".join(ARMS) + " |",
              "|---|" + "---|" * len(ARMS)]  # fmt: skip
    for i, name in enumerate(names):
        cells = []
        for arm in ARMS:
            s = stats(rows[arm][i])
            cells.append(" / ".join(pct(s[k]) for k in COMPARED))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mitdb", type=Path, default=SHARED_DATA / "mitdb", help="MIT-BIH DS1 records")
    p.add_argument(
        "--records", nargs="*", default=None, help="only these records (default: every unpaced one)"
    )
    p.add_argument(
        "--out", type=Path, default=OUT, help="the report (default training/reports/BEAT_TOKENS.md)"
    )


def command(args: argparse.Namespace) -> None:
    """The encoder's beat tokens against the hand-made features for the beat list's classes,
    paired by record (BEAT_TOKENS.md)."""
    from training.validate.ec57 import PACED, gross, stats

    if not args.mitdb.is_dir():
        raise SystemExit(f"{args.mitdb}: no MIT-BIH records there (../shared/data/mitdb)")
    names = args.records or [n for n in sorted(p.stem for p in args.mitdb.glob("*.atr")) if n not in PACED]
    rows, settings = run(args.mitdb, names)
    atomic_write_bytes(args.out, report(rows, args.mitdb, settings).encode())
    print(json.dumps({arm: stats(gross(rows[arm], paced=False)) for arm in ARMS} | {"report": str(args.out)}))
