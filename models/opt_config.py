"""OPT decoder sizes and site names, without the network (no torch).

OPT (Zhang et al., "OPT: Open Pre-trained Transformer Language Models", arXiv 2205.01068) in
the Hugging Face layout (``transformers`` ``OPTConfig``): pre-LayerNorm decoder layers of
multi-head self-attention (biased q/k/v/out projections) and a ReLU feed-forward
(``fc1``: d_model -> ffn_dim, ``fc2``: back), learned positions offset by 2, the LM head tied to
the token embedding.

Sites are the inputs of the linear layers, as for RWKV: ``layers.{i}.attn.qkv`` (the
LayerNormed input shared by q, k and v), ``layers.{i}.attn.out`` (the attention output into
``out_proj``), ``layers.{i}.mlp.up`` (into ``fc1``) and ``layers.{i}.mlp.down`` (the ReLU
output into ``fc2``). Knunyants et al. 2025 (§V) put thresholds on three of them, QKV, up and
down (:data:`THRESHOLD_SITES`); ``attn.out`` stays dense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Site suffixes of one decoder layer, in forward order.
SITE_SUFFIXES: tuple[str, ...] = ("attn.qkv", "attn.out", "mlp.up", "mlp.down")
#: The sites the paper sparsifies (QKV, UpProj, DownProj).
THRESHOLD_SITES: tuple[str, ...] = ("attn.qkv", "mlp.up", "mlp.down")


@dataclass(frozen=True)
class OPTConfig:
    """The fields of ``transformers.OPTConfig`` that define the network."""

    n_layer: int
    d_model: int
    n_head: int
    ffn_dim: int
    vocab_size: int = 50272
    max_positions: int = 2048
    word_embed_proj_dim: int = 0  # 0: d_model (every OPT but 350M)
    do_layer_norm_before: bool = True  # pre-LN (every OPT but 350M)
    enable_bias: bool = True
    layer_norm_elementwise_affine: bool = True
    remove_final_layer_norm: bool = False

    def __post_init__(self) -> None:
        if self.word_embed_proj_dim == 0:
            object.__setattr__(self, "word_embed_proj_dim", self.d_model)
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_head {self.n_head}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def site_shape(self, suffix: str) -> tuple[int, int]:
        """(input features, output features) of the linear layer(s) behind a site suffix."""
        d, f = self.d_model, self.ffn_dim
        return {"attn.qkv": (d, 3 * d), "attn.out": (d, d), "mlp.up": (d, f),
                "mlp.down": (f, d)}[suffix]

    def kv_cache_bytes(self, context: int, value_bytes: int) -> int:
        """Bytes of one layer's KV cache holding ``context`` tokens (keys and values)."""
        return 2 * context * self.d_model * value_bytes


#: OPT-2.7B (the size whose sparsity profile Knunyants et al. 2025 publish, §V).
OPT_2_7B = OPTConfig(n_layer=32, d_model=2560, n_head=32, ffn_dim=10240)
#: smaller published sizes (Zhang et al. 2022, Table 1): quick runs with the 2.7B profile
OPT_125M = OPTConfig(n_layer=12, d_model=768, n_head=12, ffn_dim=3072)
OPT_1_3B = OPTConfig(n_layer=24, d_model=2048, n_head=32, ffn_dim=8192)


def site_names(n_layer: int) -> list[str]:
    return [f"layers.{i}.{s}" for i in range(n_layer) for s in SITE_SUFFIXES]


def site_suffix(name: str) -> str:
    """``layers.3.mlp.up`` -> ``mlp.up``."""
    m = re.fullmatch(r"layers\.\d+\.(attn\.qkv|attn\.out|mlp\.up|mlp\.down)", name)
    if m is None:
        raise ValueError(f"{name!r} is not an OPT site name "
                         f"(layers.<i>.<{'|'.join(SITE_SUFFIXES)}>)")
    return m[1]
