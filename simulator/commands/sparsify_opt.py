"""`nmsim sparsify opt`: the training-free HardShrink threshold search for an OPT decoder."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from models.opt_config import SITE_SUFFIXES, THRESHOLD_SITES
from simulator.commands.search_options import (
    PUBLISHED_LOSS_INC,
    REJECTED_SITE_CHOICES,
    add_search_options,
    search_windows,
)
from simulator.errors import UserError

__all__ = ["PUBLISHED_LOSS_INC", "REJECTED_SITE_CHOICES", "register", "run"]


def register(cli) -> None:
    p = cli.add(
        "opt",
        help="Search HardShrink thresholds for an OPT decoder without training (Knunyants et "
        "al., arXiv 2501.16337, section V: QKV, up- and down-projection inputs; the "
        "out-projection input stays dense) and report held-out loss and sparsity.",
        group="sparsify",
    )
    p.add_argument("--checkpoint", help="Hugging Face OPTForCausalLM state dict (torch.save'd; "
                   "default: the shipped tiny OPT); needs --config")
    p.add_argument("--config", type=Path, help="JSON of the OPTConfig fields of --checkpoint "
                   "(n_layer, d_model, n_head, ffn_dim, vocab_size, ...; or a record holding "
                   "them under \"config\", as models/artifacts/opt_tiny.json)")
    p.add_argument("--out", "-o", type=Path, default=Path("opt_thresholds.json"),
                   help="thresholds file to write (default opt_thresholds.json)")
    add_search_options(p, f"default {PUBLISHED_LOSS_INC}; the paper's OPT runs: 1.0003, "
                       "1.0004, 1.0005", "char | path to a tokenizer.json")
    p.set_defaults(func=run)


def _load(args: argparse.Namespace):
    """The model, its encoder and its description; a bad file names its argument."""
    from models.opt import OPTCheckpointError, load_opt, load_tiny_opt, read_config
    from models.rwkv import load_tokenizer

    if args.checkpoint is None:
        if args.config is not None:
            raise UserError("--config goes with --checkpoint (the shipped tiny OPT has its own)")
        model, tok, _ = load_tiny_opt()
        return model, tok.encode, "OPT tiny (shipped)"
    if args.config is None:
        raise UserError("--checkpoint needs --config (a JSON of the model's OPTConfig fields)")
    try:
        cfg = read_config(args.config)
    except OPTCheckpointError as e:
        raise _named("--config", args.config, e) from None
    try:
        model = load_opt(args.checkpoint, cfg)
    except OPTCheckpointError as e:
        raise _named("--checkpoint", args.checkpoint, e) from None
    return model, load_tokenizer(args.tokenizer), f"OPT {args.checkpoint}"


def _named(arg: str, path: object, e: Exception) -> UserError:
    """The error of a file, prefixed with the argument that named it."""
    return UserError(f"{arg} {path}: {str(e).removeprefix(f'{path}: ')}")


def _table(profiles: Mapping[str, Mapping[str, float]]) -> str:
    """Per-site sparsity (%) of each named profile, one row per site of a decoder layer."""
    lines = ["site" + " " * 12 + "".join(f"{n:>22s}" for n in profiles)]
    for s in SITE_SUFFIXES:
        mark = "" if s in THRESHOLD_SITES else " (dense)"
        lines.append(f"{s + mark:16s}" + "".join(f"{100 * p.get(s, 0.0):21.1f}%"
                                                 for p in profiles.values()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from models.sparsify import save_thresholds, sparsify
    from simulator.outputs import check_output_file

    check_output_file(args.out, "--out")  # before the search: a bad --out fails now
    model, encode, description = _load(args)
    if args.ctx_len > model.cfg.max_positions:
        raise UserError(f"--ctx-len {args.ctx_len}: more than the model's max_positions "
                        f"{model.cfg.max_positions}")
    try:
        init, held = search_windows(args, encode)
    except ValueError as e:
        raise UserError(str(e)) from None
    bar = tqdm(total=model.cfg.n_layer * len(THRESHOLD_SITES), desc="sparsify", unit="site")

    def progress(site: str, loss: float, inferences: int) -> None:
        bar.set_postfix_str(f"{site} loss {loss:.4f} inferences {inferences}")
        bar.update()

    tf = sparsify(model, init, held, description, loss_inc=args.loss_inc,
                  warm_start=not args.no_warm_start, rejected_site=args.rejected_site,
                  progress=progress)
    bar.close()
    save_thresholds(tf, args.out)
    ev, se = tf.evaluation, tf.search
    print(_table({"dense": ev["sparsity_dense"], "sparsified": ev["sparsity_sparse"]}))
    print(f"MAC-weighted sparsity (all four sites): dense "
          f"{100 * ev['mac_weighted_sparsity_dense']:.1f}%, sparsified "
          f"{100 * ev['mac_weighted_sparsity_sparse']:.1f}%")
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
