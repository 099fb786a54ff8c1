"""What `nmsim sparsify rwkv` and `nmsim sparsify opt` share: the search's options and the
windows it reads (one search, ``models.sparsify``, for both models)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.text import load_corpus, read_text_file, split_corpus
from simulator.argtypes import finite_float, non_negative_int, positive_int

#: ``models.sparsify.PUBLISHED_LOSS_INC`` and ``REJECTED_SITE_CHOICES``, repeated so that
#: ``--help`` does not import torch (tests check they agree)
PUBLISHED_LOSS_INC = 1.0005
REJECTED_SITE_CHOICES = ("dense", "first_candidate_keep_base")


def add_search_options(p: argparse.ArgumentParser, loss_inc_note: str,
                       tokenizers: str) -> None:
    """The options of the search itself; ``loss_inc_note`` says what the paper used,
    ``tokenizers`` which ``--tokenizer`` values the model takes."""
    p.add_argument("--loss-inc", type=finite_float(1.0, low_open=True),
                   default=PUBLISHED_LOSS_INC, help=f"acceptance factor per site, above 1 "
                   f"({loss_inc_note})")
    p.add_argument("--no-warm-start", action="store_true",
                   help="scan every site from the top instead of the most frequent earlier choice")
    p.add_argument("--rejected-site", choices=REJECTED_SITE_CHOICES, default="dense",
                   help="what a site gets when no candidate is accepted: dense (default: no "
                   "threshold, the accepted loss stays the base) or first_candidate_keep_base "
                   "(what the authors' experiment.py does: deploy the first candidate, kept "
                   "fraction 0.9, and compare the next site with the loss accepted before "
                   "this one)")
    p.add_argument("--init-windows", type=positive_int, default=32,
                   help="initialisation windows, drawn from the training part (default 32)")
    p.add_argument("--eval-windows", type=non_negative_int, default=0,
                   help="held-out windows to evaluate (default 0: all of the held-out part)")
    p.add_argument("--ctx-len", type=positive_int, default=128,
                   help="tokens per window (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation windows")
    p.add_argument("--text-file", type=Path, help="text for a --checkpoint model: the first 90%% "
                   "gives initialisation windows, the last 10%% is held out")
    p.add_argument("--tokenizer", default="char",
                   help=f"{tokenizers} (for --text-file)")


def search_windows(args: argparse.Namespace, encode) -> tuple[list, list]:
    """``(initialisation, held-out)`` windows: of ``--text-file``, or of the shipped corpus for
    the shipped model (raises ``ValueError`` naming what is wrong)."""
    from models.rwkv import sample_windows, windows

    if args.text_file:
        text = read_text_file(args.text_file, "--text-file")
    elif args.checkpoint is None:
        text = load_corpus()
    else:
        raise ValueError("--checkpoint needs --text-file (and usually --tokenizer)")
    train_text, held_text = split_corpus(text)
    init = sample_windows(encode(train_text), args.init_windows, args.ctx_len, args.seed)
    held = windows(encode(held_text), args.ctx_len)
    return init, held[: args.eval_windows] if args.eval_windows else held
