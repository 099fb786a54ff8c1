"""Schema of an *analytic* chip description: fixed energy and time per operation.

The model of an analytical study (as Knunyants et al. 2025 estimate SENECA's cost of an RWKV
block): every operation, a MAC of a linear layer or one element-wise operation, costs the same
energy and time, split into its computational part and its memory (read/write) part; events,
the network and leakage cost nothing. ``calibration/knunyants2025.yaml`` is the one shipped
description (its constants are fitted to the paper's tables and say so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from calibration.schema import NonNegative, Positive, load_yaml
from calibration.specs import NocSpec

DEFAULT_PATH = Path(__file__).with_name("knunyants2025.yaml")


class OperationCost(BaseModel):
    """Energy (pJ) and time (ns) of one operation, computational and memory parts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    computation_energy: NonNegative
    memory_energy: NonNegative
    computation_time: NonNegative
    memory_time: NonNegative


class AnalyticConfig(BaseModel):
    """See the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["analytic"] = "analytic"
    clock: Positive
    value_bits: Positive
    weight_bits: Positive
    memory_bytes: Positive
    operation: OperationCost
    noc: NocSpec


def load_analytic(path: str | Path = DEFAULT_PATH) -> AnalyticConfig:
    return load_yaml(path, AnalyticConfig)
