"""Train the shipped tiny RWKV-4 (4 layers, width 128, character level) on the shipped corpus.

Reproduces ``models/artifacts/rwkv_tiny.pth`` (official key layout, bf16 to stay small) and its
sidecar ``rwkv_tiny.json`` (vocabulary, configuration, training record)::

    python -m models.train_tiny_rwkv            # about 4 minutes on 2 CPU cores

Fixed seed and a fixed number of steps make the run deterministic on a given machine and torch
build (float summation order may differ elsewhere, giving slightly different weights).
Initialisation and optimiser follow the RWKV-4 recipe (github BlinkDL/RWKV-LM, RWKV-v4neo
``generate_init_weight``: zero-initialised key/receptance/output projections, orthogonal
value/FFN-key, tiny uniform embedding, layer-dependent ``time_*`` ramps; Adam, betas 0.9/0.99).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from models.rwkv import (
    RWKV4,
    TINY_CHECKPOINT,
    TINY_META,
    CharTokenizer,
    RWKVConfig,
    artifact_path,
    load_rwkv4,
    save_rwkv4,
    window_loss,
    windows,
)
from models.text import char_vocab, load_corpus, split_corpus

SEED = 0
N_LAYER, N_EMBD = 4, 128
CTX_LEN = 128
BATCH = 16
STEPS = 1000
LR_MAX, LR_MIN, WARMUP = 2e-3, 1e-4, 50


def rwkv4_init(model: RWKV4) -> None:
    """The RWKV-4 initialisation recipe (ramps over channels and layers)."""
    cfg = model.cfg
    c, n = cfg.n_embd, cfg.n_layer
    ddd = (torch.arange(c, dtype=torch.float32) / c).view(1, 1, c)
    with torch.no_grad():
        for i, blk in enumerate(model.blocks):
            r01 = i / (n - 1) if n > 1 else 0.0  # 0 at the first block, 1 at the last
            r10 = 1.0 - i / n  # 1 at the first block, ~0 at the last
            h = torch.arange(c, dtype=torch.float32) / (c - 1)
            blk.att.time_decay.copy_(-5 + 8 * h ** (0.7 + 1.3 * r01))
            zigzag = torch.tensor([(j + 1) % 3 - 1 for j in range(c)], dtype=torch.float32) * 0.5
            blk.att.time_first.copy_(math.log(0.3) + zigzag)
            blk.att.time_mix_k.copy_(ddd**r10)
            blk.att.time_mix_v.copy_(ddd**r10 + 0.3 * r01)
            blk.att.time_mix_r.copy_(ddd ** (0.5 * r10))
            blk.ffn.time_mix_k.copy_(ddd**r10)
            blk.ffn.time_mix_r.copy_(ddd**r10)
            for lin in (blk.att.key, blk.att.receptance, blk.att.output, blk.ffn.value,
                        blk.ffn.receptance):
                lin.weight.zero_()
            torch.nn.init.orthogonal_(blk.att.value.weight)
            torch.nn.init.orthogonal_(blk.ffn.key.weight, gain=math.sqrt(cfg.dim_ffn / c))
        torch.nn.init.uniform_(model.emb.weight, -LR_MAX, LR_MAX)
        v = cfg.vocab_size
        torch.nn.init.orthogonal_(model.head.weight, gain=0.5 * (math.sqrt(v / c) if v > c else 1))


def lr_at(step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay from LR_MAX to LR_MIN."""
    if step < WARMUP:
        return LR_MAX * (step + 1) / WARMUP
    frac = (step - WARMUP) / max(1, steps - WARMUP)
    return LR_MIN + 0.5 * (LR_MAX - LR_MIN) * (1 + math.cos(math.pi * frac))


def train(steps: int = STEPS, out_dir: Path | None = None, log_every: int = 100) -> dict:
    """Train, save checkpoint (bf16) + sidecar, and return the training record."""
    torch.manual_seed(SEED)
    text = load_corpus()
    vocab = char_vocab(text)
    tok = CharTokenizer(vocab)
    train_text, held_text = split_corpus(text)
    train_ids = torch.tensor(tok.encode(train_text))
    held = windows(tok.encode(held_text), CTX_LEN)

    model = RWKV4(RWKVConfig(N_LAYER, N_EMBD, len(vocab)))
    rwkv4_init(model)
    opt = torch.optim.Adam(model.parameters(), lr=LR_MAX, betas=(0.9, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.perf_counter()
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(train_ids) - CTX_LEN - 1, (BATCH,), generator=gen)
        batch = torch.stack([train_ids[s : s + CTX_LEN + 1] for s in starts])
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.perf_counter() - t0:6.1f} s",
                  flush=True)
    train_s = time.perf_counter() - t0

    out_dir = out_dir or artifact_path(TINY_CHECKPOINT).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = save_rwkv4(model, out_dir / Path(TINY_CHECKPOINT).name, dtype=torch.bfloat16)
    shipped = load_rwkv4(ckpt)  # what users get: bf16 weights, computed in float32
    record = {
        "description": "RWKV-4 tiny (shipped): character-level, Shakespeare tragedies",
        "config": {"n_layer": N_LAYER, "n_embd": N_EMBD, "vocab_size": len(vocab),
                   "dim_ffn": model.cfg.dim_ffn},
        "vocab": vocab,
        "training": {
            "seed": SEED, "steps": steps, "batch": BATCH, "ctx_len": CTX_LEN,
            "lr_max": LR_MAX, "lr_min": LR_MIN, "warmup": WARMUP,
            "train_seconds": round(train_s, 1), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "eval": {
            "split": "last 10% of the corpus (models.text.split_corpus)",
            "ctx_len": CTX_LEN,
            "heldout_loss_nats_per_char": round(window_loss(shipped, held), 4),
        },
        "checkpoint_dtype": "bfloat16",
    }
    from simulator.outputs import write_atomic

    write_atomic(out_dir / Path(TINY_META).name, json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--out-dir", type=Path, default=None,
                    help="where to write rwkv_tiny.pth/.json (default: models/artifacts)")
    args = ap.parse_args()
    rec = train(args.steps, args.out_dir)
    print(json.dumps({k: rec[k] for k in ("training", "eval")}, indent=1))


if __name__ == "__main__":
    main()
