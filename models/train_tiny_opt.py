"""Train the shipped tiny OPT (2 layers, width 128, character level) on the shipped corpus.

Reproduces ``models/artifacts/opt_tiny.pt`` (a Hugging Face ``OPTForCausalLM`` state dict, bf16
to stay small) and its sidecar ``opt_tiny.json`` (configuration, vocabulary, training record)::

    python -m models.train_tiny_opt             # about 4 minutes on one CPU core

The same corpus, split and tokenizer as the tiny RWKV (``models/train_tiny_rwkv.py``), so the
two can be compared. Steps alternate between 16 windows of 128 characters and 4 of 512: the
short ones get the model past the early plateau (at the unigram/bigram loss) in a few hundred
steps, the long ones train every position a trace may decode at. OPT's positions are learned,
one vector each, and each must learn its relation to its neighbours: from ``transformers``'
N(0, 0.02) the model stays near the bigram loss past position 128 in this budget (2.1 to 2.4
nats there after the same 1500 steps), so the position table starts as the sinusoids of
Vaswani et al. 2017 (scaled to 0.05), which share that relation across positions (1.69). The
rest is initialised as ``OPTPreTrainedModel`` does (normal, std 0.02; zero biases); AdamW with
warm-up and cosine decay. One torch thread: at this size more threads only wait for each
other. Fixed seed and steps make the run deterministic on a given machine and torch build.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.opt import OPT, TINY_CHECKPOINT, TINY_META, config_from_dict, load_opt
from models.opt_config import OPTConfig
from models.rwkv import CharTokenizer, window_loss, windows
from models.shipped import artifact_path
from models.text import char_vocab, load_corpus, split_corpus

SEED = 0
N_LAYER, D_MODEL, N_HEAD, FFN_DIM = 2, 128, 4, 512
MAX_POSITIONS = 512
#: (windows, characters per window) of even and of odd steps: the same characters per step
SHAPES = ((16, 128), (4, MAX_POSITIONS))
STEPS = 1500
LR_MAX, LR_MIN, WARMUP = 2e-3, 1e-4, 50
WEIGHT_DECAY = 0.01
INIT_STD = 0.02
POSITION_SCALE = 0.05


def sinusoids(rows: int, d: int) -> torch.Tensor:
    """``(rows, d)``: row r holds sin/cos of r at the wavelengths of Vaswani et al. 2017."""
    angle = torch.arange(rows)[:, None] / 10000 ** (torch.arange(0, d, 2) / d)
    out = torch.zeros(rows, d)
    out[:, 0::2], out[:, 1::2] = angle.sin(), angle.cos()
    return out


def opt_init(model: OPT) -> None:
    """``OPTPreTrainedModel._init_weights`` (linear and embedding weights N(0, 0.02), zero
    biases, LayerNorms at 1 and 0), but the position table starts as scaled sinusoids."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                m.weight.normal_(0.0, INIT_STD)
            if isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.zero_()
        pos = model.decoder.embed_positions.weight
        pos.copy_(POSITION_SCALE * sinusoids(*pos.shape))


def lr_at(step: int, steps: int) -> float:
    """Linear warm-up, then cosine decay from LR_MAX to LR_MIN."""
    if step < WARMUP:
        return LR_MAX * (step + 1) / WARMUP
    frac = (step - WARMUP) / max(1, steps - WARMUP)
    return LR_MIN + 0.5 * (LR_MAX - LR_MIN) * (1 + math.cos(math.pi * frac))


def train(steps: int = STEPS, out_dir: Path | None = None, log_every: int = 100) -> dict:
    """Train, save the state dict (bf16) + sidecar, and return the training record."""
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    text = load_corpus()
    vocab = char_vocab(text)
    tok = CharTokenizer(vocab)
    train_text, held_text = split_corpus(text)
    train_ids = torch.tensor(tok.encode(train_text))
    held = {n: windows(tok.encode(held_text), n) for n in (128, MAX_POSITIONS)}

    cfg = OPTConfig(N_LAYER, D_MODEL, N_HEAD, FFN_DIM, vocab_size=len(vocab),
                    max_positions=MAX_POSITIONS)
    model = OPT(cfg)
    opt_init(model)
    opt = torch.optim.AdamW(model.parameters(), lr=LR_MAX, betas=(0.9, 0.99),
                            weight_decay=WEIGHT_DECAY)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.perf_counter()
    model.train()
    for step in range(steps):
        n, ctx = SHAPES[step % 2]
        starts = torch.randint(0, len(train_ids) - ctx - 1, (n,), generator=gen)
        batch = torch.stack([train_ids[s : s + ctx + 1] for s in starts])
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

    from simulator.outputs import write_atomic

    out_dir = out_dir or artifact_path(TINY_CHECKPOINT).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    ckpt = write_atomic(out_dir / Path(TINY_CHECKPOINT).name, lambda f: torch.save(state, f))
    shipped = load_opt(ckpt, cfg)  # what users get: bf16 weights, computed in float32
    record = {
        "description": "OPT tiny (shipped): character-level, Shakespeare tragedies",
        "config": asdict(cfg),
        "vocab": vocab,
        "training": {
            "seed": SEED, "steps": steps, "windows_x_chars": [list(s) for s in SHAPES],
            "lr_max": LR_MAX, "lr_min": LR_MIN, "warmup": WARMUP, "weight_decay": WEIGHT_DECAY,
            "init": f"OPTPreTrainedModel (std {INIT_STD}), positions {POSITION_SCALE} x "
                    "sinusoids",
            "train_seconds": round(train_s, 1), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "eval": {
            "split": "last 10% of the corpus (models.text.split_corpus)",
            "ctx_len": MAX_POSITIONS,
            "heldout_loss_nats_per_char": round(window_loss(shipped, held[MAX_POSITIONS]), 4),
            "heldout_loss_nats_per_char_ctx128": round(window_loss(shipped, held[128]), 4),
        },
        "checkpoint_dtype": "bfloat16",
    }
    config_from_dict(record["config"])  # the sidecar reads back
    write_atomic(out_dir / Path(TINY_META).name, json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--out-dir", type=Path, default=None,
                    help="where to write opt_tiny.pt/.json (default: models/artifacts)")
    args = ap.parse_args()
    rec = train(args.steps, args.out_dir)
    print(json.dumps({k: rec[k] for k in ("training", "eval")}, indent=1))


if __name__ == "__main__":
    main()
