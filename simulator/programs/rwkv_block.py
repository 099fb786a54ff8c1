"""What every RWKV-4 block program shares: its sub-blocks, its trace's sites, its workload.

Runs on the mappings of :mod:`simulator.mappings.rwkv_block`; the subclasses
:class:`~simulator.programs.rwkv_dataflow.DataflowProgram` and
:class:`~simulator.programs.rwkv_gather.GatherProgram` decide where the element-wise stages
run (``../shared/reference/workloads.md`` for the equations, :mod:`workloads.rwkv_ops` for
the operation counts). Tiles, events, the layer-norm tree and the token loop are every block's
(:mod:`simulator.programs.block`).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.rwkv_sites import SITE_SUFFIXES
from simulator.mappings.rwkv_block import SUB_BLOCKS
from simulator.programs.block import (
    BlockProgram,
    Events,
    LnPart,
    LnStats,
    Outputs,
    Partial,
    Start,
)
from workloads.trace import SiteEvents, Trace

__all__ = ["BlockWorkload", "Events", "LnPart", "LnStats", "Outputs", "Partial",
           "RwkvBlockProgram", "Start"]


@dataclass(frozen=True)
class BlockWorkload:
    """``tokens`` tokens of block ``block`` of an RWKV trace, dense or sparse."""

    trace: Trace
    block: int
    tokens: int
    sparse: bool


class RwkvBlockProgram(BlockProgram):
    """See the module docstring; subclasses implement :meth:`_control` and :meth:`_outputs`."""

    workload = "rwkv"
    sub_blocks = SUB_BLOCKS

    def _site_events(self, workload: BlockWorkload) -> dict[str, SiteEvents]:
        return {s: workload.trace.events[f"blocks.{workload.block}.{s}"] for s in SITE_SUFFIXES}
