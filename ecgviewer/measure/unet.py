"""A compact 1-D U-Net that labels every sample of one lead as background, P, QRS or T.

Input channels: the lead itself and the spatial RMS of all leads (global context, so one
lead's boundaries can lean on the others). Fully convolutional: any length works; it pads to a
multiple of 2**levels internally. The receptive field (~2 s at 250 Hz) covers a whole beat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

CLASSES = ("none", "P", "QRS", "T")


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 2
    widths: tuple[int, ...] = (16, 32, 48, 64)
    kernel: int = 9

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(int(d["in_channels"]), tuple(int(w) for w in d["widths"]), int(d["kernel"]))


def _block(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv1d(c_out, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet1d(nn.Module):
    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        w, k = config.widths, config.kernel
        self.down = nn.ModuleList(
            _block(a, b, k) for a, b in zip((config.in_channels, *w[:-1]), w, strict=True)
        )
        self.up = nn.ModuleList(_block(w[i] + w[i + 1], w[i], k) for i in range(len(w) - 1))
        self.out = nn.Conv1d(w[0], len(CLASSES), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, n) -> logits (batch, 4, n)."""
        n = x.shape[-1]
        step = 2 ** (len(self.down) - 1)
        x = F.pad(x, (0, (-n) % step), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool1d(x, 2))
            skips.append(x)
        for i in reversed(range(len(self.up))):
            x = F.interpolate(x, size=skips[i].shape[-1], mode="linear", align_corners=False)
            x = self.up[i](torch.cat([skips[i], x], dim=1))
        return self.out(x)[..., :n]
