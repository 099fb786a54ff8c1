"""Train the shipped tiny DVS-gesture network on synthetic gestures (``models.dvs``).

``python -m models.train_tiny_dvs [--epochs 12] [--out models/artifacts/dvs_tiny.pt]``: about a
minute on two cores. Adam on cross-entropy, every sample from rest, seeded; held-out accuracy
and each EGRU layer's activity (fraction of non-zero events) and the features' density are
written beside the checkpoint (``dvs_tiny_metrics.json``) and into it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from models.dvs import TINY, DvsNet, gesture_set, save_dvs
from models.shipped import DVS_TINY_CHECKPOINT, DVS_TINY_METRICS, artifact_path

TRAIN, TEST, FRAMES, SEED = 440, 110, 12, 0


def evaluate(model: DvsNet, x: torch.Tensor, y: torch.Tensor) -> dict:
    with torch.no_grad():
        logits, feats, events = model(x)
    return {"accuracy": float((logits.argmax(1) == y).float().mean()),
            "activity": [float((e != 0).float().mean()) for e in events],
            "feature_density": float((feats != 0).float().mean())}


def train(epochs: int = 12, seed: int = SEED) -> tuple[DvsNet, dict]:
    torch.manual_seed(seed)
    x, y = gesture_set(TRAIN, FRAMES, seed)
    xt, yt = gesture_set(TEST, FRAMES, seed + 1)
    model = DvsNet(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(TRAIN).split(32):
            logits, _, _ = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    metrics = {"eval": evaluate(model.eval(), xt, yt), "epochs": epochs, "train_samples": TRAIN,
               "test_samples": TEST, "frames": FRAMES, "seed": seed,
               "train_seconds": round(time.perf_counter() - start, 1),
               "data": "synthetic moving-blob gestures (models.dvs.gesture_set)"}
    return model, metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--out", type=Path, default=artifact_path(DVS_TINY_CHECKPOINT))
    args = p.parse_args()
    model, metrics = train(args.epochs)
    save_dvs(args.out, model, metrics)
    sidecar = args.out.with_name(Path(DVS_TINY_METRICS).name)
    sidecar.write_text(json.dumps(metrics, indent=1) + "\n")
    print(json.dumps(metrics["eval"]), f"-> {args.out}")


if __name__ == "__main__":
    main()
