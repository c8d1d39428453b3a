"""A compact 1-D U-Net that labels every sample of one lead as background, P, QRS or T.

Input channels: the lead itself and the spatial RMS of all leads (global context, so one
lead's boundaries can lean on the others). Fully convolutional: any length works; it pads to a
multiple of 2**levels internally. The receptive field (~2 s at 250 Hz) covers a whole beat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

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
        y = _wire(
            _padded(x, len(self.down)), list(self.down), list(self.up), self.out,
            pool=lambda t: F.max_pool1d(t, 2),
            resize=lambda t, s: F.interpolate(t, size=s.shape[-1], mode="linear", align_corners=False),
        )  # fmt: skip
        return y[..., :n]

    def frozen(self) -> FrozenUNet:
        return FrozenUNet(self)


class FrozenUNet:
    """A trained UNet1d for CPU inference: batch norm folded into the convolutions, which run as
    (1, k) 2-D convolutions on channels-last tensors, the layout oneDNN is fastest on (a minute
    of 2 leads: 68 ms against 100 ms for the Conv1d module on 2 AVX2 cores)."""

    def __init__(self, model: UNet1d) -> None:
        pad = (0, model.config.kernel // 2)
        self.levels = len(model.down)
        self.down = [_folded(b, pad) for b in model.down]
        self.up = [_folded(b, pad) for b in model.up]
        w, b = _as_2d(model.out.weight), model.out.bias
        self.out: Layer = lambda t: F.conv2d(t, w, b)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, n) -> logits (batch, 4, n), as UNet1d.forward."""
        n = x.shape[-1]
        x4 = _padded(x, self.levels).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        y = _wire(
            x4, self.down, self.up, self.out,
            pool=lambda t: F.max_pool2d(t, (1, 2)),
            resize=lambda t, s: F.interpolate(t, size=s.shape[-2:], mode="bilinear", align_corners=False),
        )  # fmt: skip
        return y[:, :, 0, :n]


Layer = Callable[[torch.Tensor], torch.Tensor]


def _wire(
    x: torch.Tensor, down: Sequence[Layer], up: Sequence[Layer], out: Layer,
    pool: Layer, resize: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:  # fmt: skip
    """The U-Net's wiring, shared by the module (3-D tensors) and its frozen form (4-D)."""
    skips = []
    for i, block in enumerate(down):
        x = block(x if i == 0 else pool(x))
        skips.append(x)
    for i in reversed(range(len(up))):
        x = up[i](torch.cat([skips[i], resize(x, skips[i])], dim=1))
    return out(x)


def _padded(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Replicate-padded to a multiple of 2 ** (levels - 1), so that pooling halves evenly."""
    return F.pad(x, (0, (-x.shape[-1]) % 2 ** (levels - 1)), mode="replicate")


def _as_2d(w: torch.Tensor) -> torch.Tensor:
    return w.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _folded(block: nn.Module, pad: tuple[int, int]) -> Layer:
    """One conv-BN-ReLU-conv-BN-ReLU block as two fused 2-D convolutions with ReLU."""
    layers = list(block.children())
    fused = [
        fuse_conv_bn_eval(cast(nn.Conv1d, layers[i]), cast(nn.BatchNorm1d, layers[i + 1])) for i in (0, 3)
    ]
    convs = [(_as_2d(c.weight), c.bias) for c in fused]

    def run(x: torch.Tensor) -> torch.Tensor:
        for w, b in convs:
            x = F.relu_(F.conv2d(x, w, b, padding=pad))
        return x

    return run
