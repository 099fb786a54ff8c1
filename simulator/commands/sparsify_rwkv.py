"""`nmsim sparsify rwkv`: the training-free HardShrink threshold search for an RWKV-4."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from simulator.commands.search_options import (
    PUBLISHED_LOSS_INC,
    REJECTED_SITE_CHOICES,
    add_search_options,
    search_windows,
)
from workloads.rwkv_summary import profile_table

__all__ = ["PUBLISHED_LOSS_INC", "REJECTED_SITE_CHOICES", "register", "run"]


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
    add_search_options(p, f"published: {PUBLISHED_LOSS_INC}",
                       "char | world | path to a tokenizer.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.rwkv import load_rwkv4, load_tiny_rwkv, load_tokenizer
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
        init, held = search_windows(args, encode)
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
