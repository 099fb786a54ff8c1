"""Event-based GRU (EGRU) and the EGRU language model of the SpiNNaker2 paper, in plain PyTorch.

The cell (Subramoney et al., "Efficient recurrent architectures through activity sparsity and
sparse back-propagation through time", ICLR 2023) follows the public reference code
(github Efficient-Scalable-Machine-Learning/EvNN, ``frameworks/pytorch/egru.py``), because its
checkpoints do. Per step, with ``a_x = W x_t + b_x`` and ``a_h = R y_{t-1} + b_r`` (3H each,
gate order (z, r, g) along the 3H axis: neuron ``j`` owns rows ``j``, ``H + j``, ``2H + j``)::

    z = sigmoid(a_x[z] + a_h[z])          r = sigmoid(a_x[r] + a_h[r])
    g = tanh(a_x[g] + r * a_h[g])         (r after the recurrent product)
    c = z * h_{t-1} + (1 - z) * g
    o = H(c - theta)                       (H(0) = 0, as torch.heaviside(x, x) gives)
    y = o * c                              (graded spike: the only output, the event)
    h = c - o * theta                      (reset by subtraction)

``R`` multiplies the events ``y_{t-1}``, not the state, so all three gates accumulate event by
event. Thresholds are per unit, learned, clamped to [0, 1], initialised from a Beta
distribution. ``H`` has the surrogate derivative ``dampening * max(0, 1 - support * |c - theta|)``.

The language model (Nazeer et al., "Language Modeling on a SpiNNaker2 Neuromorphic Chip",
AICAS 2024; reference ``benchmarks/lm/models.py``): embedding table -> EGRU layers (no skip
connections) -> decoder tied to the embedding table (``logits = y_last E^T + b``), so the last
layer's size equals the embedding dimension. Paper sizes: embedding 750, layers 1350, 1350, 750.

Weights are stored as ``(out, in)`` matrices (``W``: 3H x I, ``R``: 3H x H), the row layout a
chip stores in CSR; the reference code stores their transposes (:meth:`EGRULM.from_evnn`).

State between calls (:data:`StateCarry`): by default a call continues from both the last events
``y`` and the cell state ``h`` of the previous call, so a sequence split into calls gives the same
result as one call (what a chip does: it keeps every unit's state from step to step). The
reference code carries only ``y`` (``EGRU.forward`` takes ``y_0`` as its state and starts ``h``
at 0); ``carry="y_only"`` does that.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import shipped
from models.checkpoint_file import read_checkpoint
from models.egru_config import EGRUConfig
from models.shipped import artifact_path
from simulator.errors import UserError

#: Gate order along the 3H axis of W and R (reference code).
GATES = ("z", "r", "g")

CHECKPOINT_FORMAT = "nmsim-egru"
CHECKPOINT_VERSION = 1
#: The shipped tiny model (``python -m models.train_tiny_egru``) and its measured numbers.
TINY_CHECKPOINT = shipped.EGRU_TINY_CHECKPOINT
TINY_METRICS = shipped.EGRU_TINY_METRICS


class SpikeFunction(torch.autograd.Function):
    """Heaviside step with a triangular surrogate derivative (reference ``SpikeFunction``)."""

    @staticmethod
    def forward(ctx, v: Tensor, dampening: float, support: float) -> Tensor:
        ctx.save_for_backward(v)
        ctx.dampening, ctx.support = dampening, support
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (v,) = ctx.saved_tensors
        surrogate = ctx.dampening * torch.clamp(1.0 - ctx.support * v.abs(), min=0.0)
        return grad * surrogate, None, None


@dataclass
class CellState:
    """Per-layer state: last events ``y`` (what R multiplies) and the reset state ``h``."""

    y: Tensor
    h: Tensor


#: What a call takes over from the ``state`` it is given (the previous call's final state):
#:
#: - ``"y_and_h"`` (default): the events ``y`` and the cell state ``h``: calls compose, so
#:   splitting a sequence into calls changes nothing (a chip keeps ``h`` in memory between
#:   steps, and traces run one step per call);
#: - ``"y_only"``: the events ``y`` only; ``h`` restarts at 0 on every call, as in the EvNN
#:   reference (``EGRUScript``/``egru_forward`` start ``h`` at zeros with ``y[0] = y_0``, and its
#:   LM passes the last ``y`` as the next call's state). Its training and evaluation run calls
#:   of about 70 tokens (``--bptt 70``), so numbers measured with it restart ``h`` that often.
StateCarry = Literal["y_and_h", "y_only"]
STATE_CARRY_CHOICES: tuple[str, ...] = get_args(StateCarry)


def carried(state: CellState, carry: StateCarry) -> CellState:
    """The state a call starts from, given the previous call's final ``state``."""
    check_carry(carry)
    return state if carry == "y_and_h" else CellState(y=state.y, h=torch.zeros_like(state.h))


def check_carry(carry: str) -> None:
    """Refuse an unknown convention early (a typo would otherwise silently mean y_only)."""
    if carry not in STATE_CARRY_CHOICES:
        raise ValueError(f"carry must be one of {STATE_CARRY_CHOICES}, got {carry!r}")


class EGRUCell(nn.Module):
    """One EGRU layer: W (3H x I), R (3H x H), biases, per-unit thresholds."""

    def __init__(self, input_size: int, hidden: int, cfg: EGRUConfig) -> None:
        super().__init__()
        self.input_size, self.hidden = input_size, hidden
        self.dampening, self.support = cfg.dampening, cfg.support
        self.W = nn.Parameter(torch.empty(3 * hidden, input_size))
        self.R = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.b_x = nn.Parameter(torch.zeros(3 * hidden))
        self.b_r = nn.Parameter(torch.zeros(3 * hidden))
        beta = 3.0
        alpha = beta * cfg.thr_mean / (1.0 - cfg.thr_mean)
        self.thr = nn.Parameter(torch.distributions.Beta(alpha, beta).sample((hidden,)))
        nn.init.xavier_normal_(self.W)
        nn.init.xavier_normal_(self.R)

    def initial_state(self, batch: int) -> CellState:
        z = self.W.new_zeros(batch, self.hidden)
        return CellState(y=z, h=z.clone())

    def _update(self, ax: Tensor, state: CellState) -> tuple[Tensor, Tensor, CellState]:
        """One step from the input pre-activation ``ax = W x + b_x``: (y, o, new state)."""
        xz, xr, xg = ax.chunk(3, dim=-1)
        hz, hr, hg = F.linear(state.y, self.R, self.b_r).chunk(3, dim=-1)
        z = torch.sigmoid(xz + hz)
        r = torch.sigmoid(xr + hr)
        g = torch.tanh(xg + r * hg)
        c = z * state.h + (1.0 - z) * g
        o = SpikeFunction.apply(c - self.thr, self.dampening, self.support)
        y = o * c
        return y, o, CellState(y=y, h=c - o * self.thr)

    def forward(
        self, x: Tensor, state: CellState | None = None, carry: StateCarry = "y_and_h"
    ) -> tuple[Tensor, Tensor, CellState]:
        """x: (batch, time, input_size) -> y, o: (batch, time, hidden), final state (full:
        ``y`` and ``h``). ``state``: the previous call's final state, of which ``carry`` says
        what this call takes over; None: from rest (both zero)."""
        check_carry(carry)
        with torch.no_grad():
            self.thr.clamp_(0.0, 1.0)
        state = self.initial_state(x.shape[0]) if state is None else carried(state, carry)
        ys, os_ = [], []
        # all input products at once; unbind (not indexing) keeps the backward pass cheap
        for ax in F.linear(x, self.W, self.b_x).unbind(1):
            y, o, state = self._update(ax, state)
            ys.append(y)
            os_.append(o)
        return torch.stack(ys, 1), torch.stack(os_, 1), state


@dataclass
class LMOutput:
    """Logits plus what traces and regularisers need: every layer's events and spike gates."""

    logits: Tensor  # (batch, time, vocab)
    state: list[CellState]
    ys: list[Tensor] = field(default_factory=list)  # per layer (batch, time, hidden)
    os: list[Tensor] = field(default_factory=list)  # per layer, 0/1 with surrogate gradient
    embedded: Tensor | None = None  # (batch, time, embedding_dim): layer 0's input x_t


class EGRULM(nn.Module):
    """Embedding -> EGRU layers -> decoder tied to the embedding (Nazeer et al. 2024)."""

    def __init__(self, cfg: EGRUConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # reference init range
        self.layers = nn.ModuleList(EGRUCell(i, h, cfg) for i, h in cfg.layer_shapes())
        self.decoder_bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, tokens: Tensor, state: list[CellState] | None = None,
                carry: StateCarry = "y_and_h") -> LMOutput:
        """tokens: (batch, time) int64; ``state``: the previous call's, of which every layer
        takes over what ``carry`` says (:data:`StateCarry`)."""
        x = emb = self.embedding(tokens)
        new_state, ys, os_ = [], [], []
        for i, layer in enumerate(self.layers):
            x, o, s = layer(x, None if state is None else state[i], carry)
            ys.append(x)
            os_.append(o)
            new_state.append(s)
        logits = F.linear(x, self.embedding.weight, self.decoder_bias)
        return LMOutput(logits=logits, state=new_state, ys=ys, os=os_, embedded=emb)

    def weight_matrices(self) -> dict[str, Tensor]:
        """The recurrent-layer weight matrices by trace name: ``layer{l}.W``, ``layer{l}.R``."""
        out = {}
        for i, layer in enumerate(self.layers):
            out[f"layer{i}.W"] = layer.W
            out[f"layer{i}.R"] = layer.R
        return out

    @classmethod
    def from_evnn(cls, state_dict: Mapping[str, Tensor], cfg: EGRUConfig) -> EGRULM:
        """Load the reference LM layout (``embeddings.weight``, ``decoder.decoder.bias``,
        ``rnns.{l}.kernel`` (I x 3H), ``recurrent_kernel`` (H x 3H), ``bias``,
        ``recurrent_bias``, ``thr``); kernels are transposed to (out, in)."""
        model = cls(cfg)
        sd = {"embedding.weight": state_dict["embeddings.weight"],
              "decoder_bias": state_dict["decoder.decoder.bias"]}
        for i in range(len(cfg.layers)):
            p = f"rnns.{i}."
            sd |= {f"layers.{i}.W": state_dict[p + "kernel"].T,
                   f"layers.{i}.R": state_dict[p + "recurrent_kernel"].T,
                   f"layers.{i}.b_x": state_dict[p + "bias"],
                   f"layers.{i}.b_r": state_dict[p + "recurrent_bias"],
                   f"layers.{i}.thr": state_dict[p + "thr"]}
        model.load_state_dict({k: v.contiguous() for k, v in sd.items()})
        return model


def activity_loss(out: LMOutput) -> Tensor:
    """Activity regulariser (reference ``gamma`` term): mean spike gate, summed over layers;
    its surrogate gradient pushes cell states below threshold, so fewer events."""
    return sum(o.mean() for o in out.os)


def layer_activity(out: LMOutput) -> list[float]:
    """Fraction of non-zero y per layer, over batch, time and units."""
    return [float((y != 0).float().mean()) for y in out.ys]


def lm_loss(out: LMOutput, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy in nats."""
    return F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]), targets.reshape(-1))


@contextmanager
def _quiet_sparse() -> Iterator[None]:
    """Silence torch's "sparse CSR support is in beta" warning: CSR storage here is only a
    container (densified on load), so the warning tells the user nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        yield


def save_egru(path: str | Path, model: EGRULM, vocab: Sequence[str] | None = None,
              record: Mapping | None = None) -> Path:
    """Self-contained checkpoint: config, vocabulary, state dict; pruned matrices stored as
    sparse CSR tensors (exact, and small at high sparsity). ``record`` must be JSON-able; it
    is stored as plain JSON types, so that ``load_egru`` can read it with ``weights_only``
    (a ``torch.__version__`` object, say, would otherwise make the file unloadable)."""
    sd = {}
    with _quiet_sparse():
        for k, v in model.state_dict().items():
            sparse = v.dim() == 2 and k.endswith((".W", ".R")) and (v == 0).float().mean() > 0.5
            sd[k] = v.to_sparse_csr() if sparse else v
    from simulator.outputs import write_atomic

    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
           "config": asdict(model.cfg), "vocab": list(vocab) if vocab else None,
           "record": json.loads(json.dumps(dict(record or {}))), "state_dict": sd}
    return write_atomic(Path(path), lambda f: torch.save(doc, f))


class EgruCheckpointError(UserError, ValueError):
    """An EGRU checkpoint is unreadable or invalid; the message names the file and the key."""


def load_egru(path: str | Path) -> tuple[EGRULM, list[str] | None, dict]:
    """(model in eval mode, vocabulary or None, training record) from :func:`save_egru`.
    Every part is checked (readable file, format, config fields, state-dict keys and shapes,
    finite weights); an :class:`EgruCheckpointError` names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise EgruCheckpointError(f"{path}: no such EGRU checkpoint file")
    ck = read_checkpoint(path, EgruCheckpointError, "not a readable EGRU checkpoint")
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise EgruCheckpointError(f"{path}: not an {CHECKPOINT_FORMAT} checkpoint (field "
                                  f"'format' must be {CHECKPOINT_FORMAT!r})")
    if ck.get("version") != CHECKPOINT_VERSION:
        raise EgruCheckpointError(f"{path}: checkpoint version {ck.get('version')!r} not "
                                  f"supported (this nmsim reads version {CHECKPOINT_VERSION})")
    missing = [k for k in ("config", "state_dict") if not isinstance(ck.get(k), dict)]
    if missing:
        raise EgruCheckpointError(f"{path}: field {missing[0]!r} is missing or not a mapping")
    model = EGRULM(_checkpoint_config(path, ck["config"]))
    sd = ck["state_dict"]
    not_tensors = sorted(k for k, v in sd.items() if not isinstance(v, Tensor))
    if not_tensors:
        raise EgruCheckpointError(f"{path}: state_dict entries {not_tensors[:8]} are not "
                                  "tensors")
    sd = {k: v.to_dense() if v.layout != torch.strided else v for k, v in sd.items()}
    expected = model.state_dict()
    problems = []
    if gone := sorted(set(expected) - set(sd)):
        problems.append(f"missing keys {gone}")
    if extra := sorted(set(sd) - set(expected)):
        problems.append(f"unexpected keys {extra}")
    if shapes := [f"{k}: {tuple(sd[k].shape)}, expected {tuple(v.shape)}"
                  for k, v in expected.items() if k in sd and sd[k].shape != v.shape]:
        problems.append(f"mis-shaped keys [{'; '.join(shapes)}]")
    if problems:
        raise EgruCheckpointError(f"{path}: state_dict does not match the config "
                                  f"{model.cfg.layers}: " + "; ".join(problems))
    for k, v in sd.items():
        bad = ~torch.isfinite(v) if v.is_floating_point() else None
        if bad is not None and bad.any():
            raise EgruCheckpointError(f"{path}: tensor {k!r} has {int(bad.sum())} NaN or "
                                      "infinite values; every weight must be finite")
    model.load_state_dict(sd)
    vocab = ck.get("vocab")
    if vocab is not None and (not isinstance(vocab, list) or len(vocab) != model.cfg.vocab_size
                              or not all(isinstance(c, str) for c in vocab)):
        raise EgruCheckpointError(f"{path}: field 'vocab' must be a list of "
                                  f"{model.cfg.vocab_size} strings (config.vocab_size)")
    record = ck.get("record")
    return model.eval(), vocab, record if isinstance(record, dict) else {}


def _checkpoint_config(path: Path, raw: dict) -> EGRUConfig:
    allowed = [f.name for f in fields(EGRUConfig)]
    if extra := sorted(set(raw) - set(allowed)):
        raise EgruCheckpointError(f"{path}: config has unknown fields {extra}; allowed: "
                                  f"{', '.join(allowed)}")
    if "vocab_size" not in raw:
        raise EgruCheckpointError(f"{path}: config field 'vocab_size' is missing")
    try:
        return EGRUConfig(**raw)
    except (ValueError, TypeError) as e:
        raise EgruCheckpointError(f"{path}: invalid config {raw}: {e}") from None


def load_tiny_egru() -> tuple[EGRULM, list[str], dict]:
    """The shipped tiny EGRU LM (eval mode), its character vocabulary and measured metrics."""
    model, vocab, _ = load_egru(artifact_path(TINY_CHECKPOINT))
    return model, vocab or [], json.loads(artifact_path(TINY_METRICS).read_text("utf-8"))


def encode_chars(text: str, vocab: Sequence[str]) -> Tensor:
    """Character ids of ``text`` in a character vocabulary (every character must be in it)."""
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted({c for c in text if c not in index})
    if missing:
        raise ValueError(f"characters not in the vocabulary: {missing!r}")
    return torch.tensor([index[c] for c in text], dtype=torch.long)
