"""Mapping EGRU layers onto N cores of any chip: the partition, and what each core holds.

The neuron partition is the workload's (:func:`workloads.egru_partition.partition`); this adds
the chip: every core (role ``layer<l>``) holds the EGRU program (its published size where the
chip has one), its W and R slices as CSR in the chip's value and index formats (or dense,
``weight_format="dense"``: every weight of its rows, zeros included, no indices), its neurons'
variables, and on chips whose cores stream the layer-0 input from DRAM, two DMA buffers of
:data:`CHUNK_BYTES`. The simulation walks columns, so the check uses the ``"column"`` layout;
the ``"row"`` layout (the SpiNNaker2 paper's Table I) is measured for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulator.chips.work import CoreCostModel
from simulator.mapping import Mapping, Placement
from workloads.egru_partition import (
    VALUES_PER_NEURON,
    CorePart,
    Layout,
    Partition,
    csr_shapes,
)

#: bytes of one embedding chunk moved by DMA (two such buffers per layer-0 core)
CHUNK_BYTES = 1024
#: input buffers of a layer-0 core that streams its input
CHUNK_BUFFERS = 2
WeightFormat = Literal["csr", "dense"]
WEIGHT_FORMATS: tuple[str, ...] = ("csr", "dense")


@dataclass(frozen=True)
class EgruMap:
    partition: Partition
    mapping: Mapping
    streams_input: bool  # layer 0 reads x_t from DRAM by DMA (else: events from the host)
    weight_format: WeightFormat = "csr"


def weight_bytes(core: CorePart, part: Partition, cost: CoreCostModel,
                 layout: Layout = "column", weight_format: WeightFormat = "csr") -> int:
    """Bytes of the core's W and R slices in CSR, in the chip's value and index formats, or
    dense (every weight of its 3 x neurons rows of W and R, in the chip's value format)."""
    if weight_format == "dense":
        layer = part.layers[core.layer]
        return cost.weight_bytes(3 * len(core.neurons) * (layer.inputs + layer.hidden))
    return sum(cost.csr_bytes(nnz, offsets)
               for nnz, offsets in csr_shapes(core, part.layers, layout))


def regions(core: CorePart, part: Partition, cost: CoreCostModel, streams_input: bool,
            layout: Layout = "column", weight_format: WeightFormat = "csr") -> dict[str, int]:
    value = cost.value_bits // 8
    buffers = CHUNK_BUFFERS * CHUNK_BYTES if streams_input and core.layer == 0 else 0
    return {"weights": weight_bytes(core, part, cost, layout, weight_format),
            "variables": len(core.neurons) * VALUES_PER_NEURON * value + buffers}


def map_egru(part: Partition, cost: CoreCostModel, streams_input: bool,
             layout: Layout = "column", weight_format: WeightFormat = "csr") -> EgruMap:
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"weight_format must be one of {WEIGHT_FORMATS}, not {weight_format!r}")
    program = cost.program_bytes("egru")
    placements = tuple(
        Placement(c.core, f"layer{c.layer}", program,
                  regions(c, part, cost, streams_input, layout, weight_format))
        for c in part.cores)
    summary = {"pes_per_layer": list(part.cores_per_layer), "strategy": part.strategy,
               "layer_split": part.layer_split, "layout": layout,
               "weight_format": weight_format}
    return EgruMap(part, Mapping(placements, part.strategy, summary), streams_input,
                   weight_format)
