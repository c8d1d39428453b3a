"""What every pretraining objective receives per step: one record per row, as beat tokens and
as the band-passed 100 Hz window they were cut from (so signal-space augmentations and other
tokenisers see exactly the same data)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class Batch:
    values: Tensor  # float32 (B, 12, 15, 96): beat tokens, band-passed mV (contract.tokenise_window)
    pad: Tensor  # bool (B, 12, 15): True where there is no beat (or the lead is absent)
    signal: Tensor  # float32 (B, 12, 1000): the contract's band-passed 100 Hz window; 0 past the end
    length: Tensor  # int64 (B,): valid samples of ``signal`` (1000 for a 10 s record)
    present: Tensor  # bool (B, 12): leads with signal (absent, all-NaN and flat leads are False)
    rpeaks: Tensor  # int64 (B, 15): R-peaks as ascending indices into ``signal``; -1 where none (the
    # encoder's time and RR input)
    rows: Tensor  # int64 (B,): index of each record in the pretraining set (per-record features)

    @property
    def size(self) -> int:
        return int(self.values.shape[0])
