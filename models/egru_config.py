"""EGRU language-model sizes and cell constants, without the network.

Kept apart from ``models/egru.py`` so that code that only needs sizes (synthetic traces, the
mapping onto cores) does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EGRUConfig:
    """Sizes and cell constants of an EGRU language model (paper defaults except the vocab)."""

    vocab_size: int
    embedding_dim: int = 750
    layers: tuple[int, ...] = (1350, 1350, 750)
    thr_mean: float = 0.3  # mean of the Beta(alpha, 3) threshold initialisation (EvNN default)
    dampening: float = 0.7  # surrogate height (EvNN default)
    support: float = 1.0  # surrogate width is 2 / support (EvNN default)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(h) for h in self.layers))
        if self.vocab_size < 1 or self.embedding_dim < 1 or not self.layers:
            raise ValueError("vocab_size, embedding_dim and layers must be positive/non-empty")
        if any(h < 1 for h in self.layers):
            raise ValueError(f"layer sizes must be positive: {self.layers}")
        if self.layers[-1] != self.embedding_dim:
            raise ValueError(
                f"the decoder is tied to the embedding: the last layer ({self.layers[-1]}) must "
                f"equal embedding_dim ({self.embedding_dim})"
            )
        if not 0.0 < self.thr_mean < 1.0:
            raise ValueError("thr_mean must lie in (0, 1)")

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(input_size, hidden) of every layer."""
        inputs = (self.embedding_dim, *self.layers[:-1])
        return list(zip(inputs, self.layers, strict=True))

    def recurrent_weight_count(self) -> int:
        """Weights of all W and R matrices (what pruning and CSR export cover)."""
        return sum(3 * h * (i + h) for i, h in self.layer_shapes())
