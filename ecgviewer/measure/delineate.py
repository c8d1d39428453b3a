"""The delineator: load the bundled U-Net, label samples, and turn labels into waves.

Weights are safetensors (never a pickle) with their architecture and the delineation contract
version in the metadata; a JSON card beside them names the training records and command. An
``.int8.json`` beside them holds the activation ranges of their 8-bit form (``unet.Int8UNet``),
calibrated on the training records by ``python -m training delineator-int8``: the beat list's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ecgviewer.dsp.runs import runs
from ecgviewer.errors import EcgError
from ecgviewer.measure import signal

WAVES = ("P", "QRS", "T")
MIN_MS = {"P": 24.0, "QRS": 28.0, "T": 48.0}  # shorter runs of a label are noise
MERGE_MS = 12.0  # same-label runs separated by less than this are one wave


@dataclass(frozen=True)
class Wave:
    kind: str  # "P", "QRS" or "T"
    on: float  # samples at signal.FS, sub-sample
    off: float


INT8_SUFFIX = ".int8.json"
BATCH = 16  # stretches at most in one call of ``labels_of``


class Delineator:
    """A trained U-Net in eval mode; ``probabilities`` runs it on prepared 250 Hz signals.

    The model is not changed after construction: ``probabilities`` runs its frozen form (its
    8-bit form in the delineator ``int8`` returns)."""

    def __init__(self, model, meta: dict, int8_ranges: dict | None = None, *, in_int8: bool = False) -> None:
        self.model = model
        self.meta = meta
        self.int8_ranges = int8_ranges  # calibrated activation ranges of the 8-bit form, if any
        self.in_int8 = in_int8

    def __getstate__(self) -> dict:
        """Pickled (to a worker process, ``workers``) without its built forms: they are rebuilt there."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_frozen", "_int8")}

    @cached_property
    def _frozen(self):
        if self.in_int8:
            from ecgviewer.measure.unet import Int8UNet

            return Int8UNet(self.model, self.int8_ranges or {})
        return self.model.frozen()

    @cached_property
    def _int8(self) -> Delineator:
        if self.int8_ranges is None or self.in_int8:
            return self
        return Delineator(self.model, self.meta, self.int8_ranges, in_int8=True)

    def built(self) -> Delineator:
        """This delineator with its network built now, before threads share it: two threads
        building it at once would build it twice, and its build silences torch's notices with
        ``warnings.catch_warnings``, which is not thread-safe."""
        self._frozen  # noqa: B018  (a cached property: built once, here)
        return self

    def int8(self) -> Delineator:
        """The 8-bit form, for the beat list of long recordings (``unet.Int8UNet``); this float
        one where there are no calibrated ranges beside the weights or no 8-bit engine."""
        return self._int8

    @classmethod
    def load(cls, path: Path) -> Delineator:
        from ecgviewer.measure.unet import UNet1d, UNetConfig
        from ecgviewer.weights import read_card, read_weights

        path = Path(path)
        meta, state = read_weights(path, "delineator", "delineator")
        if meta.get("contract") != signal.VERSION:
            raise EcgError(
                f"{path.name}: trained with delineation contract {meta.get('contract')}, "
                f"this version uses {signal.VERSION}"
            )
        try:
            model = UNet1d(UNetConfig.from_dict(meta["config"]))
            model.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError) as exc:
            raise EcgError(f"{path.name}: weights do not match their architecture ({exc})") from exc
        model.eval()
        read_card(path)  # refuses weights that do not match their card
        return cls(model, meta, _int8_ranges(path))

    @classmethod
    def bundled(cls) -> Delineator:
        from ecgviewer.assets import delineator_path

        return cls.load(delineator_path())

    @classmethod
    def for_beats(cls) -> Delineator:
        """The beat list's delineator (``assets.beat_delineator_path``; ``rhythm``)."""
        from ecgviewer.assets import beat_delineator_path

        return cls.load(beat_delineator_path())

    @classmethod
    def second_opinion(cls) -> Delineator:
        """The beat list's second opinion (``measure.confirm``): taught electrode motion."""
        from ecgviewer.assets import second_opinion_path

        return cls.load(second_opinion_path())

    def save(self, path: Path, extra: dict | None = None) -> str:
        """Write weights + metadata atomically; returns the SHA-256 of the file."""
        from ecgviewer.weights import save_weights

        meta = {"config": self.model.config.to_dict(), "contract": signal.VERSION, **(extra or {})}
        return save_weights(Path(path), self.model, "delineator", meta)

    def probabilities(self, x: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
        """Prepared (leads, n) 250 Hz signals -> class probabilities (leads, 4, n)."""
        import torch

        with torch.inference_mode():
            return torch.softmax(self._logits(x, present), dim=1).numpy()

    def labels(self, x: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
        """Prepared (leads, n) 250 Hz signals -> each sample's most likely class (leads, n), an
        index into ``unet.CLASSES``: the argmax of the logits, without the softmax's cost."""
        import torch

        with torch.inference_mode():
            return self._logits(x, present).argmax(dim=1).numpy()

    def labels_of(self, stretches: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``labels`` of each of several prepared (leads, n) stretches of one length, read together:
        a network call's own cost is most of a short stretch's (the second opinion's 3 s of 2 leads,
        one thread: 1.8 ms alone, 1.1 ms each of eight read at once). Each stretch of a batch is
        read alone (its own spatial RMS; the 8-bit form's scales are fixed). The batches are
        powers of two, at most BATCH: the 8-bit engine builds its kernels for each new shape."""
        import torch

        out: list[np.ndarray] = []
        while len(out) < len(stretches):
            size = min(BATCH, 1 << ((len(stretches) - len(out)).bit_length() - 1))
            batch = np.concatenate([inputs(x) for x in stretches[len(out) : len(out) + size]])
            with torch.inference_mode():
                labels = self._frozen(torch.from_numpy(batch)).argmax(dim=1).numpy()
            out.extend(labels.reshape(size, -1, labels.shape[-1]))
        return out

    def _logits(self, x: np.ndarray, present: np.ndarray | None):
        import torch

        return self._frozen(torch.from_numpy(inputs(x, present)))


def inputs(x: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """The network's input (leads, 2, n) of prepared signals: each lead with the spatial RMS."""
    rms = signal.spatial_rms(x, present)
    return np.stack([x, np.broadcast_to(rms, x.shape)], axis=1).astype(np.float32)


def int8_path(weights: Path) -> Path:
    """Where the 8-bit form's activation ranges of ``weights`` are: beside them."""
    return weights.with_name(weights.name.removesuffix(".safetensors") + INT8_SUFFIX)


def _int8_ranges(weights: Path) -> dict | None:
    """The activation ranges beside ``weights`` (None without them or without an 8-bit engine);
    ranges calibrated for other weights are refused, as a card that does not match is."""
    import json

    from ecgviewer.measure.unet import int8_supported
    from ecgviewer.weights import sha256

    path = int8_path(weights)
    if not path.is_file() or not int8_supported():
        return None
    try:
        doc = json.loads(path.read_text())
        sha, ranges = doc["weights_sha256"], doc["ranges"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EcgError(f"{path.name}: unreadable 8-bit ranges ({exc})") from exc
    if sha != sha256(weights):
        raise EcgError(f"{weights.name}: weights do not match the SHA-256 in {path.name}")
    return ranges


def waves(probs: np.ndarray) -> list[Wave]:
    """Waves of one lead from its (4, n) probabilities: argmax runs, merged across tiny gaps,
    short ones dropped, each edge placed where the wave's probability crosses 0.5."""
    label = probs.argmax(axis=0)
    out: list[Wave] = []
    for k, kind in enumerate(WAVES, start=1):
        starts, ends = wave_runs(label == k, kind)
        p = probs[k]
        out += [
            Wave(kind, _edge(p, a, rising=True), _edge(p, b, rising=False))
            for a, b in zip(starts, ends, strict=True)
        ]
    return sorted(out, key=lambda w: w.on)


def wave_runs(mask: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of one wave's label at signal.FS: runs closer than
    MERGE_MS are one wave, and runs shorter than MIN_MS are none."""
    starts, ends = runs(mask)
    if len(starts) == 0:
        return starts, ends
    split = starts[1:] - ends[:-1] >= MERGE_MS * signal.FS / 1000
    starts, ends = starts[np.r_[True, split]], ends[np.r_[split, True]]
    long = (ends - starts) * 1000 / signal.FS >= MIN_MS[kind]
    return starts[long], ends[long]


def _edge(p: np.ndarray, i: int, rising: bool) -> float:
    """Sub-sample edge of a run starting (rising) or ending (falling) at sample boundary ``i``:
    the wave's 0.5 crossing between samples i-1 and i, shifted half a sample so that a crossing
    exactly between them gives the first (or last) labelled sample, as annotations count."""
    if i <= 0 or i >= len(p):
        return float(i) if rising else float(i - 1)
    before, after = float(p[i - 1]), float(p[i])
    if before == after:
        return float(i) if rising else float(i - 1)
    crossing = i - 1 + float(np.clip((0.5 - before) / (after - before), 0.0, 1.0))
    return crossing + 0.5 if rising else crossing - 0.5
