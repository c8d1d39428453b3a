"""Named sizes of the whole pipeline. ``bundled`` is the comparable budget of the four pretraining
methods (2 CPU cores, <= 90 min end to end; the shipped model until issue 22); ``release-cpu`` and
``release`` train the candidates for the shipped model (``python -m training choose`` picks it on
fold 9); ``tiny`` is the test run; ``gpu`` is a larger run for accelerators.

Every method shares the encoder size (the patch encoder takes the beat encoder's width, depth and
heads), the optimiser and the data; ``schedules`` sets each method's epochs so that its
pretraining takes about the wall-clock time CLEAR's takes on the same machine (measured, see
training/README.md), which is what "the same compute budget" means here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ecgviewer.ml.beats import EncoderConfig
from ecgviewer.ml.patches import PatchConfig
from training.data.augment import AugmentConfig
from training.engine import LoopConfig
from training.pretrain.acl import AclConfig
from training.pretrain.clear import DecoderConfig
from training.pretrain.jepa import JepaConfig
from training.pretrain.physioclr import PhysioCLRConfig

# The PTB-XL benchmark's CNN recipe (Strodthoff et al. 2021): AdamW 1e-2 / 1e-2, one-cycle, 50 epochs.
BASELINE = LoopConfig(epochs=50, batch_size=128, lr=1e-2, weight_decay=1e-2, warmup=0.25, clip=1.0,
                      betas=(0.9, 0.99))  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """How the exported classifier is fine-tuned beyond plain BCE (training/supervised/finetune.py)."""

    augment: AugmentConfig | None = None  # signal-space augmentation, re-tokenised per batch
    layer_decay: float = 1.0  # layer-wise learning-rate decay; 1 = none
    distill: float = 0.0  # weight of the supervised baselines' mean probabilities in the target
    # LP-FT (Kumar et al. 2022): the heads start from the frozen-encoder probe (training/supervised/probe.py)
    # instead of at random, so the first updates do not pull the pretrained features towards a
    # random head
    from_probe: bool = False

    def to_dict(self) -> dict:
        return {"augment": self.augment and self.augment.to_dict(), "layer_decay": self.layer_decay,
                "distill": self.distill, "from_probe": self.from_probe}  # fmt: skip


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
    patch: PatchConfig = field(default_factory=PatchConfig)  # ECG-JEPA's encoder
    jepa: JepaConfig = field(default_factory=JepaConfig)
    physioclr: PhysioCLRConfig = field(default_factory=PhysioCLRConfig)
    acl: AclConfig = field(default_factory=AclConfig)
    schedules: dict[str, LoopConfig] = field(default_factory=dict)  # per method; default ``pretrain``
    baseline: LoopConfig = BASELINE  # the supervised CNN baselines (training/supervised/baselines.py)
    recipe: Recipe = field(default_factory=Recipe)  # the exported classifier's fine-tuning
    # every grid run makes at least this many updates (small label fractions are repeated within
    # epochs); ``tiny`` only checks the wiring, so it needs few
    grid_min_steps: int = 150
    # the frozen heads' update counts of ``grid.PROBES`` are multiplied by this (``tiny``: a fraction)
    probe_step_scale: float = 1.0
    baseline_scale: float = 1.0  # the CNN baselines' channel widths (1: the PTB-XL benchmark's)


_BUNDLED = Preset(
    name="bundled",
    encoder=EncoderConfig(dim=128, depth=4, heads=4, mlp_ratio=2.0, dropout=0.1),
    decoder=DecoderConfig(dim=128, depth=2, heads=4, mask_ratio=0.8),
    pretrain=LoopConfig(epochs=6, batch_size=128, lr=1e-3),
    finetune=LoopConfig(epochs=4, batch_size=64, lr=5e-4),
    probe=LoopConfig(epochs=60, batch_size=256, lr=1e-3, weight_decay=1e-4),
    # CLEAR's 6 epochs take ~30 min here (its encoder sees 20 % of the tokens). Per 128-record
    # step on the idle 2 cores: ECG-JEPA 3.9 s, ACL-ECG (two full views) 4.7 s, PhysioCLR (three
    # views and a decoder) 11.1 s (training/README.md): whole epochs of ~21-30 min each.
    schedules={
        "jepa": LoopConfig(epochs=3, batch_size=128, lr=1e-3),
        "acl": LoopConfig(epochs=2, batch_size=128, lr=1e-3),
        "acl-pull": LoopConfig(epochs=2, batch_size=128, lr=1e-3),
        "acl-none": LoopConfig(epochs=2, batch_size=128, lr=1e-3),
        "physioclr": LoopConfig(epochs=1, batch_size=128, lr=1e-3),
        "physioclr-rlm": LoopConfig(epochs=1, batch_size=128, lr=1e-3),
    },
)

# The release recipe within one working session of 2 CPU cores (bf16 autocast, ``--cpu-bf16``):
# a shorter CLEAR pretraining and fine-tuning, and no distillation (its CNN teachers take hours
# of CPU). Epochs are set by the time budget (about 25 + 65 min), not by any test figure.
_RELEASE_CPU = replace(
    _BUNDLED,
    name="release-cpu",
    pretrain=LoopConfig(epochs=12, batch_size=128, lr=1e-3),
    finetune=LoopConfig(epochs=30, batch_size=128, lr=5e-4),
    schedules={},
    recipe=Recipe(augment=AugmentConfig(), layer_decay=0.75),
)

# Issue 27's accelerator runs (``recipe gpu-ssl``, training/recipes.toml): the bundled encoder's
# size pretrained 100 epochs (one H100 ran 40 such epochs in 146 s), snapshots probed on fold 9 for
# the scaling table; the same with CLEAR's shortcut closed (lead groups masked, amplitudes predicted).
_SSL_GPU = replace(
    _BUNDLED,
    name="ssl-gpu",
    pretrain=LoopConfig(epochs=100, batch_size=256, lr=1e-3),
    probe=LoopConfig(epochs=100, batch_size=256, lr=1e-3, weight_decay=1e-4),
    schedules={},
)
GROUPS = replace(_BUNDLED.decoder, masking="groups", amplitude=1.0)
# LP-FT's end-to-end stage (Kumar et al. 2022), which starts from the probe's heads: a 2.5x lower
# peak rate than fine-tuning from random heads and half release-cpu's 30 epochs (its session's
# budget, not a test figure). The release-cpu LP-FT presets and the grid's ``lpft`` cells share it.
LPFT_FINETUNE = LoopConfig(epochs=15, batch_size=128, lr=2e-4)

PRESETS = {
    "bundled": _BUNDLED,
    # The candidate shipped model: the bundled encoder's size (the app's latency budget on 2 CPU
    # cores: inference <= 100 ms, Integrated Gradients <= 1 s), trained at accelerator scale with
    # augmentation, layer-wise lr decay and distillation from the CNN baselines.
    "release": replace(
        _BUNDLED,
        name="release",
        pretrain=LoopConfig(epochs=40, batch_size=256, lr=1e-3),
        finetune=LoopConfig(epochs=40, batch_size=128, lr=5e-4),
        probe=LoopConfig(epochs=100, batch_size=256, lr=1e-3, weight_decay=1e-4),
        schedules={},
        recipe=Recipe(augment=AugmentConfig(), layer_decay=0.75, distill=0.5),
    ),
    "release-cpu": _RELEASE_CPU,
    # release-cpu with CLEAR's shortcut closed (issue 27): whole lead groups masked, so a hidden
    # lead is rebuilt from the other leads (same-lead copy share 0 against 0.91 for token masking,
    # measured on PTB-XL batches), and each hidden token's log-scale predicted beside its shape at
    # weight 1 (the two MSEs' trivial baselines are of one order: template 0.54 vs 0.24); the
    # weight is not tuned. ``scaling`` compares it with release-cpu on fold 9.
    "release-cpu-groups": replace(_RELEASE_CPU, name="release-cpu-groups", decoder=GROUPS),
    "ssl-gpu": _SSL_GPU,
    "ssl-gpu-groups": replace(_SSL_GPU, name="ssl-gpu-groups", decoder=GROUPS),
    # release-cpu's encoder, probed (its frozen heads), then fine-tuned end to end from those heads
    # (LP-FT) at a 2.5x lower peak rate than fine-tuning from random heads, as LP-FT prescribes.
    # 15 epochs: the time left in the session after pretraining (about 50 min), not a test figure.
    "release-cpu-lpft": replace(
        _RELEASE_CPU,
        name="release-cpu-lpft",
        finetune=LPFT_FINETUNE,
        recipe=replace(_RELEASE_CPU.recipe, from_probe=True),
    ),
    # release-cpu with CLEAR pretrained 2.5x longer (30 epochs, about 50 min on the 2 cores):
    # whether the frozen-probe model gains from a longer pretraining is decided on fold 9
    # (``choose``); 30 is what the session's time allows, not a test figure.
    "release-cpu-long": replace(
        _RELEASE_CPU, name="release-cpu-long", pretrain=LoopConfig(epochs=30, batch_size=128, lr=1e-3)
    ),
    # The two fold-9 findings combined: release-cpu-long's encoder (better frozen features, `all`
    # +0.008 on fold 9) under release-cpu-lpft's fine-tuning. Same budget reasons as both.
    "release-cpu-long-lpft": replace(
        _RELEASE_CPU,
        name="release-cpu-long-lpft",
        pretrain=LoopConfig(epochs=30, batch_size=128, lr=1e-3),
        finetune=LPFT_FINETUNE,
        recipe=replace(_RELEASE_CPU.recipe, from_probe=True),
    ),
    # The shipped model's recipe (release-cpu-long-lpft; without distillation, whose CNN teachers'
    # predictions are not on this machine) over CLEAR with the shortcut closed, pretrained 48
    # epochs (release-cpu-groups: the encoder fold 9 chose for issue 27's gains). Run it in a copy of
    # that run's directory (its encoder is reused); ``choose`` says on fold 9 whether it ships.
    "release-cpu-groups48-lpft": replace(
        _RELEASE_CPU,
        name="release-cpu-groups48-lpft",
        decoder=GROUPS,
        pretrain=LoopConfig(epochs=48, batch_size=128, lr=1e-3),
        finetune=LPFT_FINETUNE,
        recipe=replace(_RELEASE_CPU.recipe, from_probe=True),
    ),
    # release-cpu-long-lpft's fine-tuning with its targets half the CNN baselines' probabilities
    # (where a baseline of the task was trained: ``finetune.distil``); 0.5 is the release
    # preset's weight, not a figure tuned here. Run it in a copy of release-cpu-long-lpft's run
    # directory (the encoder and its probe are reused) with the baselines' teacher-*.npz.
    "release-cpu-long-lpft-distill": replace(
        _RELEASE_CPU,
        name="release-cpu-long-lpft-distill",
        pretrain=LoopConfig(epochs=30, batch_size=128, lr=1e-3),
        finetune=LPFT_FINETUNE,
        recipe=replace(_RELEASE_CPU.recipe, from_probe=True, distill=0.5),
    ),
    # The shipped model fine-tuned further (``run --init-model``: its encoder and heads are the
    # start, so no pretraining or probe) with half of each target the CNN baselines' probabilities
    # on both heads: the route when the baselines' `all` predictions exist but not the run folder
    # the shipped model came from. Half LP-FT's peak rate, as the weights are already tuned; 12
    # epochs are the session's time (about 45 min on 2 cores), not a test figure.
    "release-cpu-continued-distill": replace(
        _RELEASE_CPU,
        name="release-cpu-continued-distill",
        finetune=LoopConfig(epochs=12, batch_size=128, lr=1e-4),
        recipe=replace(_RELEASE_CPU.recipe, distill=0.5),
    ),
    # The shipped model given its beats' RR intervals (``EncoderConfig.rr``, added at zero by
    # ``finetune.with_rr``) and fine-tuned on from its weights as release-cpu-continued-distill,
    # the new RR layers at the probe's rate, the rest at LP-FT's peak rate (the encoder must learn
    # to use new inputs). Five epochs are the session's time (about 45 min on 2 cores), not a
    # test figure.
    "release-cpu-rr-distill": replace(
        _RELEASE_CPU,
        name="release-cpu-rr-distill",
        encoder=replace(_RELEASE_CPU.encoder, rr=True),
        finetune=LoopConfig(epochs=5, batch_size=128, lr=2e-4),
        recipe=replace(_RELEASE_CPU.recipe, distill=0.5),
    ),
    # The RR model fine-tuned on from its weights (``run --init-model``) with the RR statistics'
    # direct term in the logits (``EncoderConfig.rr_logits``, added at zero): on fold 9 a logistic
    # regression on those statistics alone out-ranked it on bradycardia, sinus arrhythmia, PACs
    # and bigeminy. release-cpu-continued-distill's rate, the weights being tuned already; ten
    # epochs are what a session leaves (about 80 min on 2 cores), not a test figure.
    "release-cpu-rr-distill-more": replace(
        _RELEASE_CPU,
        name="release-cpu-rr-distill-more",
        encoder=replace(_RELEASE_CPU.encoder, rr=True, rr_logits=True),
        finetune=LoopConfig(epochs=10, batch_size=128, lr=1e-4),
        recipe=replace(_RELEASE_CPU.recipe, distill=0.5),
    ),
    # The shipped model fine-tuned on from its weights under preprocessing contract 2 (R-peaks
    # from every lead: its tokens cover different beats than the contract-1 tokens it learnt on),
    # distilled from its own contract-2 probabilities (``python -m training teacher``), as the CNN
    # baselines it first learnt from are not kept. The continued rate, the weights being tuned
    # already; four epochs are the session's time (about 35 min on 2 cores), not a test figure.
    "release-cpu-c2-distill": replace(
        _RELEASE_CPU,
        name="release-cpu-c2-distill",
        encoder=replace(_RELEASE_CPU.encoder, rr=True),
        finetune=LoopConfig(epochs=4, batch_size=128, lr=1e-4),
        recipe=replace(_RELEASE_CPU.recipe, distill=0.5),
    ),
    # release-cpu-c2-distill with electrodes placed otherwise in 4 of 10 records (the augmented
    # 0.8 times ``p_place``: the frontal axis turned up to 10 degrees, the chest row moved up to
    # 0.3 of its spacing, ``augment.placed``), for other hospitals' recordings (issue 75, part 7);
    # its control is release-cpu-c2-distill itself. The strengths are physiology's, not tuned.
    "release-cpu-placement-distill": replace(
        _RELEASE_CPU,
        name="release-cpu-placement-distill",
        encoder=replace(_RELEASE_CPU.encoder, rr=True),
        finetune=LoopConfig(epochs=4, batch_size=128, lr=1e-4),
        recipe=replace(_RELEASE_CPU.recipe, augment=AugmentConfig(p_place=0.5), distill=0.5),
    ),
    "gpu": Preset(
        name="gpu",
        encoder=EncoderConfig(dim=384, depth=8, heads=8, mlp_ratio=4.0, dropout=0.1),
        patch=PatchConfig(dim=384, depth=8, heads=8, mlp_ratio=4.0, dropout=0.1),
        jepa=JepaConfig(dim=192, depth=4, heads=6),
        decoder=DecoderConfig(dim=256, depth=4, heads=8, mask_ratio=0.8),
        pretrain=LoopConfig(epochs=100, batch_size=256, lr=5e-4),
        finetune=LoopConfig(epochs=30, batch_size=128, lr=2e-4),
        probe=LoopConfig(epochs=100, batch_size=256, lr=1e-3, weight_decay=1e-4),
    ),
    "tiny": Preset(
        name="tiny",
        encoder=EncoderConfig(dim=32, depth=1, heads=2, mlp_ratio=2.0, dropout=0.0),
        patch=PatchConfig(dim=32, depth=1, heads=2, mlp_ratio=2.0, dropout=0.0),
        jepa=JepaConfig(dim=16, depth=1, heads=2),
        physioclr=PhysioCLRConfig(proj_dim=16),
        acl=AclConfig(proj_hidden=32, proj_dim=16),
        decoder=DecoderConfig(dim=32, depth=1, heads=2, mask_ratio=0.8),
        pretrain=LoopConfig(epochs=1, batch_size=32, lr=1e-3),
        finetune=LoopConfig(epochs=1, batch_size=32, lr=1e-3),
        probe=LoopConfig(epochs=3, batch_size=64, lr=1e-3, weight_decay=1e-4),
        baseline=LoopConfig(epochs=2, batch_size=32, lr=1e-2, weight_decay=1e-2, warmup=0.25),
        recipe=Recipe(augment=AugmentConfig(), layer_decay=0.75),
        limit=300,
        grid_min_steps=8,
        probe_step_scale=0.02,
        baseline_scale=0.125,  # wiring only: a from-all grid cell 21 -> 17.6 s on 2 cores (0.25 before)
    ),
}
