"""Hardware building blocks: memories, DMA, network on chip, cores."""

from simulator.components.base import Component
from simulator.components.core import Core, CoreConfig
from simulator.components.dma import Dma, DmaConfig
from simulator.components.dram import Dram, DramConfig
from simulator.components.noc import Noc, NocConfig, Packet, Tail, mesh_graph
from simulator.components.sram import Allocation, Sram, SramAllocationError, SramConfig

__all__ = [
    "Allocation", "Component", "Core", "CoreConfig", "Dma", "DmaConfig", "Dram", "DramConfig",
    "Noc", "NocConfig", "Packet", "Sram", "SramAllocationError", "SramConfig", "Tail", "mesh_graph",
]
