"""RWKV-4 sizes: the shape of every linear layer, without the network.

Kept apart from ``models/rwkv.py`` so that code that only needs shapes (synthetic traces, trace
readers) does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RWKVConfig:
    n_layer: int
    n_embd: int
    vocab_size: int
    dim_ffn: int = 0  # 0: 4 * n_embd, as in every published RWKV-4

    def __post_init__(self) -> None:
        if self.dim_ffn == 0:
            object.__setattr__(self, "dim_ffn", 4 * self.n_embd)

    def site_shape(self, suffix: str) -> tuple[int, int]:
        """(input features, output features) of the linear layer behind a site suffix."""
        c, f = self.n_embd, self.dim_ffn
        return {"ffn.key": (c, f), "ffn.value": (f, c)}.get(suffix, (c, c))
