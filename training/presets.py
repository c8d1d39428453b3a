"""Named sizes of the whole pipeline. ``bundled`` is the model the app ships (2 CPU cores,
<= 90 min end to end); ``tiny`` is the test run; ``gpu`` is a larger run for accelerators."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecgviewer.ml.model import EncoderConfig
from training.clear import DecoderConfig
from training.engine import LoopConfig


@dataclass(frozen=True)
class Preset:
    name: str
    encoder: EncoderConfig
    decoder: DecoderConfig
    pretrain: LoopConfig
    finetune: LoopConfig
    probe: LoopConfig  # heads trained on cached frozen features
    tasks: tuple[str, ...] = ("super", "all")  # heads of the exported model
    limit: int | None = None  # use only the first N PTB-XL records (tests)
    batch_eval: int = 256
    extra: dict = field(default_factory=dict)


PRESETS = {
    "bundled": Preset(
        name="bundled",
        encoder=EncoderConfig(dim=128, depth=4, heads=4, mlp_ratio=2.0, dropout=0.1),
        decoder=DecoderConfig(dim=128, depth=2, heads=4, mask_ratio=0.8),
        pretrain=LoopConfig(epochs=6, batch_size=128, lr=1e-3),
        finetune=LoopConfig(epochs=4, batch_size=64, lr=5e-4),
        probe=LoopConfig(epochs=60, batch_size=256, lr=1e-3, weight_decay=1e-4),
    ),
    "gpu": Preset(
        name="gpu",
        encoder=EncoderConfig(dim=384, depth=8, heads=8, mlp_ratio=4.0, dropout=0.1),
        decoder=DecoderConfig(dim=256, depth=4, heads=8, mask_ratio=0.8),
        pretrain=LoopConfig(epochs=100, batch_size=256, lr=5e-4),
        finetune=LoopConfig(epochs=30, batch_size=128, lr=2e-4),
        probe=LoopConfig(epochs=100, batch_size=256, lr=1e-3, weight_decay=1e-4),
    ),
    "tiny": Preset(
        name="tiny",
        encoder=EncoderConfig(dim=32, depth=1, heads=2, mlp_ratio=2.0, dropout=0.0),
        decoder=DecoderConfig(dim=32, depth=1, heads=2, mask_ratio=0.8),
        pretrain=LoopConfig(epochs=1, batch_size=32, lr=1e-3),
        finetune=LoopConfig(epochs=1, batch_size=32, lr=1e-3),
        probe=LoopConfig(epochs=3, batch_size=64, lr=1e-3, weight_decay=1e-4),
        limit=300,
    ),
}
