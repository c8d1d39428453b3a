"""Transformer layers shared by the encoders (``beats``, ``patches``): attention is written out
where its weights are asked for (the attention maps), and fused (``scaled_dot_product_attention``,
2-4x faster on 2 CPU cores, the same to 1e-7) where they are not: inference, occlusion, gradients."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Attention(nn.Module):
    """Multi-head self-attention that returns its weights (B, heads, N, N)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: Tensor, blocked: Tensor | None = None, need_weights: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """``blocked``: (N, N) or (B, 1, N, N), True where a query may not see a key; a finite fill
        keeps a row with every key blocked finite (uniform), fused or not."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        fill = torch.finfo(q.dtype).min
        if not need_weights:
            bias = None
            if blocked is not None:
                bias = torch.zeros(blocked.shape, dtype=q.dtype, device=q.device).masked_fill(blocked, fill)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            return self.proj(out.transpose(1, 2).reshape(b, n, d)), None
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        if blocked is not None:
            logits = logits.masked_fill(blocked, fill)
        weights = logits.softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out), weights


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)  # no dropout on the weights: costly on CPU
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, blocked: Tensor | None = None, need_weights: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attn(self.norm1(x), blocked, need_weights)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.norm2(x))), weights


def init_weights(m: nn.Module) -> None:
    """Truncated-normal (0.02) Linear and Embedding weights, zero biases (ViT's init)."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.trunc_normal_(m.weight, std=0.02)
