"""RWKV-4 in plain PyTorch, with the official checkpoint key names.

Structure per block (Peng et al., "RWKV: Reinventing RNNs for the Transformer Era", EMNLP 2023;
github BlinkDL/RWKV-LM, RWKV-v4): Time-Mix (``att``: token shift, key/value/receptance, the WKV
recurrence, output) and Channel-Mix (``ffn``: token shift, receptance, squared-ReLU key, value).

One code path serves both modes. :meth:`RWKV4.forward` takes ``(B, T)`` tokens and a state:
with ``T == 1`` it *is* RNN-mode inference (one token at a time, the same arithmetic as the
reference ``att_one``/``ffn_one``); with ``T > 1`` it evaluates the same recurrence in chunks
(parallel inside a chunk, state carried across chunks), which is what training and the threshold
search need. Memory is ``O(B * T * chunk * C)``, so long texts are fine.

Every linear layer's input passes through a *site* function ``site(name, x) -> x`` (identity by
default) named like ``blocks.3.att.key``; sparsification (HardShrink) and trace recording hook in
there without the model knowing about either.

Checkpoints: :func:`load_rwkv4` reads a user's real RWKV-4 ``.pth`` (169M ... 14B; bf16/fp16 are
converted to float32) and names every missing, mis-shaped or unexpected key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import shipped
from models.checkpoint_file import read_checkpoint
from models.rwkv_config import RWKVConfig
from models.shipped import artifact_path
from simulator.errors import UserError

#: ``site(name, x) -> x``: called on every linear layer's input.
SiteFn = Callable[[str, Tensor], Tensor]

#: Default chunk length of the sequence-mode recurrence (memory vs Python-loop trade-off).
DEFAULT_CHUNK = 16


def _identity_site(name: str, x: Tensor) -> Tensor:
    return x


class CheckpointError(UserError, ValueError):
    """A state dict is not a loadable RWKV-4 checkpoint; the message names the offending keys."""


# -- the WKV recurrence ---------------------------------------------------------------------------
@dataclass
class LayerState:
    """Recurrent state of one block: token-shift inputs and the WKV accumulators.

    ``aa``/``bb`` are the WKV numerator/denominator scaled by ``exp(-pp)`` (numerically stable
    form of the reference implementation); the empty state has ``pp = -1e30``.
    """

    att_x: Tensor
    aa: Tensor
    bb: Tensor
    pp: Tensor
    ffn_x: Tensor


def wkv(
    w: Tensor, u: Tensor, k: Tensor, v: Tensor, aa: Tensor, bb: Tensor, pp: Tensor, chunk: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """WKV over ``(B, T, C)`` keys/values from state ``(aa, bb, pp)``; returns (wkv, aa, bb, pp).

    ``w = -exp(time_decay)`` (per-step log decay), ``u = time_first`` (bonus of the current
    token). Output at step t:
    ``(sum_{i<t} e^{(t-1-i)w + k_i} v_i + e^{u + k_t} v_t + e^{pp + tw} aa) / (same, v = 1, bb)``,
    evaluated chunk by chunk with a running maximum so nothing overflows. A one-token chunk is
    exactly the reference RNN step.
    """
    out = []
    for s in range(0, k.shape[1], chunk):
        kc, vc = k[:, s : s + chunk], v[:, s : s + chunk]
        n = kc.shape[1]
        t = torch.arange(n, device=k.device, dtype=k.dtype)
        age = t[:, None] - 1 - t[None, :]  # (query t, key i): decay steps of key i seen at t
        bias = torch.where(
            age[..., None] >= 0,
            age[..., None] * w,
            torch.where(age[..., None] == -1, u, torch.full_like(u, -math.inf)),
        )  # (n, n, C)
        logit = bias + kc[:, None, :, :]  # (B, n, n, C)
        s_logit = pp[:, None, :] + t[None, :, None] * w  # state seen at query t: (B, n, C)
        m = torch.maximum(logit.amax(dim=2), s_logit).detach()
        e = torch.exp(logit - m[:, :, None, :])
        es = torch.exp(s_logit - m)
        num = (e * vc[:, None, :, :]).sum(dim=2) + es * aa[:, None, :]
        den = e.sum(dim=2) + es * bb[:, None, :]
        out.append(num / den)
        # state after the chunk: key i has decayed n-1-i steps, the old state n steps
        k_logit = (n - 1 - t)[None, :, None] * w + kc
        s_logit = pp + n * w
        p = torch.maximum(k_logit.amax(dim=1), s_logit).detach()
        ek = torch.exp(k_logit - p[:, None, :])
        es = torch.exp(s_logit - p)
        aa = (ek * vc).sum(dim=1) + es * aa
        bb = ek.sum(dim=1) + es * bb
        pp = p
    return torch.cat(out, dim=1), aa, bb, pp


def _shift(xx: Tensor, prev: Tensor) -> Tensor:
    """Token shift: the previous token's input for every position (``prev`` for the first)."""
    return torch.cat([prev[:, None, :], xx[:, :-1]], dim=1)


class TimeMix(nn.Module):
    """``att`` of a block: official parameter names and shapes."""

    def __init__(self, cfg: RWKVConfig, layer_id: int) -> None:
        super().__init__()
        c = cfg.n_embd
        self.time_decay = nn.Parameter(torch.zeros(c))
        self.time_first = nn.Parameter(torch.zeros(c))
        self.time_mix_k = nn.Parameter(torch.ones(1, 1, c))
        self.time_mix_v = nn.Parameter(torch.ones(1, 1, c))
        self.time_mix_r = nn.Parameter(torch.ones(1, 1, c))
        self.key = nn.Linear(c, c, bias=False)
        self.value = nn.Linear(c, c, bias=False)
        self.receptance = nn.Linear(c, c, bias=False)
        self.output = nn.Linear(c, c, bias=False)
        p = f"blocks.{layer_id}.att."
        self._names = (p + "key", p + "value", p + "receptance", p + "output")

    def forward(
        self, xx: Tensor, st: LayerState, site: SiteFn, chunk: int
    ) -> tuple[Tensor, LayerState]:
        prev = _shift(xx, st.att_x)
        mk, mv, mr = self.time_mix_k[0], self.time_mix_v[0], self.time_mix_r[0]
        n_key, n_val, n_rec, n_out = self._names
        k = self.key(site(n_key, xx * mk + prev * (1 - mk)))
        v = self.value(site(n_val, xx * mv + prev * (1 - mv)))
        r = torch.sigmoid(self.receptance(site(n_rec, xx * mr + prev * (1 - mr))))
        y, aa, bb, pp = wkv(
            -torch.exp(self.time_decay), self.time_first, k, v, st.aa, st.bb, st.pp, chunk
        )
        out = self.output(site(n_out, r * y))
        return out, LayerState(xx[:, -1], aa, bb, pp, st.ffn_x)


class ChannelMix(nn.Module):
    """``ffn`` of a block: official parameter names and shapes."""

    def __init__(self, cfg: RWKVConfig, layer_id: int) -> None:
        super().__init__()
        c, f = cfg.n_embd, cfg.dim_ffn
        self.time_mix_k = nn.Parameter(torch.ones(1, 1, c))
        self.time_mix_r = nn.Parameter(torch.ones(1, 1, c))
        self.key = nn.Linear(c, f, bias=False)
        self.receptance = nn.Linear(c, c, bias=False)
        self.value = nn.Linear(f, c, bias=False)
        p = f"blocks.{layer_id}.ffn."
        self._names = (p + "key", p + "receptance", p + "value")

    def forward(self, xx: Tensor, st: LayerState, site: SiteFn) -> tuple[Tensor, LayerState]:
        prev = _shift(xx, st.ffn_x)
        mk, mr = self.time_mix_k[0], self.time_mix_r[0]
        n_key, n_rec, n_val = self._names
        r = torch.sigmoid(self.receptance(site(n_rec, xx * mr + prev * (1 - mr))))
        k = torch.square(torch.relu(self.key(site(n_key, xx * mk + prev * (1 - mk)))))
        out = r * self.value(site(n_val, k))
        return out, LayerState(st.att_x, st.aa, st.bb, st.pp, xx[:, -1])


class Block(nn.Module):
    def __init__(self, cfg: RWKVConfig, layer_id: int) -> None:
        super().__init__()
        c = cfg.n_embd
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(c)
        self.ln1 = nn.LayerNorm(c)
        self.ln2 = nn.LayerNorm(c)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg, layer_id)

    def forward(
        self, x: Tensor, st: LayerState, site: SiteFn, chunk: int
    ) -> tuple[Tensor, LayerState]:
        if hasattr(self, "ln0"):
            x = self.ln0(x)
        dx, st = self.att(self.ln1(x), st, site, chunk)
        x = x + dx
        dx, st = self.ffn(self.ln2(x), st, site)
        return x + dx, st


class RWKV4(nn.Module):
    """RWKV-4 language model; ``state_dict()`` has exactly the official keys and shapes."""

    def __init__(self, cfg: RWKVConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.ln_out = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

    def zero_state(self, batch: int = 1) -> list[LayerState]:
        """The empty recurrent state (all zeros, ``pp = -1e30`` as in the reference)."""
        p = self.head.weight
        z = torch.zeros(batch, self.cfg.n_embd, dtype=p.dtype, device=p.device)
        return [LayerState(z, z, z, z - 1e30, z) for _ in range(self.cfg.n_layer)]

    def run_blocks(
        self,
        x: Tensor,
        state: list[LayerState] | None = None,
        site: SiteFn | None = None,
        start: int = 0,
        stop: int | None = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> tuple[Tensor, list[LayerState]]:
        """Residual stream ``(B, T, C)`` through blocks ``start..stop-1``; state of all blocks."""
        state = list(state) if state is not None else self.zero_state(x.shape[0])
        site = site or _identity_site
        for i in range(start, self.cfg.n_layer if stop is None else stop):
            x, state[i] = self.blocks[i](x, state[i], site, chunk)
        return x, state

    def logits(self, x: Tensor) -> Tensor:
        return self.head(self.ln_out(x))

    def forward(
        self,
        tokens: Tensor,
        state: list[LayerState] | None = None,
        site: SiteFn | None = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> tuple[Tensor, list[LayerState]]:
        """Logits ``(B, T, vocab)`` for tokens ``(B, T)`` and the state after the last token."""
        x, state = self.run_blocks(self.emb(tokens), state, site, chunk=chunk)
        return self.logits(x), state

    @torch.no_grad()
    def step(
        self, token: int, state: list[LayerState] | None = None, site: SiteFn | None = None
    ) -> tuple[Tensor, list[LayerState]]:
        """RNN mode: one token in, ``(vocab,)`` logits and the new state out."""
        p = self.head.weight
        logits, state = self.forward(torch.tensor([[token]], device=p.device), state, site)
        return logits[0, 0], state


# -- checkpoints ----------------------------------------------------------------------------------
_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.")


def config_from_state_dict(sd: Mapping[str, Tensor]) -> RWKVConfig:
    """Sizes read from the official keys (``emb.weight``: vocab x C; ``ffn.key``: 4C x C)."""
    for key in ("emb.weight", "blocks.0.ffn.key.weight"):
        if key not in sd:
            raise CheckpointError(f"missing key {key!r}: not an RWKV-4 checkpoint")
    vocab, c = sd["emb.weight"].shape
    layers = {int(m[1]) for k in sd if (m := _BLOCK_KEY.match(k))}
    return RWKVConfig(
        n_layer=max(layers) + 1,
        n_embd=int(c),
        vocab_size=int(vocab),
        dim_ffn=int(sd["blocks.0.ffn.key.weight"].shape[0]),
    )


def load_state_dict(src: str | Path | Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A checkpoint's tensors (path or mapping), with a Lightning ``_forward_module.`` prefix
    removed. Paths load with ``weights_only=True`` (plain tensors only, no code)."""
    if isinstance(src, Mapping):
        sd = dict(src)
    else:
        path = Path(src)
        if not path.exists():
            raise CheckpointError(f"{path}: no such checkpoint file")
        sd = read_checkpoint(path, CheckpointError, "cannot be read as a PyTorch state dict",
                             not_a="checkpoint")
        if not isinstance(sd, Mapping):
            raise CheckpointError(f"{path}: holds a {type(sd).__name__}, not a state dict")
    return {k.removeprefix("_forward_module."): v for k, v in sd.items()}


def load_rwkv4(src: str | Path | Mapping[str, Tensor]) -> RWKV4:
    """An :class:`RWKV4` (float32, eval mode) from an official-layout checkpoint.

    Every key is checked: missing, mis-shaped and unexpected keys are all named in one
    :class:`CheckpointError`. Singleton dimensions are not significant (some exporters store
    ``time_mix_k`` as ``(C,)`` instead of ``(1, 1, C)``). ``time_decay`` is kept raw, as stored;
    the model applies ``-exp`` itself.
    """
    sd = load_state_dict(src)
    where = "" if isinstance(src, Mapping) else f"{src}: "
    not_tensors = sorted(k for k, v in sd.items() if not isinstance(v, Tensor))
    if not_tensors:
        raise CheckpointError(f"{where}entries {not_tensors[:8]} are not tensors; an RWKV-4 "
                              "checkpoint holds only tensors")
    if sd.get("emb.weight") is not None and sd["emb.weight"].dim() != 2:
        raise CheckpointError(f"{where}tensor 'emb.weight' has shape "
                              f"{tuple(sd['emb.weight'].shape)}, expected (vocab, n_embd)")
    cfg = config_from_state_dict(sd)
    model = RWKV4(cfg)
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    misshaped = [
        f"{k}: {tuple(sd[k].shape)}, expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in sd and sd[k].squeeze().shape != v.squeeze().shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if misshaped:
        problems.append(f"mis-shaped keys [{'; '.join(misshaped)}]")
    if unexpected:
        hint = (
            " (ln_x/gate/time_maa keys belong to RWKV-5/6, not RWKV-4)"
            if any(re.search(r"ln_x|gate|time_maa|time_faaaa", k) for k in unexpected)
            else ""
        )
        problems.append(f"unexpected keys {unexpected}{hint}")
    if problems:
        raise CheckpointError(
            f"{where}not an RWKV-4 checkpoint with n_layer={cfg.n_layer}, n_embd={cfg.n_embd}, "
            f"vocab={cfg.vocab_size}: " + "; ".join(problems)
        )
    weights = {k: sd[k].to(torch.float32).reshape(v.shape) for k, v in expected.items()}
    for k, v in weights.items():
        bad = ~torch.isfinite(v)
        if bad.any():
            raise CheckpointError(f"{where}tensor {k!r} has {int(bad.sum())} NaN or infinite "
                                  "values; every weight must be finite")
    model.load_state_dict(weights)
    return model.eval()


def save_rwkv4(model: RWKV4, path: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write the official layout (plain tensors only, so it loads with ``weights_only=True``)."""
    from simulator.outputs import write_atomic

    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    return write_atomic(Path(path), lambda f: torch.save(state, f))


# -- tokenizers and the shipped tiny model --------------------------------------------------------
class CharTokenizer:
    """Character-level tokenizer over a fixed vocabulary (the tiny model's)."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = list(vocab)
        self._index = {ch: i for i, ch in enumerate(self.vocab)}

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self._index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return [self._index[ch] for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocab[i] for i in ids)


#: The shipped tiny model: official-layout checkpoint and its sidecar (vocabulary, training).
TINY_CHECKPOINT = shipped.RWKV_TINY_CHECKPOINT
TINY_META = shipped.RWKV_TINY_META
TINY_THRESHOLDS = shipped.RWKV_TINY_THRESHOLDS


def load_tiny_rwkv() -> tuple[RWKV4, CharTokenizer, dict]:
    """The shipped tiny RWKV-4 (see ``models/train_tiny_rwkv.py``), its tokenizer and record."""
    meta = json.loads(artifact_path(TINY_META).read_text("utf-8"))
    return load_rwkv4(artifact_path(TINY_CHECKPOINT)), CharTokenizer(meta["vocab"]), meta


def load_tokenizer(spec: str) -> Callable[[str], list[int]]:
    """Text -> token ids: ``"char"`` (the tiny model's vocabulary), ``"world"`` (the RWKV World
    vocabulary shipped in the ``rwkv`` package), or a HuggingFace ``tokenizer.json`` path
    (e.g. the Pile models' ``20B_tokenizer.json``; needs the ``tokenizers`` package)."""
    if spec == "char":
        vocab = json.loads(artifact_path(TINY_META).read_text("utf-8"))["vocab"]
        return CharTokenizer(vocab).encode
    if spec == "world":
        try:
            from rwkv.rwkv_tokenizer import TRIE_TOKENIZER
        except ImportError:
            raise UserError("--tokenizer world needs the 'rwkv' package (pip install rwkv)"
                            ) from None
        vocab = Path(str(resources.files("rwkv").joinpath("rwkv_vocab_v20230424.txt")))
        return TRIE_TOKENIZER(str(vocab)).encode
    if not Path(spec).is_file():
        raise UserError(f"--tokenizer {spec!r}: not char, world nor an existing tokenizer.json")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise UserError(f"--tokenizer {spec}: a tokenizer.json needs the 'tokenizers' package"
                        ) from None
    try:
        tok = Tokenizer.from_file(spec)
    except Exception as e:  # the tokenizers package raises a bare Exception for a bad file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"--tokenizer {spec}: not a readable tokenizer.json: {first}") from None
    return lambda text: tok.encode(text).ids


def windows(ids: Sequence[int] | Tensor, ctx_len: int) -> Tensor:
    """Non-overlapping ``(N, ctx_len + 1)`` windows (inputs and next-token targets), each
    evaluated from the empty state, as the published search and RWKV-LM validation do."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    n = (len(ids) - 1) // ctx_len
    if n < 1:
        raise ValueError(f"need at least {ctx_len + 1} tokens for one window, got {len(ids)}")
    return torch.stack([ids[i * ctx_len : i * ctx_len + ctx_len + 1] for i in range(n)])


def sample_windows(ids: Sequence[int] | Tensor, n: int, ctx_len: int, seed: int) -> Tensor:
    """``n`` windows of ``ctx_len + 1`` tokens at random positions (fixed seed)."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if len(ids) <= ctx_len + 1:
        raise ValueError(f"need more than {ctx_len + 1} tokens for windows of ctx_len="
                         f"{ctx_len}, got {len(ids)} (a shorter --ctx-len or a longer text)")
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - ctx_len - 1, (n,), generator=gen)
    return torch.stack([ids[s : s + ctx_len + 1] for s in starts.tolist()])


@torch.no_grad()
def window_loss(
    model: RWKV4, win: Tensor, site: SiteFn | None = None, batch_size: int = 32
) -> float:
    """Mean cross-entropy (nats/token) of next-token prediction over ``(N, T + 1)`` windows."""
    total, count = 0.0, 0
    for s in range(0, len(win), batch_size):
        w = win[s : s + batch_size]
        logits, _ = model(w[:, :-1], site=site)
        total += F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
        count += w[:, 1:].numel()
    return total / count
