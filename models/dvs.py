"""A tiny DVS-gesture network and the synthetic event streams it is trained on.

No DVS128 data is at hand (no downloads here), so gestures are *synthetic*: a Gaussian blob
moving over a 32 x 32 sensor, 11 classes by its motion (eight straight directions, a circle
either way, and a blob that stays and pulses). A frame is what a DVS reports in one 25 ms bin:
ON and OFF events where the brightness rose or fell by more than a contrast threshold, plus
background noise events, max-pooled to 32 x 32 (Nazeer et al. 2024 bin DVS128 the same way).

The network has the published structure (Nazeer et al. 2024, §III-D): a CNN feature head whose
512 features per frame (two strided 3 x 3 convolutions with ReLU, 8 x 8 x 8) feed two EGRU
layers (``models.egru.EGRUCell``) and a linear readout to the 11 classes, from the mean of the
last layer's events over the frames. :data:`TINY` is smaller than the paper's 256 units per
layer so that it trains in about a minute on two cores (``python -m models.train_tiny_dvs``);
its measured activity is what the synthetic paper-size traces can take
(``workloads.dvs_trace``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checkpoint_file import read_checkpoint
from models.egru import EGRUCell
from models.egru_config import EGRUConfig

N_CLASSES = 11
SENSOR = 32
FEATURES = 512  # 8 channels x 8 x 8 after two stride-2 convolutions of a 32 x 32 frame
DVS_FORMAT = "nmsim-dvs"
DVS_VERSION = 1


@dataclass(frozen=True)
class DvsConfig:
    hidden: tuple[int, int] = (64, 64)
    thr_mean: float = 0.3
    dampening: float = 0.7
    support: float = 1.0


TINY = DvsConfig()


class DvsCheckpointError(ValueError):
    """A file is not a DVS network checkpoint of this format; the message says why."""


# -- synthetic gestures -------------------------------------------------------------------------
def _path(label: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Blob centre per frame (frames + 1 positions: the one before the first frame too)."""
    t = np.linspace(0.0, 1.0, frames + 1)
    c = SENSOR / 2 + rng.normal(0, 2, size=2)
    if label < 8:  # a straight sweep in one of eight directions
        a = label * math.pi / 4 + rng.normal(0, 0.1)
        d = np.array([math.cos(a), math.sin(a)]) * SENSOR * 0.6
        return c + (t[:, None] - 0.5) * d
    if label < 10:  # a circle, clockwise or counter-clockwise
        r, phase = SENSOR * 0.28, rng.uniform(0, 2 * math.pi)
        s = 1.0 if label == 8 else -1.0
        ang = phase + s * 2 * math.pi * t
        return c + r * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return np.repeat(c[None], frames + 1, axis=0)  # 10: stays in place (it pulses)


def gesture_frames(label: int, frames: int, rng: np.random.Generator,
                   noise: float = 0.01) -> np.ndarray:
    """``(frames, 2, 32, 32)`` ON/OFF event counts (0/1 after max-pooling) of one gesture."""
    yy, xx = np.mgrid[0:SENSOR, 0:SENSOR]
    path = _path(label, frames, rng)
    width = rng.uniform(2.5, 4.0)
    pulse = 1.0 + 0.5 * np.sin(np.linspace(0, 6 * math.pi, frames + 1)) if label == 10 else None
    bright = []
    for k, (x, y) in enumerate(path):
        w = width * (pulse[k] if pulse is not None else 1.0)
        bright.append(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * w * w)))
    out = np.zeros((frames, 2, SENSOR, SENSOR), dtype=np.float32)
    for f in range(frames):
        delta = bright[f + 1] - bright[f]
        out[f, 0] = delta > 0.1
        out[f, 1] = delta < -0.1
        out[f] = np.maximum(out[f], rng.random((2, SENSOR, SENSOR)) < noise)
    return out


def gesture_set(n: int, frames: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` gestures, classes in turn: frames ``(n, frames, 2, 32, 32)`` and labels ``(n,)``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % N_CLASSES
    x = np.stack([gesture_frames(int(lab), frames, rng) for lab in labels])
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


# -- the network --------------------------------------------------------------------------------
class DvsNet(nn.Module):
    """CNN head (off the chip) -> two EGRU layers -> readout (see the module docstring)."""

    def __init__(self, cfg: DvsConfig = TINY) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv2d(2, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        cell = EGRUConfig(vocab_size=1, embedding_dim=cfg.hidden[-1], layers=cfg.hidden,
                          thr_mean=cfg.thr_mean, dampening=cfg.dampening, support=cfg.support)
        sizes = (FEATURES, *cfg.hidden)
        self.layers = nn.ModuleList(EGRUCell(i, h, cell)
                                    for i, h in zip(sizes[:-1], sizes[1:], strict=True))
        self.readout = nn.Linear(cfg.hidden[-1], N_CLASSES)

    def features(self, frames: Tensor) -> Tensor:
        """``(B, T, 2, 32, 32)`` -> ``(B, T, 512)`` non-negative CNN features."""
        B, T = frames.shape[:2]
        x = F.relu(self.conv1(frames.reshape(B * T, 2, SENSOR, SENSOR)))
        x = F.relu(self.conv2(x))
        return x.reshape(B, T, FEATURES)

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Logits ``(B, 11)``, the features, and every EGRU layer's events ``(B, T, H)``; each
        sample from rest."""
        x = feats = self.features(frames)
        events = []
        for cell in self.layers:
            x, _, _ = cell(x)
            events.append(x)
        return self.readout(x.mean(dim=1)), feats, events


def save_dvs(path: str | Path, model: DvsNet, metrics: dict) -> Path:
    path = Path(path)
    torch.save({"format": DVS_FORMAT, "version": DVS_VERSION, "config": asdict(model.cfg),
                "state_dict": model.state_dict(), "metrics": metrics}, path)
    return path


def load_dvs(path: str | Path) -> tuple[DvsNet, dict]:
    raw = read_checkpoint(path, DvsCheckpointError, "not a readable DVS checkpoint")
    if not isinstance(raw, dict) or raw.get("format") != DVS_FORMAT:
        raise DvsCheckpointError(f"{path}: not an {DVS_FORMAT} checkpoint")
    cfg = DvsConfig(**{**raw["config"], "hidden": tuple(raw["config"]["hidden"])})
    model = DvsNet(cfg)
    model.load_state_dict(raw["state_dict"])
    return model.eval(), raw.get("metrics", {})
