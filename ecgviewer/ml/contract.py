"""The preprocessing contract: the one implementation the app and ``training/`` both use.

signals (any rate, mV) -> 100 Hz -> zero-phase band-pass 0.67-40 Hz -> R-peaks (lead II, then
the other leads) -> 10 s windows of beat tokens: 12 leads x up to 15 beats x 96 samples, the R
peak at index 48. This follows CLEAR's QRSTokenizer (seed-methods.md §2.1); the deliberate
differences are listed in ``DEVIATIONS``. Bump ``CONTRACT_VERSION`` on any change that alters
tokens: model cards record the version they were trained with and the app refuses a mismatch.

Documented edge cases:
- Every beat is read (``plan_windows``): R-peaks are found once on the whole span, which is cut
  into equal tiles of at most 10 s that do not overlap. A tile's first 15 beats form one window,
  tokenised from the tile's start exactly as a 10 s record is (so a PTB-XL record with up to 15
  beats gives the very tokens the model was trained on); a fast rhythm's further beats form more
  windows of at most 15 beats each (balanced), each starting 0.48 s before its first R peak.
  Every detected beat is in exactly one window, so attributions stay additive over the record;
  the model's probabilities are averaged over windows weighted by their beats (``window_weights``).
- R-peaks from every lead (contract 2): neurokit2's detector on each present lead, allowed 0.25 s
  between peaks (its default 0.3 s finds every other beat above 200 bpm); the reference lead
  (lead II, else the next plausible one in ``RPEAK_LEADS``) keeps its peaks, a peak of it closer
  than 0.3 s to the one before stands only when half the other leads have it too, and a beat that
  half the other leads find but the reference lead missed is added (``consensus``). Contract 1
  used the reference lead alone with 0.3 s: measured in ``training/reports/RPEAKS.md``.
- Shorter than 10 s: one tile; beats that do not exist are zero tokens with ``pad`` set.
- A lead that is missing, all-NaN or flat: every token of it is padded (the model ignores it).
- No lead gives a plausible R-peak series in a window: evenly spaced pseudo-beats (one per 0.96 s,
  at most 15), flagged in ``fallback`` so the viewer can say so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ecgviewer.dsp.resample import to_rate
from ecgviewer.leads import STANDARD_LEADS, standard_leads

CONTRACT_VERSION = "2"
# Earlier contracts whose models this one still reads, and what changed since: a model card keeps
# the version its model was trained with, and its figures under this one (training/reports/RPEAKS.md).
READS_ALSO = {"1": "R-peaks from every lead, where contract 1 took them from one lead"}
FS = 100  # Hz
# The tokeniser families a classifier reads (its weights store which): beat tokens or patches.
BEATS, PATCHES = "beats", "patches"
LEADS: tuple[str, ...] = STANDARD_LEADS
TOKEN_LEN = 96  # samples per beat token (0.96 s)
R_INDEX = TOKEN_LEN // 2  # the R peak sits at this sample of its token
MAX_BEATS = 15  # beats per lead and window (further beats go to further windows)
WINDOW = 10 * FS  # samples per window at most (10 s)
BAND = (0.67, 40.0)  # Hz, Butterworth order 5, forward-backward (CLEAR, §2.1)
BAND_ORDER = 5
RPEAK_LEADS = ("II", "V5", "I", "V6", "aVF", "V4", "III", "V2", "V3", "aVL", "V1", "aVR")
MIN_RATE_BPM = 20.0  # a detection with fewer beats than this over the span is not plausible
RPEAK_METHOD = "neurokit2"  # measured against xqrs on LUDB: see training/README.md and tests
MIN_RR_S = 0.25  # s between R-peaks at least: 240 bpm (neurokit2's own 0.3 s stops at 200)
CONFIRM_RR_S = 0.3  # a reference peak closer than this to the one before needs the other leads
AGREE_S = 0.12  # s: two leads' peaks this close are one beat (a QRS peaks at other times in other
#                  leads, by up to about 0.1 s; EC57 matches a beat within 0.15 s)

DEVIATIONS = (
    "R-peaks: neurokit2's detector instead of wfdb xqrs (better on LUDB at 100 Hz, measured)",
    "resampling: polyphase (scipy resample_poly) instead of FFT, so long records and odd rates "
    "get no wrap-around at the edges",
    "the same R-peak list is used for all leads, as in CLEAR; leads without signal are padded",
    "R-peaks: every lead's detections are fused (``consensus``) and may be 0.25 s apart, so a beat "
    "one lead misses and rhythms up to 240 bpm are read (contract 2)",
)


@dataclass
class Tokens:
    """Beat tokens of one recording: W windows x 12 leads x 15 beats x 96 samples.

    ``values`` are band-passed mV (normalisation happens inside the model, so attributions
    are in mV). ``spans`` and ``rpeaks`` are sample indices in the *source* recording, so any
    per-token quantity can be drawn back on the trace.
    """

    values: np.ndarray  # float32 (W, 12, 15, 96)
    pad: np.ndarray  # bool (W, 12, 15): True where there is no beat
    spans: np.ndarray  # int64 (W, 15, 2): [start, stop) of each beat, source samples
    rpeaks: np.ndarray  # int64 (W, 15): R peak, source samples; -1 where no beat
    local_rpeaks: np.ndarray  # int64 (W, 15): R peak, window samples at 100 Hz; -1 where no beat
    local_spans: np.ndarray  # int64 (W, 15, 2): [start, stop) of each beat, window samples at 100 Hz
    window_start: np.ndarray  # int64 (W,): source samples
    window_stop: np.ndarray  # int64 (W,): source samples; a fast rhythm's windows share a tile's end
    fallback: np.ndarray  # bool (W,): pseudo-beats because no R-peaks were found
    rpeak_lead: str | None  # the lead the R-peaks came from (None: fallback everywhere)
    missing_leads: tuple[str, ...]
    source_fs: float
    detected: int  # R-peaks found on the whole span; every one is a token (``plan_windows``)

    @property
    def n_windows(self) -> int:
        return self.values.shape[0]

    def support(self) -> np.ndarray:
        """bool (W, 15, 96): the token samples a beat fills (a short beat leaves its ends at 0)."""
        j = np.arange(TOKEN_LEN)
        r, (a, b) = self.local_rpeaks[..., None], np.moveaxis(self.local_spans[..., None], -2, 0)
        return (self.local_rpeaks[..., None] >= 0) & (j >= R_INDEX - (r - a)) & (j < R_INDEX + (b - r))


def to_model_rate(signals: np.ndarray, fs: float, rate: int = FS) -> np.ndarray:
    """Resample (leads, n) to ``rate`` (the contract's 100 Hz), ``dsp.resample.to_rate``."""
    return to_rate(signals, fs, rate)


def band_pass(x: np.ndarray, fs: int = FS) -> np.ndarray:
    """Zero-phase 0.67-40 Hz Butterworth band-pass along the last axis (input at ``fs``)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(BAND_ORDER, BAND, btype="bandpass", fs=fs, output="sos")
    if x.shape[-1] <= 3 * (2 * len(sos) + 1):
        return x - x.mean(axis=-1, keepdims=True)  # too short to filter; remove the offset
    return sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def _neurokit():
    # neurokit2 imports matplotlib.pyplot; never let that pick a GUI backend.
    os.environ.setdefault("MPLBACKEND", "agg")
    import neurokit2

    return neurokit2


def warm_up() -> None:
    """Import the R-peak detector's library now: neurokit2 brings pandas, scipy, scikit-learn and
    matplotlib (~2 s), so a viewer loading its model in the background pays that there, not
    in its first analysis."""
    if RPEAK_METHOD == "neurokit2":
        _neurokit()


def detect_rpeaks(
    x: np.ndarray, fs: float = FS, method: str = RPEAK_METHOD, min_rr_s: float = MIN_RR_S
) -> np.ndarray:
    """R-peak sample indices of one lead, by ``neurokit2`` (at least ``min_rr_s`` apart) or
    ``xqrs`` (wfdb)."""
    if method == "neurokit2":
        nk = _neurokit()
        x = np.asarray(x, dtype=np.float64)
        peaks = nk.ecg_findpeaks(x, sampling_rate=round(fs), mindelay=min_rr_s)
        return np.asarray(peaks["ECG_R_Peaks"], dtype=np.int64)
    if method == "xqrs":
        from wfdb import processing

        return np.asarray(processing.xqrs_detect(x, fs=fs, verbose=False), dtype=np.int64)
    raise ValueError(f"unknown R-peak method {method!r}")


def _plausible(peaks: np.ndarray, n: int) -> bool:
    return len(peaks) >= max(2, n / FS / 60 * MIN_RATE_BPM)


def find_rpeaks(
    x100: np.ndarray, present: np.ndarray, method: str = RPEAK_METHOD
) -> tuple[np.ndarray, str | None]:
    """R-peaks for all leads: the reference lead (lead II, else the first lead in ``RPEAK_LEADS``
    that gives a plausible series) checked and completed by the other leads (``consensus``).
    Returns (peaks at 100 Hz, reference lead name) or (empty, None)."""
    found = [
        (lead, detect_rpeaks(x100[i], FS, method)) for lead in RPEAK_LEADS if present[i := LEADS.index(lead)]
    ]
    for k, (lead, peaks) in enumerate(found):
        if _plausible(peaks, x100.shape[-1]):
            return consensus(peaks, [p for j, (_, p) in enumerate(found) if j != k]), lead
    return np.zeros(0, dtype=np.int64), None


def consensus(ref: np.ndarray, others: Sequence[np.ndarray]) -> np.ndarray:
    """The reference lead's R-peaks, checked and completed by the other leads' (100 Hz).

    Written here because neither neurokit2 nor wfdb fuses leads. A reference peak closer than
    ``CONFIRM_RR_S`` to the previous one (a second peak in one wide QRS, or a true rate above
    200 bpm) is kept when at least half of the other leads have a peak within ``AGREE_S``. A beat
    the reference lead missed is added where at least half of the other leads agree on it (their
    median position), and it is at least 0.6 of the leads' typical RR (and ``MIN_RR_S``) from every
    kept peak, so a T wave or a late part of the same QRS is not taken for a beat. Without other
    leads the reference stands as it is.
    """
    ref = np.asarray(ref, dtype=np.int64)
    if not others:
        return ref
    agree, need = round(AGREE_S * FS), max(1, math.ceil(len(others) / 2))

    def support(q: int) -> int:
        return sum(bool(len(o)) and int(np.min(np.abs(o - q))) <= agree for o in others)

    kept: list[int] = []
    for q in ref.tolist():
        if not kept or q - kept[-1] >= CONFIRM_RR_S * FS or support(q) >= need:
            kept.append(q)
    rrs = [float(np.median(np.diff(p))) for p in (ref, *others) if len(p) > 2]
    if not rrs:
        return np.asarray(kept, dtype=np.int64)
    apart = max(MIN_RR_S * FS, 0.6 * float(np.median(rrs)))
    lead = np.concatenate([np.full(len(o), k) for k, o in enumerate(others)]).astype(np.int64)
    cand = np.concatenate([np.asarray(o, dtype=np.int64) for o in others])
    order = np.argsort(cand, kind="stable")
    cand, lead = cand[order], lead[order]
    cuts = np.flatnonzero(np.diff(cand) > agree) + 1
    agreed = np.array(
        [int(np.median(b)) for b, ls in zip(np.split(cand, cuts), np.split(lead, cuts), strict=True)
         if len(np.unique(ls)) >= need],
        dtype=np.int64,
    )  # fmt: skip
    ref_kept = np.asarray(kept, dtype=np.int64)
    added: list[int] = []
    for pos in agreed[_distance(agreed, ref_kept) >= apart].tolist():  # in time order
        if not added or pos - added[-1] >= apart:
            added.append(pos)
    return np.sort(np.concatenate([ref_kept, np.asarray(added, dtype=np.int64)]))


def _distance(x: np.ndarray, sorted_peaks: np.ndarray) -> np.ndarray:
    """Each of ``x``'s distance to the nearest of ``sorted_peaks`` (inf where there are none)."""
    if len(sorted_peaks) == 0:
        return np.full(len(x), np.inf)
    j = np.searchsorted(sorted_peaks, x)
    after = sorted_peaks[np.minimum(j, len(sorted_peaks) - 1)]
    before = sorted_peaks[np.maximum(j - 1, 0)]
    return np.minimum(np.abs(after - x), np.abs(x - before)).astype(np.float64)


def tiles(n: int) -> np.ndarray:
    """[start, stop) (100 Hz) of the equal tiles of at most ``WINDOW`` samples that cover ``n``
    samples without overlap: equal, so a record a little over 10 s leaves no sliver of a tile."""
    k = max(1, -(-n // WINDOW))
    edges = np.round(np.linspace(0, n, k + 1)).astype(np.int64)
    return np.stack([edges[:-1], edges[1:]], axis=1)


@dataclass(frozen=True)
class Window:
    """One model window: ``[start, stop)`` at 100 Hz and its R-peaks (absolute, 100 Hz)."""

    start: int
    stop: int
    peaks: np.ndarray
    fallback: bool  # pseudo-beats: no plausible R-peak series in this tile


def plan_windows(peaks: np.ndarray, n: int, chunk: bool = True) -> list[Window]:
    """Cut ``n`` samples with R-peaks ``peaks`` (100 Hz) into model windows that read every beat
    once (module docstring). A tile without a plausible R-peak series gets evenly spaced
    pseudo-beats (one per 0.96 s) instead, flagged ``fallback``. ``chunk=False`` keeps one window
    per tile with its first 15 beats: a patch classifier reads the whole tile anyway, and a
    further window would read its samples twice."""
    out = []
    for a, b in tiles(n):
        own = peaks[(peaks >= a) & (peaks < b)]
        if not _plausible(own, b - a):
            count = min(MAX_BEATS, max(1, (b - a) // TOKEN_LEN))
            pseudo = a + np.linspace(R_INDEX, b - a - R_INDEX, count).astype(np.int64)
            out.append(Window(int(a), int(b), pseudo, True))
            continue
        out.append(Window(int(a), int(b), own[:MAX_BEATS], False))
        rest = own[MAX_BEATS:] if chunk else own[:0]
        for part in np.array_split(rest, -(-len(rest) // MAX_BEATS)) if len(rest) else []:
            out.append(Window(int(max(a, part[0] - R_INDEX)), int(b), part, False))
    return out


def window_weights(tokens: Tokens) -> np.ndarray:
    """(W,) weights of the windows when a record's probabilities are averaged: each window's
    share of the record's beats (pseudo-beats count as beats), summing to 1."""
    beats = (tokens.rpeaks >= 0).sum(axis=1).astype(np.float64)
    return beats / beats.sum() if beats.sum() > 0 else np.full(len(beats), 1.0 / len(beats))


def beat_spans(peaks: np.ndarray, n: int) -> np.ndarray:
    """[start, stop) of each beat: midpoint to midpoint, the ends R-48/R+48, at most R+-48.

    ``peaks`` are local to a window of ``n`` samples.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    mids = (peaks[:-1] + peaks[1:]) // 2
    start = np.concatenate([[peaks[0] - R_INDEX], mids])
    stop = np.concatenate([mids, [peaks[-1] + R_INDEX]])
    start = np.maximum(np.maximum(start, peaks - R_INDEX), 0)
    stop = np.minimum(np.minimum(stop, peaks + R_INDEX), n)
    return np.stack([start, stop], axis=1)


def tokenise_window(x: np.ndarray, peaks: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, ...]:
    """Tokens of one window ``x`` (12, n <= 1000) given R-peaks local to it.

    Returns values (12, 15, 96), pad (12, 15), the R-peak of each beat slot (15,) (-1 where none:
    the encoder's time and RR inputs) and local spans (15, 2).
    """
    values = np.zeros((len(LEADS), MAX_BEATS, TOKEN_LEN), dtype=np.float32)
    pad = np.ones((len(LEADS), MAX_BEATS), dtype=bool)
    slots = np.full(MAX_BEATS, -1, dtype=np.int64)
    spans = np.zeros((MAX_BEATS, 2), dtype=np.int64)
    peaks = np.asarray(peaks, dtype=np.int64)[:MAX_BEATS]
    spans[: len(peaks)] = beat_spans(peaks, x.shape[-1])
    for j, r in enumerate(peaks):
        a, b = spans[j]
        values[:, j, R_INDEX - (r - a) : R_INDEX + (b - r)] = x[:, a:b]
        slots[j] = r
        pad[present, j] = False
    values[~present] = 0.0
    return values, pad, slots, spans


def prepare(
    signals: np.ndarray, fs: float, leads: Sequence[str], rate: int = FS
) -> tuple[np.ndarray, np.ndarray]:
    """The 12 standard leads at ``rate`` (the contract's 100 Hz; a patch spec may ask for another),
    band-passed: (12, n) float32 and the bool "present" mask. Every tokeniser starts from this."""
    x, present = standard_leads(signals, leads)
    return band_pass(to_model_rate(x, fs, rate), rate), present


def tokenise(signals: np.ndarray, fs: float, leads: Sequence[str], method: str = RPEAK_METHOD) -> Tokens:
    """Apply the whole contract to (leads, n) mV ``signals`` sampled at ``fs``."""
    return tokenise_prepared(*prepare(signals, fs, leads), fs, method)


def tokenise_prepared(
    x: np.ndarray, present: np.ndarray, fs: float, method: str = RPEAK_METHOD, chunk: bool = True
) -> Tokens:
    """The tokens of ``prepare``'s output; ``fs`` is the source rate, for the source-sample spans.
    ``chunk``: as ``plan_windows`` (False for a patch classifier's scaffold)."""
    missing = tuple(lead for lead, ok in zip(LEADS, present, strict=True) if not ok)
    n = x.shape[-1]
    peaks, rpeak_lead = find_rpeaks(x, present, method) if present.any() else (np.zeros(0, int), None)
    plan = plan_windows(peaks, n, chunk)
    w = len(plan)
    scale = fs / FS
    out = Tokens(
        values=np.zeros((w, len(LEADS), MAX_BEATS, TOKEN_LEN), dtype=np.float32),
        pad=np.ones((w, len(LEADS), MAX_BEATS), dtype=bool),
        spans=np.zeros((w, MAX_BEATS, 2), dtype=np.int64),
        rpeaks=np.full((w, MAX_BEATS), -1, dtype=np.int64),
        local_rpeaks=np.full((w, MAX_BEATS), -1, dtype=np.int64),
        local_spans=np.zeros((w, MAX_BEATS, 2), dtype=np.int64),
        window_start=np.round(np.array([p.start for p in plan]) * scale).astype(np.int64),
        window_stop=np.round(np.array([p.stop for p in plan]) * scale).astype(np.int64),
        fallback=np.array([p.fallback for p in plan], dtype=bool),
        rpeak_lead=rpeak_lead,
        missing_leads=missing,
        source_fs=float(fs),
        detected=len(peaks),
    )
    for k, p in enumerate(plan):
        local = p.peaks - p.start
        values, pad, slots, spans = tokenise_window(x[:, p.start : p.stop], local, present)
        nb = len(local)
        out.values[k], out.pad[k], out.local_rpeaks[k] = values, pad, slots
        out.spans[k, :nb] = np.round((spans[:nb] + p.start) * scale).astype(np.int64)
        out.rpeaks[k, :nb] = np.round(p.peaks * scale).astype(np.int64)
        out.local_spans[k, :nb] = spans[:nb]
    return out


# --- Patch tokens (ECG-JEPA, seed-methods.md §1.1) ---------------------------------------------

import typing  # noqa: E402 (annotations only; torch stays optional for this module)

if typing.TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class PatchSpec:
    """How a window becomes a (lead x time) grid of fixed-length patches (§1.1).

    The project's preset keeps all 12 leads at the contract's 100 Hz, so every pretraining method
    sees the same data; ``JEPA_REFERENCE`` is the paper's setting.
    """

    leads: tuple[str, ...] = LEADS
    fs: int = FS
    patch_s: float = 0.2
    window_s: float = 10.0

    def __post_init__(self) -> None:
        if not set(self.leads) <= set(LEADS) or self.window_samples % self.patch_len:
            raise ValueError(f"invalid patch spec {self}")

    @property
    def patch_len(self) -> int:
        """Samples per patch."""
        return round(self.fs * self.patch_s)

    @property
    def window_samples(self) -> int:
        return round(self.fs * self.window_s)

    @property
    def n_patches(self) -> int:
        """Patches per lead."""
        return self.window_samples // self.patch_len

    def to_dict(self) -> dict:
        return {"leads": list(self.leads), "fs": self.fs, "patch_s": self.patch_s, "window_s": self.window_s}

    @classmethod
    def from_dict(cls, d: dict) -> PatchSpec:
        return cls(leads=tuple(d["leads"]), fs=int(d["fs"]), patch_s=d["patch_s"], window_s=d["window_s"])


# The paper's input (§1.1): 8 independent leads at 250 Hz, 50 patches of 50 samples per lead.
JEPA_REFERENCE = PatchSpec(leads=("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"), fs=250)


@typing.overload
def patchify(
    x: np.ndarray, present: np.ndarray, spec: PatchSpec, length: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]: ...
@typing.overload
def patchify(
    x: torch.Tensor, present: torch.Tensor, spec: PatchSpec, length: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]: ...
def patchify(
    x: np.ndarray | torch.Tensor,
    present: np.ndarray | torch.Tensor,
    spec: PatchSpec,
    length: np.ndarray | torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """Patches of the first ``spec.window_s`` of ``x``: values (..., L, T, P) and pad (..., L, T).

    ``x`` (..., 12, n) is the band-passed signal at ``spec.fs`` and ``present`` (..., 12) its lead
    mask, both numpy or both torch (the cache and the training batch share this code). The
    project feeds every method the contract's 0.67-40 Hz band-passed signal (same data for all
    four); the paper pretrains on raw mV (§1.1). ``spec.leads`` are taken in their order; a short
    record is zero-padded. ``pad`` is True for absent leads and for patches wholly past the
    record's end (``length`` (...,) valid samples, default n); padded samples are zeroed.
    """
    idx = [LEADS.index(lead) for lead in spec.leads]
    n, w = x.shape[-1], spec.window_samples
    seg = x[..., idx, :w]
    if n < w:
        seg = _cat_zeros(seg, w - n)
    valid = _arange(x, w) < (n if length is None else length[..., None])  # (..., w) or (w,)
    keep = present[..., idx, None] & valid[..., None, :]  # (..., L, w)
    shape = (*keep.shape[:-1], spec.n_patches, spec.patch_len)
    values = (seg * keep).reshape(shape)
    pad = ~keep.reshape(shape).any(-1)
    return values, pad  # type: ignore[return-value]  # numpy in, numpy out; torch in, torch out


def _arange(like: np.ndarray | torch.Tensor, n: int) -> np.ndarray | torch.Tensor:
    if isinstance(like, np.ndarray):
        return np.arange(n)
    import torch  # already loaded when ``like`` is a tensor

    return torch.arange(n, device=like.device)


def _cat_zeros(x: np.ndarray | torch.Tensor, n: int) -> np.ndarray | torch.Tensor:
    """``x`` with ``n`` zero samples appended on the last axis, numpy or torch."""
    if isinstance(x, np.ndarray):
        return np.concatenate([x, np.zeros((*x.shape[:-1], n), dtype=x.dtype)], axis=-1)
    import torch

    return torch.cat([x, x.new_zeros((*x.shape[:-1], n))], dim=-1)
