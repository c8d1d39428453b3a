"""Signal sources: where a recording's samples come from, read window by window.

A 10 s ECG sits in memory; a 24 h Holter is paged from disk (memory-mapped when the
format stores plain interleaved integers, window reads through wfdb otherwise), so the
viewer only ever touches the samples it shows.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ecgviewer.leads import derive_limb_leads


class SignalSource(ABC):
    """Channels x samples in mV, float32, read by sample index."""

    n_channels: int
    n_samples: int
    lazy: bool = False  # True when samples are paged from disk rather than held in memory

    @abstractmethod
    def _read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (already clipped to the record) as (channels, n) float32."""

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop``, clipped to the record; never fails on out-of-range indices."""
        start = max(0, min(int(start), self.n_samples))
        stop = max(start, min(int(stop), self.n_samples))
        return self._read(start, stop)


class ArraySource(SignalSource):
    """A recording held in memory (reads return views: callers must not write to them)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.n_channels, self.n_samples = self.data.shape

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.data[:, start:stop]


class MemmapSource(SignalSource):
    """Interleaved integer samples in a file, mapped read-only and scaled to mV per window."""

    lazy = True

    def __init__(
        self,
        path: Path,
        *,
        dtype: str,
        n_channels: int,
        n_samples: int,
        offset: int,
        gain: Sequence[float],
        baseline: Sequence[float],
        to_mv: Sequence[float],
        missing: int | None,
        channels: Sequence[int] | None = None,
    ) -> None:
        self._mm = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n_samples, n_channels))
        self._channels = None if channels is None else list(channels)
        self.n_channels = n_channels if channels is None else len(channels)
        self.n_samples = n_samples
        # float32 arithmetic: integers up to 2^24 are exact, the scaling rounds once.
        self._baseline = np.asarray(baseline, dtype=np.float32)[:, None]
        self._scale = (np.asarray(to_mv, np.float64) / np.asarray(gain, np.float64)).astype(np.float32)[
            :, None
        ]
        self._missing = missing

    def _read(self, start: int, stop: int) -> np.ndarray:
        raw = np.asarray(self._mm[start:stop])
        raw = (raw if self._channels is None else raw[:, self._channels]).T
        out = (raw.astype(np.float32) - self._baseline) * self._scale
        if self._missing is not None:
            out[raw == self._missing] = np.nan
        return out


class FetchSource(SignalSource):
    """Window reads through ``fetch(start, stop)`` where a read costs what it returns (records
    decoded from a memory map): no cache, so a jump anywhere costs one page's records."""

    lazy = True

    def __init__(self, fetch: Callable[[int, int], np.ndarray], n_channels: int, n_samples: int) -> None:
        self._fetch = fetch
        self.n_channels, self.n_samples = n_channels, n_samples

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self._fetch(start, stop)


class WindowedSource(SignalSource):
    """Window reads through a library call (``fetch(start, stop)``), with a small block cache.

    The cache is locked: the overview's worker thread pages through the same source as the view.
    """

    lazy = True
    block = 1 << 16  # samples per cached block

    def __init__(
        self, fetch: Callable[[int, int], np.ndarray], n_channels: int, n_samples: int, max_blocks: int = 32
    ) -> None:
        self._fetch = fetch
        self.n_channels, self.n_samples = n_channels, n_samples
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._max_blocks = max_blocks
        self._lock = threading.Lock()

    def _block(self, k: int) -> np.ndarray:
        with self._lock:
            if k in self._cache:
                self._cache.move_to_end(k)
                return self._cache[k]
            start = k * self.block
            data = self._fetch(start, min(start + self.block, self.n_samples))
            self._cache[k] = data
            if len(self._cache) > self._max_blocks:
                self._cache.popitem(last=False)
            return data

    def _read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.empty((self.n_channels, 0), np.float32)
        first, last = start // self.block, (stop - 1) // self.block
        parts = [self._block(k) for k in range(first, last + 1)]
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        off = first * self.block
        return joined[:, start - off : stop - off]


class DerivedLimbSource(SignalSource):
    """Adds leads computed from I and II to a base source (for devices that store 8 leads)."""

    def __init__(self, base: SignalSource, recipe: Sequence[int | str], i: int, ii: int) -> None:
        """``recipe``: per output channel, a base channel index or the name of a derived lead."""
        self.base, self.recipe, self._i, self._ii = base, tuple(recipe), i, ii
        self.n_channels, self.n_samples, self.lazy = len(recipe), base.n_samples, base.lazy

    def _read(self, start: int, stop: int) -> np.ndarray:
        data = self.base.read(start, stop)
        derived = derive_limb_leads(data[self._i], data[self._ii])
        return np.stack([data[r] if isinstance(r, int) else derived[r] for r in self.recipe])
