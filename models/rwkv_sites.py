"""RWKV-4 site names: where a block's linear layers take their inputs.

Kept apart from ``models/rwkv.py`` so that code that only needs the names (trace readers, the
simulator's jobs) does not import torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The seven linear-layer inputs of a block, as site-name suffixes (``blocks.{i}.<suffix>``).
SITE_SUFFIXES: tuple[str, ...] = (
    "att.key",
    "att.value",
    "att.receptance",
    "att.output",
    "ffn.key",
    "ffn.receptance",
    "ffn.value",
)


def site_names(n_layer: int, blocks: Sequence[int] | None = None) -> list[str]:
    """All site names of the given blocks (default: every block), in block then suffix order."""
    ids = range(n_layer) if blocks is None else blocks
    return [f"blocks.{i}.{s}" for i in ids for s in SITE_SUFFIXES]


def site_suffix(name: str) -> str:
    """``blocks.3.att.key`` -> ``att.key``."""
    m = re.fullmatch(r"blocks\.\d+\.(att|ffn)\.(\w+)", name)
    if m is None or f"{m[1]}.{m[2]}" not in SITE_SUFFIXES:
        raise ValueError(
            f"{name!r} is not an RWKV-4 site name (blocks.<i>.<{'|'.join(SITE_SUFFIXES)}>)"
        )
    return f"{m[1]}.{m[2]}"
