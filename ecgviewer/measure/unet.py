"""A compact 1-D U-Net that labels every sample of one lead as background, P, QRS or T.

Input channels: the lead itself and the spatial RMS of all leads (global context, so one
lead's boundaries can lean on the others). Fully convolutional: any length works; it pads to a
multiple of 2**levels internally. The receptive field (~2 s at 250 Hz) covers a whole beat.

Two inference forms: ``FrozenUNet`` (float, every measurement) and ``Int8UNet`` (8-bit, the beat
list of long recordings, where the delineator is most of the time a day takes).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

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
        resize = lambda t, s: F.interpolate(t, size=s.shape[-1], mode="linear", align_corners=False)  # noqa: E731
        y = _wire(
            _padded(x, len(self.down)), list(self.down), list(self.up), self.out,
            pool=lambda t: F.max_pool1d(t, 2), joins=_joins(resize, len(self.up)),
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
        y = _wire(
            _image(x, self.levels), self.down, self.up, self.out, _pool2d, _joins(_resize2d, len(self.up))
        )
        return y[:, :, 0, : x.shape[-1]]


# oneDNN: its AVX2 and AVX-512 kernels label 99.95 % of samples alike, and ONEDNN_MAX_CPU_ISA can
# hold it to AVX2 (the bench's check for AVX2 machines)
INT8_ENGINE = "onednn"


def int8_supported() -> bool:
    """Whether this build of torch has the 8-bit engine (x86 builds do; others run ``FrozenUNet``)."""
    return INT8_ENGINE in torch.backends.quantized.supported_engines


class _Quantisable(nn.Module):
    """A trained UNet1d as eager-mode quantisable modules: batch norm folded, convolutions as
    (1, k) 2-D ones with their ReLU, and the quantisation points (stubs, observed concatenations)
    that ``torch.ao.quantization`` needs. The first convolution stays float: a P wave of 0.1 mV
    is a step or two of an 8-bit input's range (quantising it cost 0.5 % of the labels). The
    upsampling is float too (between stubs): 8-bit bilinear resizing is 3x slower on AVX2."""

    def __init__(self, model: UNet1d) -> None:
        super().__init__()
        from torch.ao.nn.quantized import FloatFunctional
        from torch.ao.quantization import DeQuantStub, QuantStub

        k = model.config.kernel
        self.levels = len(model.down)
        first, second = _conv_relu(model.down[0], k)
        self.float_conv = first  # stays float (``_prepared``)
        blocks = [nn.Sequential(first, QuantStub(), second)] + [_conv_relu(b, k) for b in model.down[1:]]
        self.down = nn.ModuleList(blocks)  # float convolution, then int8 onwards
        self.up = nn.ModuleList(_conv_relu(b, k) for b in model.up)
        out = nn.Conv2d(model.out.in_channels, model.out.out_channels, 1)
        out.weight.data = _as_2d(model.out.weight).clone()
        cast(torch.Tensor, out.bias).data = cast(torch.Tensor, model.out.bias).detach().clone()
        self.out = nn.Sequential(out, DeQuantStub())
        self.cats = cast(Sequence[Any], nn.ModuleList(FloatFunctional() for _ in model.up))
        self.to_float = DeQuantStub()
        self.resized = cast(Sequence[Any], nn.ModuleList(QuantStub() for _ in model.up))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def join(i: int) -> Join:
            return lambda skip, t: self.cats[i].cat(
                [skip, self.resized[i](_resize2d(self.to_float(t), skip))], 1
            )

        joins = [join(i) for i in range(len(self.up))]
        return _wire(x, list(self.down), list(self.up), self.out, _pool8, joins)


def _conv_relu(block: nn.Module, k: int) -> nn.Sequential:
    """One conv-BN-ReLU-conv-BN-ReLU block as two fused ConvReLU2d modules."""
    from torch.ao.nn.intrinsic import ConvReLU2d

    layers = list(block.children())
    out = []
    for i in (0, 3):
        c = fuse_conv_bn_eval(cast(nn.Conv1d, layers[i]), cast(nn.BatchNorm1d, layers[i + 1]))
        c2 = nn.Conv2d(c.in_channels, c.out_channels, (1, k), padding=(0, k // 2))
        c2.weight.data = _as_2d(c.weight).clone()
        cast(torch.Tensor, c2.bias).data = cast(torch.Tensor, c.bias).detach().clone()
        out.append(ConvReLU2d(c2, nn.ReLU()))
    return nn.Sequential(*out)


def _prepared(model: UNet1d) -> _Quantisable:
    """``model`` with min-max observers at every quantisation point (activations unsigned 7-bit,
    ``reduce_range``: AVX2's 8-bit multiply-adds cannot saturate; weights per channel)."""
    from torch.ao import quantization as Q

    net: Any = _Quantisable(model).eval()  # Any: the qconfig attributes torch.ao reads
    net.qconfig = Q.QConfig(
        activation=Q.MinMaxObserver.with_args(dtype=torch.quint8, reduce_range=True),
        weight=Q.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
    )
    net.float_conv.qconfig = None
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices (pinned torch: it works)
        warnings.simplefilter("ignore")
        Q.prepare(net, inplace=True)
    return net


def int8_ranges(model: UNet1d, batches: Iterable[torch.Tensor]) -> dict[str, list[float]]:
    """Each quantisation point's activation range (min, max) over ``batches`` of (batch, 2, n)
    inputs: the calibration ``Int8UNet`` is built from (``python -m training delineator-int8``)."""
    net = _prepared(model)
    with torch.inference_mode():
        for x in batches:
            net(_image(x, net.levels))
    return {name: [float(m.min_val), float(m.max_val)] for name, m in _observers(net)}


def _observers(net: nn.Module) -> list[tuple[str, Any]]:
    return [(name, m.activation_post_process) for name, m in net.named_modules()
            if hasattr(m, "activation_post_process")]  # fmt: skip


class Int8UNet:
    """A trained UNet1d with every convolution after the first in 8-bit integers (oneDNN), from
    its activation ranges (``int8_ranges``): the beat list's day of 3 leads on 2 cores in 16.5 s
    against 27.5 s with ``FrozenUNet`` (AVX-512) and 26 s against 41 s (AVX2), 99.4 % of
    MIT-BIH's samples labelled alike (``training/reports/DELINEATOR-INT8.md``)."""

    def __init__(self, model: UNet1d, ranges: dict[str, list[float]]) -> None:
        from torch.ao import quantization as Q

        net = _prepared(model)
        observers = dict(_observers(net))
        if set(observers) != set(ranges):
            raise ValueError(f"ranges for {sorted(ranges)}, not this network's {sorted(observers)}")
        for name, (lo, hi) in ranges.items():
            observers[name].min_val, observers[name].max_val = torch.tensor(lo), torch.tensor(hi)
        engine = torch.backends.quantized.engine
        torch.backends.quantized.engine = INT8_ENGINE  # weights are packed for the engine now
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.net = Q.convert(net)
        finally:
            torch.backends.quantized.engine = engine

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, n) -> logits (batch, 4, n), as UNet1d.forward."""
        return self.net(_image(x, self.net.levels))[:, :, 0, : x.shape[-1]]


Layer = Callable[[torch.Tensor], torch.Tensor]


Join = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (skip, deeper) -> the up block's input


def _wire(x: torch.Tensor, down: Sequence[Layer], up: Sequence[Layer], out: Layer, pool: Layer,
          joins: Sequence[Join]) -> torch.Tensor:  # fmt: skip
    """The U-Net's wiring, shared by the module (3-D tensors) and its frozen and 8-bit forms
    (4-D; the 8-bit one joins each level in its own way, ``_Quantisable``)."""
    skips = []
    for i, block in enumerate(down):
        x = block(x if i == 0 else pool(x))
        skips.append(x)
    for i in reversed(range(len(up))):
        x = up[i](joins[i](skips[i], x))
    return out(x)


def _joins(resize: Join, levels: int) -> list[Join]:
    """Each level's join: the deeper output resized to the skip's length, after the skip."""
    return [lambda skip, t: torch.cat([skip, resize(t, skip)], dim=1)] * levels


def _image(x: torch.Tensor, levels: int) -> torch.Tensor:
    """(batch, channels, n) padded (``_padded``) as a channels-last (batch, channels, 1, n) image."""
    return _padded(x, levels).unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _pool2d(t: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(t, (1, 2))


def _pool8(t: torch.Tensor) -> torch.Tensor:
    """``_pool2d`` of an 8-bit tensor as the larger integer of each pair, read in place
    (``_bytes``): the same numbers (one scale and zero point, an increasing map), faster than
    torch's quantized kernel or a copy through ``int_repr`` (0.66, 0.39-0.55 and 0.12 ms for one level
    of a 64 s page of 2 leads, one thread). Float (calibrating): ``_pool2d``."""
    if not t.is_quantized:
        return _pool2d(t)
    q = _bytes(t)
    pairs = torch.maximum(q[..., 0::2], q[..., 1::2])
    return torch._make_per_tensor_quantized_tensor(pairs, t.q_scale(), t.q_zero_point())


def _bytes(t: torch.Tensor) -> torch.Tensor:
    """An unsigned 8-bit tensor's integers as a uint8 view of its memory, not copied: torch's
    ``int_repr`` copies one element at a time, slower than the pooling it feeds."""
    return torch.empty(0, dtype=torch.uint8).set_(
        t.untyped_storage(), t.storage_offset(), t.size(), t.stride()
    )


def _resize2d(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(t, size=like.shape[-2:], mode="bilinear", align_corners=False)


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
