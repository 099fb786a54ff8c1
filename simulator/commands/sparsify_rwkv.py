"""`nmsim sparsify rwkv`: the training-free HardShrink threshold search for an RWKV-4."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from models.text import load_corpus, read_text_file, split_corpus
from simulator.argtypes import finite_float, non_negative_int, positive_int
from workloads.rwkv_summary import profile_table

#: the published acceptance factor for RWKV (``models.sparsify.PUBLISHED_LOSS_INC``; repeated
#: here so that ``--help`` does not import torch; a test checks the two agree)
PUBLISHED_LOSS_INC = 1.0005
#: ``models.sparsify.REJECTED_SITE_CHOICES``, repeated for the same reason (a test checks them)
REJECTED_SITE_CHOICES = ("dense", "first_candidate_keep_base")


def register(cli) -> None:
    p = cli.add(
        "rwkv",
        help="Search HardShrink thresholds for an RWKV-4 without training (Knunyants et al., "
        "arXiv 2501.16337) and report held-out loss and sparsity, dense vs sparsified.",
        group="sparsify",
    )
    p.add_argument("--checkpoint", help="official-layout RWKV-4 .pth (default: shipped tiny)")
    p.add_argument("--out", "-o", type=Path, default=Path("rwkv_thresholds.json"),
                   help="thresholds file to write (default rwkv_thresholds.json)")
    p.add_argument("--loss-inc", type=finite_float(1.0, low_open=True),
                   default=PUBLISHED_LOSS_INC, help=f"acceptance factor per site, above 1 "
                   f"(published: {PUBLISHED_LOSS_INC})")
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
                   help="char | world | path to a tokenizer.json (for --text-file)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.rwkv import load_rwkv4, load_tiny_rwkv, load_tokenizer, sample_windows, windows
    from models.sparsify import save_thresholds, sparsify
    from simulator.outputs import check_output_file

    check_output_file(args.out, "--out")  # before the search: a bad --out fails now
    try:
        if args.checkpoint is None:
            model, tok, _ = load_tiny_rwkv()
            encode, description = tok.encode, "RWKV-4 tiny (shipped)"
        else:
            model = load_rwkv4(args.checkpoint)
            encode, description = load_tokenizer(args.tokenizer), f"RWKV-4 {args.checkpoint}"
        if args.text_file:
            text = read_text_file(args.text_file, "--text-file")
        elif args.checkpoint is None:
            text = load_corpus()
        else:
            raise ValueError("--checkpoint needs --text-file (and usually --tokenizer)")
        train_text, held_text = split_corpus(text)
        init = sample_windows(encode(train_text), args.init_windows, args.ctx_len, args.seed)
        held = windows(encode(held_text), args.ctx_len)
        if args.eval_windows:
            held = held[: args.eval_windows]
    except (ValueError, OSError, ImportError) as e:
        print(f"nmsim sparsify rwkv: error: {e}", file=sys.stderr)
        return 2
    bar = tqdm(total=model.cfg.n_layer * 7, desc="sparsify", unit="site")

    def progress(site: str, loss: float, inferences: int) -> None:
        bar.set_postfix_str(f"{site} loss {loss:.4f} inferences {inferences}")
        bar.update()

    tf = sparsify(model, init, held, description, loss_inc=args.loss_inc,
                  warm_start=not args.no_warm_start, rejected_site=args.rejected_site,
                  progress=progress)
    bar.close()
    save_thresholds(tf, args.out)
    ev, se = tf.evaluation, tf.search
    print(profile_table({"dense": ev["sparsity_dense"], "sparsified": ev["sparsity_sparse"]}))
    print(f"MAC-weighted sparsity: dense {100 * ev['mac_weighted_sparsity_dense']:.1f}%, "
          f"sparsified {100 * ev['mac_weighted_sparsity_sparse']:.1f}%")
    print(f"held-out loss ({ev['heldout_tokens']} tokens): dense {ev['loss_dense']:.4f}, "
          f"sparsified {ev['loss_sparse']:.4f} nats/token")
    bound = se["init_loss_bound"]
    print(f"initialisation loss: dense {se['init_loss_dense']:.4f}, sparsified "
          f"{se['init_loss_sparse']:.4f} "
          f"({'no bound' if bound is None else f'bound {bound:.4f}'}); "
          f"inferences {se['inferences']} (warm start {'on' if se['warm_start'] else 'off'})")
    rejected = se["rejected_sites"]
    print(f"sites with no candidate accepted: {len(rejected)}"
          + (f" ({se['rejected_site']}): {', '.join(rejected)}" if rejected else ""))
    print(f"wrote {args.out}")
    return 0
