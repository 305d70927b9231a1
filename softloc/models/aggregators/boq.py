"""BoQ: Bag-of-Queries (Ali-bey, Chaib-draa and Giguère, "BoQ: A Place is Worth a Bag of
Learnable Queries", CVPR 2024)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from softloc.models.aggregators.base import Aggregator

HEAD_DIM = 64   # BoQ's attention heads: proj_channels // 64 of them


class BoQBlock(nn.Module):
    """One BoQ layer: a transformer encoder layer over the tokens, then learned queries (made
    stable by a self-attention among themselves) cross-attending to the encoded tokens."""

    def __init__(self, dim: int, queries: int) -> None:
        super().__init__()
        heads = dim // HEAD_DIM
        self.encoder = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True)
        self.queries = nn.Parameter(torch.randn(1, queries, dim))
        self.query_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.query_norm = nn.LayerNorm(dim)
        self.cross_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N, dim) tokens -> (the encoded tokens for the next layer, (B, queries, dim) outputs)."""
        tokens = self.encoder(tokens)
        q = self.queries.expand(tokens.shape[0], -1, -1)
        q = self.query_norm(q + self.query_attention(q, q, q, need_weights=False)[0])
        return tokens, self.out_norm(self.cross_attention(q, tokens, tokens, need_weights=False)[0])


class BoQ(Aggregator):
    """A 3x3 conv projects the map to proj_channels, whose h*w positions are the tokens
    (LayerNorm); `num_layers` BoQ blocks each give num_queries outputs, which a linear layer
    mixes into row_dim rows per channel; dim = proj_channels * row_dim.

    Tokens carry no position encoding, so the output does not depend on their order (the 3x3
    projection before them sees neighbours; `pool_tokens` is the order-free part).
    Hyperparameters (params `aggregators.boq`) at the authors' released ResNet-50 model (16384-D,
    ResNet-50 cut after its third stage): proj_channels 512, num_queries 64, num_layers 2, row_dim
    32; proj_channels / 64 attention heads and a feed-forward width of 4 * proj_channels, as there.
    """

    name = "boq"

    def __init__(self, channels: int, *, proj_channels: int, num_queries: int, num_layers: int, row_dim: int) -> None:
        super().__init__(channels, {"proj_channels": proj_channels, "num_queries": num_queries,
                                    "num_layers": num_layers, "row_dim": row_dim})
        if proj_channels % HEAD_DIM:
            raise ValueError(f"BoQ: proj_channels {proj_channels} must be a multiple of {HEAD_DIM} (one head per {HEAD_DIM})")
        self.project = nn.Conv2d(channels, proj_channels, kernel_size=3, padding=1)
        self.norm = nn.LayerNorm(proj_channels)
        self.blocks = nn.ModuleList([BoQBlock(proj_channels, num_queries) for _ in range(num_layers)])
        self.rows = nn.Linear(num_layers * num_queries, row_dim)
        self.proj_channels, self.row_dim = proj_channels, row_dim

    @property
    def dim(self) -> int:
        return self.proj_channels * self.row_dim

    def tokens(self, x: Tensor) -> Tensor:
        """(B, C, H, W) features -> (B, H*W, proj_channels) normalised tokens."""
        return self.norm(self.project(x).flatten(2).transpose(1, 2))

    def pool_tokens(self, tokens: Tensor) -> Tensor:
        """(B, N, proj_channels) tokens -> (B, dim) descriptors before normalisation."""
        outputs = []
        for block in self.blocks:
            tokens, out = block(tokens)
            outputs.append(out)
        return self.rows(torch.cat(outputs, dim=1).transpose(1, 2)).flatten(1)   # (B, proj, row_dim) flattened

    def aggregate(self, x: Tensor) -> Tensor:
        return self.pool_tokens(self.tokens(x))
