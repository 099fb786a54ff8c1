"""Files shipped inside the ``models`` package: the tiny models, their records and thresholds.

Kept apart from the model modules so that code that only reads a shipped record (a measured
activity profile, a thresholds file) does not import torch.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The shipped tiny RWKV-4: official-layout checkpoint, its sidecar (vocabulary, training) and
#: its HardShrink thresholds (``models/train_tiny_rwkv.py``, ``nmsim sparsify rwkv``).
RWKV_TINY_CHECKPOINT = "artifacts/rwkv_tiny.pth"
RWKV_TINY_META = "artifacts/rwkv_tiny.json"
RWKV_TINY_THRESHOLDS = "artifacts/rwkv_tiny_thresholds.json"
#: The shipped tiny OPT: HF-layout state dict, its sidecar (config, vocabulary, training) and
#: its HardShrink thresholds (``models/train_tiny_opt.py``, ``nmsim sparsify opt``).
OPT_TINY_CHECKPOINT = "artifacts/opt_tiny.pt"
OPT_TINY_META = "artifacts/opt_tiny.json"
OPT_TINY_THRESHOLDS = "artifacts/opt_tiny_thresholds.json"
#: The shipped tiny EGRU LM (``python -m models.train_tiny_egru``) and its measured numbers.
EGRU_TINY_CHECKPOINT = "artifacts/egru_tiny.pt"
EGRU_TINY_METRICS = "artifacts/egru_tiny_metrics.json"
#: The shipped tiny DVS-gesture network (``python -m models.train_tiny_dvs``) and its numbers.
DVS_TINY_CHECKPOINT = "artifacts/dvs_tiny.pt"
DVS_TINY_METRICS = "artifacts/dvs_tiny_metrics.json"


def artifact_path(name: str) -> Path:
    """Filesystem path of a file shipped in ``models/``."""
    return Path(str(resources.files("models").joinpath(name)))
