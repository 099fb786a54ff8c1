"""Schema shared by every calibration file: a number, its unit, and where it comes from.

Every hardware number the simulator uses is a :class:`Cited` value in a YAML file of this
package. ``source`` names the paper and table/figure, or starts with ``"assumption:"`` followed
by why the value was chosen; :attr:`Cited.assumed` tells the two apart so that reports can list
what is assumed. Loading validates the file with the chip's pydantic model and, on error, names
the file and the dotted path of the offending field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulator.errors import UserError

ASSUMPTION = "assumption:"
#: Bytes in a published "KB" or "kB", in every source alike: memory sizes in the sources are
#: binary (SpiNNaker2's "128 kB in 4 banks of 32 kB" is 4 x 32,768 B), and Nazeer et al.'s
#: Table I lists its usages (17.9 KB program, 5 KB debug, 88.3 KB weights) beside the "32 KB
#: instruction, 96 KB data" that those banks are. Values are stored in bytes (unit ``B``) or
#: marked ``KiB``. See docs/hardware.md, "Units".
KB_BYTES = 1024


class CalibrationError(UserError, ValueError):
    """A calibration or reference file is missing, unreadable or invalid."""


class Cited(BaseModel):
    """A number with its unit and source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: finite: a NaN or infinite energy, power, time or size is never a cost (rejected)
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1)
    source: str = Field(min_length=3, description="paper + table/figure, or 'assumption: why'")
    note: str = ""

    @field_validator("source")
    @classmethod
    def _assumption_says_why(cls, v: str) -> str:
        if v.lower().startswith(ASSUMPTION) and len(v) <= len(ASSUMPTION) + 3:
            raise ValueError("an assumption must say why ('assumption: <reason>')")
        return v

    @property
    def assumed(self) -> bool:
        return self.source.lower().startswith(ASSUMPTION)


class Positive(Cited):
    """A size, count, clock, rate or width: zero or less would be meaningless."""

    @field_validator("value")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return v


class NonNegative(Cited):
    """An energy, power, latency or count that may be zero but never negative."""

    @field_validator("value")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


class Fraction(Cited):
    """A share of a peak rate: some of it (a rate of zero would stall), at most all of it."""

    @field_validator("value")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"must be in (0, 1], got {v}")
        return v


class Reference(BaseModel):
    """A published aggregate measurement (not a per-operation cost) to check the model against.

    ``use`` says whether a fit may use it (``fit``) or it is kept out of every fit
    (``held_out``) and only reported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    chip: str = Field(min_length=1, description="a registered chip model (checked by the "
                                                "simulator's registry, not here)")
    quantity: str = Field(min_length=1, description="what is measured, e.g. 'chip power'")
    value: float
    unit: str = Field(min_length=1)
    source: str = Field(min_length=3)
    conditions: dict[str, float | int | str] = Field(default_factory=dict)
    use: Literal["fit", "held_out"]


class ReferenceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    references: list[Reference]


M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``; errors name the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise CalibrationError(f"{path}: no such calibration file") from e
    except yaml.YAMLError as e:
        raise CalibrationError(f"{path}: not valid YAML: {e}") from e
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"field '{_field_path(err['loc'])}': {err['msg']}" for err in e.errors()
        )
        raise CalibrationError(f"{path}: invalid {model.__name__}: {problems}") from e


def assumptions(model: BaseModel, prefix: str = "") -> dict[str, Cited]:
    """Every assumed :class:`Cited` value inside ``model``, by dotted field path."""
    return {k: v for k, v in cited_values(model, prefix).items() if v.assumed}


def cited_values(model: BaseModel, prefix: str = "") -> dict[str, Cited]:
    """Every :class:`Cited` value inside ``model`` (recursively, through nested models, dicts
    and lists), by dotted field path."""
    return {path: v for name in type(model).model_fields
            for path, v in _walk(getattr(model, name), f"{prefix}{name}")}


def _walk(value: object, path: str) -> list[tuple[str, Cited]]:
    if isinstance(value, Cited):
        return [(path, value)]
    if isinstance(value, BaseModel):
        return list(cited_values(value, path + ".").items())
    if isinstance(value, dict):
        return [kv for k, item in value.items() for kv in _walk(item, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [kv for i, item in enumerate(value) for kv in _walk(item, f"{path}.{i}")]
    return []
