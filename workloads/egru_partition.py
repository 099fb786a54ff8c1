"""Mapping an EGRU network onto N cores: layer split, neuron partition, per-core footprint.

Neurons are split over cores, as on SpiNNaker2 (Nazeer et al., AICAS 2024): neuron ``j`` of a
layer with ``H`` units owns rows ``j``, ``H + j``, ``2H + j`` (gates z, r, g) of the layer's
input matrix W (3H x I) and recurrent matrix R (3H x H), and a core stores its neurons' rows.

- **Layer split** (:func:`split_cores`): ``"equal"`` gives every layer the same number of
  cores (the paper: 50/50/50 for 150); ``"nnz"`` gives each layer cores in proportion to its
  stored non-zeros (largest remainder), which balances memory and work across layers.
- **Strategy inside a layer** (:func:`partition_layer`): ``"equal"`` gives contiguous blocks
  of equal neuron counts; ``"balanced"`` assigns neurons, heaviest first, to the core with the
  fewest non-zeros so far (greedy longest-processing-time), balancing non-zeros.
- **Footprint** (:func:`core_footprint`): weights in CSR per matrix in one of two layouts:
  ``"column"`` (the core's rows stored column by column, i.e. the CSR of the transposed slice:
  what an event-driven core needs to find the weights of one input event's column; ``n_in + 1``
  column offsets) or ``"row"`` (row-major CSR of the core's rows, the paper's Table I layout:
  ``2 * NZ + N_rows + 1`` words); plus the per-neuron variables of the EGRU cell.

Only mapping logic lives here; what a core's memory holds besides (program, stack) and what it
can hold is the chip's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from models.csr import csr_footprint_bytes, gate_rows
from workloads.trace import Trace, TraceError

if TYPE_CHECKING:
    import scipy.sparse as sp

Strategy = Literal["equal", "balanced"]
LayerSplit = Literal["equal", "nnz"]
Layout = Literal["column", "row"]
STRATEGIES: tuple[str, ...] = ("equal", "balanced")
LAYER_SPLITS: tuple[str, ...] = ("equal", "nnz")
LAYOUTS: tuple[str, ...] = ("column", "row")

#: Values a core keeps per neuron (EvNN convention, ``workloads.md``): cell state c, threshold
#: theta, six biases (b_x and b_r for z, r, g), and four accumulators (z and r sum W x + R y;
#: g keeps W x and R y apart because r multiplies only the recurrent part) for each of the two
#: timesteps a core may be accumulating at once (see ``simulator/jobs/egru_sweep.py``).
VALUES_PER_NEURON = 1 + 1 + 6 + 4 * 2


@dataclass(frozen=True)
class EgruLayer:
    """One EGRU layer's weights: W (3H x I) and R (3H x H), CSR."""

    index: int
    W: sp.csr_array
    R: sp.csr_array

    @property
    def hidden(self) -> int:
        return self.R.shape[1]

    @property
    def inputs(self) -> int:
        return self.W.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.W.nnz + self.R.nnz)

    def neuron_nnz(self) -> np.ndarray:
        """Non-zeros each neuron stores (its three rows of W and of R)."""
        h = self.hidden
        rows = np.diff(self.W.indptr) + np.diff(self.R.indptr)
        return rows[:h] + rows[h:2 * h] + rows[2 * h:]


def layers_from_trace(trace: Trace) -> list[EgruLayer]:
    """The layers of an EGRU trace (sites ``layer{l}.W`` / ``layer{l}.R`` with matrices)."""
    if trace.meta.kind != "egru":
        raise TraceError(f"expected an EGRU trace, got kind {trace.meta.kind!r}")
    layers = []
    n = len(trace.meta.extra.get("layers", [])) or sum(
        1 for s in trace.sites if s.name.endswith(".R"))
    for i in range(n):
        mats = []
        for part in ("W", "R"):
            site = trace.site(f"layer{i}.{part}")
            if site.matrix is None:
                raise TraceError(f"trace site {site.name!r} carries no weight matrix")
            import scipy.sparse as sp  # only when a trace's matrices are read

            mats.append(sp.csr_array(trace.matrices[site.matrix]))
        w, r = mats
        if w.shape[0] != 3 * r.shape[1] or r.shape[0] != r.shape[1] * 3:
            raise TraceError(f"layer{i}: W {w.shape} and R {r.shape} are not 3H x I and 3H x H")
        layers.append(EgruLayer(i, w, r))
    if not layers:
        raise TraceError("EGRU trace has no layer sites")
    return layers


def split_cores(layers: list[EgruLayer], n_cores: int, how: LayerSplit) -> list[int]:
    """Cores per layer: each at least 1 and at most its neuron count, summing to ``n_cores``."""
    hidden = [lay.hidden for lay in layers]
    if not len(layers) <= n_cores <= sum(hidden):
        raise ValueError(f"{n_cores} cores cannot hold {len(layers)} layers of {hidden} neurons "
                         f"(need {len(layers)} to {sum(hidden)})")
    if how == "equal":
        share = np.full(len(layers), 1.0)
    elif how == "nnz":
        share = np.array([lay.nnz for lay in layers], dtype=float)
    else:
        raise ValueError(f"unknown layer split {how!r}; choose from {LAYER_SPLITS}")
    ideal = share / share.sum() * n_cores
    counts = np.maximum(1, np.floor(ideal)).astype(int)
    # largest remainder first (ties: the layer with more weights), within each layer's neurons
    order = sorted(range(len(layers)), key=lambda i: (-(ideal[i] - counts[i]), -layers[i].nnz))
    while counts.sum() < n_cores:
        for i in order:
            if counts.sum() < n_cores and counts[i] < hidden[i]:
                counts[i] += 1
    while counts.sum() > n_cores:
        i = max((i for i in range(len(layers)) if counts[i] > 1),
                key=lambda i: counts[i] - ideal[i])
        counts[i] -= 1
    for i in range(len(layers)):  # a layer with fewer neurons than cores hands them on,
        extra = counts[i] - hidden[i]  # one by one, so no receiver goes over its own count
        if extra > 0:
            counts[i] = hidden[i]
            for _ in range(extra):
                j = max((j for j in range(len(layers)) if counts[j] < hidden[j]),
                        key=lambda j: hidden[j] - counts[j])
                counts[j] += 1
    return [int(c) for c in counts]


def partition_layer(layer: EgruLayer, n_cores: int, strategy: Strategy) -> list[np.ndarray]:
    """Neuron indices (sorted) of each of ``n_cores`` cores; every neuron exactly once."""
    h = layer.hidden
    if not 1 <= n_cores <= h:
        raise ValueError(f"layer{layer.index}: {n_cores} cores for {h} neurons")
    if strategy == "equal":
        return np.array_split(np.arange(h, dtype=np.int64), n_cores)
    if strategy != "balanced":
        raise ValueError(f"unknown strategy {strategy!r}; choose from {STRATEGIES}")
    weight = layer.neuron_nnz()
    load = np.zeros(n_cores, dtype=np.int64)
    count = np.zeros(n_cores, dtype=np.int64)
    cap = -(-h // n_cores)  # no core takes more neurons than an equal split's largest
    owner = np.empty(h, dtype=np.int64)
    for j in np.argsort(-weight, kind="stable"):
        open_cores = np.flatnonzero(count < cap)
        k = open_cores[np.argmin(load[open_cores])]
        owner[j] = k
        load[k] += weight[j]
        count[k] += 1
    return [np.flatnonzero(owner == k) for k in range(n_cores)]


@dataclass(frozen=True)
class CorePart:
    """What one core holds: its layer, its neurons, and its slices' non-zeros per column."""

    core: int
    layer: int
    neurons: np.ndarray
    w_col_nnz: np.ndarray  # non-zeros of the core's W rows, per input column (length I)
    r_col_nnz: np.ndarray  # same for R (length H)

    @property
    def w_nnz(self) -> int:
        return int(self.w_col_nnz.sum())

    @property
    def r_nnz(self) -> int:
        return int(self.r_col_nnz.sum())


@dataclass(frozen=True)
class Partition:
    layers: list[EgruLayer]
    cores_per_layer: list[int]
    cores: list[CorePart]
    strategy: str
    layer_split: str

    @property
    def n_cores(self) -> int:
        return len(self.cores)

    def layer_cores(self, layer: int) -> range:
        """Global indices of the cores of ``layer`` (layers occupy consecutive cores)."""
        start = sum(self.cores_per_layer[:layer])
        return range(start, start + self.cores_per_layer[layer])

    def owner(self, layer: int) -> np.ndarray:
        """Core index of each neuron of ``layer``."""
        out = np.empty(self.layers[layer].hidden, dtype=np.int64)
        for c in self.layer_cores(layer):
            out[self.cores[c].neurons] = c
        return out


def partition(
    layers: list[EgruLayer], n_cores: int, strategy: Strategy = "equal",
    layer_split: LayerSplit = "nnz",
) -> Partition:
    """Split ``n_cores`` over the layers, then each layer's neurons over its cores."""
    counts = split_cores(layers, n_cores, layer_split)
    cores: list[CorePart] = []
    for layer, n in zip(layers, counts, strict=True):
        for neurons in partition_layer(layer, n, strategy):
            rows = gate_rows(neurons, layer.hidden)
            w, r = layer.W[rows], layer.R[rows]
            cores.append(CorePart(
                len(cores), layer.index, neurons,
                np.bincount(w.indices, minlength=layer.inputs).astype(np.int64),
                np.bincount(r.indices, minlength=layer.hidden).astype(np.int64),
            ))
    return Partition(layers, counts, cores, strategy, layer_split)


def weight_bytes(
    part: CorePart, layers: list[EgruLayer], layout: Layout = "column",
    value_bytes: int = 4, index_bytes: int = 4, pointer_bytes: int = 4,
) -> int:
    """Bytes of a core's W and R slices in CSR (two matrices) in the given layout."""
    return sum(csr_footprint_bytes(nnz, n, value_bytes, index_bytes, pointer_bytes)
               for nnz, n in csr_shapes(part, layers, layout))


def csr_shapes(part: CorePart, layers: list[EgruLayer], layout: Layout = "column"
               ) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(stored non-zeros, offsets)`` of the core's W and R slices in the given layout:
    ``"column"`` has one offset per input column, ``"row"`` one per stored row."""
    layer = layers[part.layer]
    if layout == "column":
        lines = (layer.inputs, layer.hidden)
    elif layout == "row":
        lines = (3 * len(part.neurons),) * 2
    else:
        raise ValueError(f"unknown layout {layout!r}; choose from {LAYOUTS}")
    return (part.w_nnz, lines[0]), (part.r_nnz, lines[1])


def variable_bytes(part: CorePart, value_bytes: int = 4, input_buffer_bytes: int = 0) -> int:
    """Per-neuron cell variables (:data:`VALUES_PER_NEURON`) plus any input buffer."""
    return len(part.neurons) * VALUES_PER_NEURON * value_bytes + input_buffer_bytes
