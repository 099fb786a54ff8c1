"""CSR export of pruned weight matrices, per matrix and per partition, with byte footprints.

A chip stores each pruned matrix row-major in compressed sparse row (CSR) form: the non-zero
values, their column indices, and the row extents (``N_rows + 1`` offsets). With one word per
value, index and offset that is ``2 * NZ + N_rows + 1`` words (Nazeer et al., AICAS 2024).
:func:`csr_footprint_bytes` generalises it to configurable widths (fp32/fp16/int8 values,
16/32-bit indices and row offsets).

A *partition* is a set of EGRU neurons placed on one core: neuron ``j`` of a layer with ``H``
units owns rows ``j``, ``H + j``, ``2H + j`` (gates z, r, g) of both W and R, so a partition's
matrices are those rows, gate-major (all z rows, then r, then g: the same layout as the whole
matrix). scipy's ``csr_array`` is the container; this module only views and measures it.

torch is not imported here: a tensor can only exist once its caller has imported torch, so
:func:`to_csr` looks for it in ``sys.modules``; footprints and the mapping need no torch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

#: Bytes per stored value for the supported value formats.
VALUE_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "int8": 1}
#: Bytes per column index / row offset for the supported index widths (bits).
INDEX_BYTES: dict[int, int] = {16: 2, 32: 4}

MatrixLike: TypeAlias = "torch.Tensor | np.ndarray | sp.sparray | sp.spmatrix"


def csr_footprint_bytes(
    nnz: int, n_rows: int, value_bytes: int = 4, index_bytes: int = 4, rowptr_bytes: int = 4
) -> int:
    """Bytes of a CSR matrix: ``nnz`` values and column indices, ``n_rows + 1`` row offsets.
    With 4/4/4 this is ``4 * (2 * nnz + n_rows + 1)``."""
    if min(nnz, n_rows) < 0 or min(value_bytes, index_bytes, rowptr_bytes) < 1:
        raise ValueError("nnz and n_rows must be >= 0 and widths >= 1 byte")
    return nnz * (value_bytes + index_bytes) + (n_rows + 1) * rowptr_bytes


def to_csr(matrix: MatrixLike) -> sp.csr_array:
    """float32 CSR of a dense tensor/array or sparse matrix; explicit zeros dropped, indices
    sorted (canonical, so equal matrices give equal arrays)."""
    import scipy.sparse as sp  # imported when a matrix is made, not with the module

    torch = sys.modules.get("torch")  # no tensor without torch, and no import here for it
    if torch is not None and isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().numpy()
    m = sp.csr_array(matrix, dtype=np.float32)
    m.eliminate_zeros()
    m.sort_indices()
    return m


@dataclass(frozen=True)
class CSRView:
    """The three arrays a core stores for one matrix, and their footprint."""

    values: np.ndarray  # float32, nnz
    col_indices: np.ndarray  # int64, nnz
    row_extents: np.ndarray  # int64, n_rows + 1 (row i is row_extents[i]:row_extents[i+1])
    shape: tuple[int, int]

    @classmethod
    def of(cls, matrix: MatrixLike) -> CSRView:
        m = to_csr(matrix)
        return cls(values=m.data.copy(), col_indices=m.indices.astype(np.int64),
                   row_extents=m.indptr.astype(np.int64), shape=(int(m.shape[0]),
                                                                 int(m.shape[1])))

    @property
    def nnz(self) -> int:
        return int(len(self.values))

    @property
    def n_rows(self) -> int:
        return self.shape[0]

    def to_csr(self) -> sp.csr_array:
        import scipy.sparse as sp

        return sp.csr_array((self.values, self.col_indices, self.row_extents), shape=self.shape)

    def to_dense(self) -> np.ndarray:
        return self.to_csr().toarray()

    def footprint_bytes(self, value_format: str = "fp32", index_bits: int = 32,
                        rowptr_bits: int | None = None) -> int:
        """Bytes for the given value format and index widths (row offsets default to the
        index width); raises if an index width cannot address the columns or non-zeros."""
        if value_format not in VALUE_BYTES:
            raise ValueError(f"value_format must be one of {sorted(VALUE_BYTES)}")
        rowptr_bits = index_bits if rowptr_bits is None else rowptr_bits
        for bits in (index_bits, rowptr_bits):
            if bits not in INDEX_BYTES:
                raise ValueError(f"index widths must be one of {sorted(INDEX_BYTES)} bits")
        if self.shape[1] > 2**index_bits:
            raise ValueError(f"{self.shape[1]} columns need more than {index_bits}-bit indices")
        if self.nnz >= 2**rowptr_bits:
            raise ValueError(f"{self.nnz} non-zeros need more than {rowptr_bits}-bit offsets")
        return csr_footprint_bytes(self.nnz, self.n_rows, VALUE_BYTES[value_format],
                                   INDEX_BYTES[index_bits], INDEX_BYTES[rowptr_bits])


def export_matrices(matrices: Mapping[str, MatrixLike]) -> dict[str, CSRView]:
    """:class:`CSRView` of every named matrix (e.g. ``EGRULM.weight_matrices()``)."""
    return {name: CSRView.of(m) for name, m in matrices.items()}


def gate_rows(neurons: Sequence[int] | np.ndarray, hidden: int) -> np.ndarray:
    """Rows of W/R owned by ``neurons`` of a layer of ``hidden`` units, gate-major (z, r, g)."""
    n = np.asarray(neurons, dtype=np.int64)
    if n.size and (n.min() < 0 or n.max() >= hidden):
        raise ValueError(f"neuron indices must lie in [0, {hidden})")
    return np.concatenate([n + k * hidden for k in range(3)])


def even_partitions(hidden: int, n_parts: int) -> list[np.ndarray]:
    """Contiguous neuron ranges as even as possible (e.g. 1350 units on 50 cores: 27 each)."""
    if not 1 <= n_parts <= hidden:
        raise ValueError(f"n_parts must lie in [1, {hidden}]")
    return np.array_split(np.arange(hidden, dtype=np.int64), n_parts)


def partition_view(matrix: MatrixLike, neurons: Sequence[int] | np.ndarray) -> CSRView:
    """CSR of the gate rows of ``neurons`` in a 3H-row matrix (W or R of one layer)."""
    m = to_csr(matrix)
    if m.shape[0] % 3:
        raise ValueError(f"a gate matrix has 3H rows; got {m.shape[0]}")
    return CSRView.of(m[gate_rows(neurons, m.shape[0] // 3)])


def partition_export(
    W: MatrixLike, R: MatrixLike, neurons: Sequence[int] | np.ndarray
) -> dict[str, CSRView]:
    """What one core stores for its neurons of a layer: ``{"W": ..., "R": ...}``."""
    return {"W": partition_view(W, neurons), "R": partition_view(R, neurons)}
