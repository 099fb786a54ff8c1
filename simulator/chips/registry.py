"""The chip registry: every chip model is registered once, and every chip list derives from it.

A :class:`ChipSpec` says what a chip model is: its name, the pydantic schema of its
description file (hardware facts, every number cited) and of its options (mapping choices
that are not hardware facts), its default description, how to make its cost model and how to
build a :class:`~simulator.chips.system.System` of ``n`` cores, and which modules hold its
reference simulations. Built-in chips are listed by module in :data:`BUILTIN` and imported
only when asked for, so listing names costs nothing.

:func:`load_chip` turns a name or a user's YAML file (plus ``--set`` overrides and
``--option`` values) into a validated :class:`Chip`, as SANA-FE parses an architecture
description into objects before anything is built. Errors name the file (or argument) and the
dotted field.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from calibration.schema import CalibrationError, assumptions, cited_values
from simulator.errors import UserError

if TYPE_CHECKING:
    from simulator.chips.system import System
    from simulator.chips.work import CoreCostModel
    from simulator.components.core import Handler
    from simulator.timeline import Timeline

#: built-in chip models: name -> module defining ``CHIP`` (a :class:`ChipSpec`)
BUILTIN: dict[str, str] = {
    "seneca": "simulator.chips.seneca",
    "spinnaker2": "simulator.chips.spinnaker2",
    "analytic": "simulator.chips.analytic",
}
#: prefix of the source of a value changed by ``--set``
OVERRIDE = "override:"

Builder = Callable[..., "System"]


class ChipError(UserError, ValueError):
    """A chip name, description file, override or option is wrong (the message says where)."""


@dataclass(frozen=True)
class ChipSpec:
    """A chip model, as registered."""

    name: str
    config_schema: type[BaseModel]
    options_schema: type[BaseModel]
    default_file: Path
    #: ``cost(config, options) -> CoreCostModel``
    cost: Callable[[Any, Any], CoreCostModel]
    #: ``build(n_cores, handler, cost, *, timeline=None, record_deliveries=False) -> System``
    build: Builder
    #: modules whose import registers simulations of this chip's published references
    reference_modules: tuple[str, ...] = ()
    #: ``fitter() -> calibration.fit.FitResult`` for chips with fitted parameters
    fitter: Callable[[], Any] | None = None
    #: what the chip's cores can do beyond the System interface: ``"dram"`` (an off-chip
    #: memory reached by DMA; mappers reserve its buffers)
    capabilities: frozenset[str] = frozenset()
    summary: str = ""


_REGISTERED: dict[str, ChipSpec] = {}


def register(spec: ChipSpec) -> ChipSpec:
    """Add a chip model (a third-party or test chip: no project file needs editing)."""
    known = _REGISTERED.get(spec.name)
    if known is not None and known is not spec:
        raise ValueError(f"chip {spec.name!r} is already registered")
    _REGISTERED[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def names() -> list[str]:
    """Every chip model's name: the built-in ones first, then those registered."""
    return [*BUILTIN, *(n for n in _REGISTERED if n not in BUILTIN)]


def get(name: str) -> ChipSpec:
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in BUILTIN:
        return register(importlib.import_module(BUILTIN[name]).CHIP)
    raise ChipError(f"unknown chip {name!r}; registered: {', '.join(names())} "
                    "(or give a chip description file, PATH.yaml)")


@dataclass(frozen=True)
class Chip:
    """A validated chip description with its options, ready to build systems from."""

    spec: ChipSpec
    config: BaseModel
    options: BaseModel
    file: str  # the description file read
    sha256: str  # of that file's bytes
    overrides: tuple[str, ...] = ()
    _cost: list = field(default_factory=list, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def has(self, capability: str) -> bool:
        return capability in self.spec.capabilities

    def cost(self) -> CoreCostModel:
        """The cost model (made once per chip)."""
        if not self._cost:
            try:
                self._cost.append(self.spec.cost(self.config, self.options))
            except (KeyError, ValueError) as e:
                raise ChipError(f"{self.name} options {self.options.model_dump()}: "
                                f"{e.args[0] if e.args else e}") from None
        return self._cost[0]

    def build(self, n_cores: int, handler: Handler | Sequence[Handler], *,
              timeline: Timeline | None = None, record_deliveries: bool = False) -> System:
        """A fresh system of ``n_cores`` cores running ``handler``."""
        return self.spec.build(n_cores, handler, self.cost(), timeline=timeline,
                               record_deliveries=record_deliveries)

    def provenance(self) -> dict[str, Any]:
        """What a report records about the chip: enough to rebuild it exactly."""
        return {
            "chip": self.name,
            "chip_file": self.file,
            "chip_sha256": self.sha256,
            "chip_overrides": list(self.overrides),
            "chip_options": self.options.model_dump(),
            "cost_sources": sorted({v.source for v in cited_values(self.config).values()
                                    if not v.assumed}),
            "assumed_parameters": sorted(assumptions(self.config)),
        }


def load_chip(chip: str | Path = "seneca", overrides: Sequence[str] = (),
              options: Mapping[str, Any] | None = None) -> Chip:
    """A registered chip by name, or a description file (its ``kind:`` names the model),
    with ``overrides`` (``"dotted.path=value"``, as ``--set``) and ``options`` applied."""
    text = str(chip)
    if text in names():
        spec = get(text)
        path = spec.default_file
    else:
        path = Path(text)
        if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
            raise ChipError(f"--chip {text!r}: not a registered chip ({', '.join(names())}) "
                            "nor a chip description file (PATH.yaml)")
        spec = None
    raw_bytes = _read(path)
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as e:
        raise ChipError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ChipError(f"{path}: a chip description is a mapping of fields, got "
                        f"{type(raw).__name__}")
    if spec is None:
        model = raw.get("kind")
        if not isinstance(model, str):
            raise ChipError(f"{path}: field 'kind' must name the chip model "
                            f"({', '.join(names())})")
        try:
            spec = get(model)
        except ChipError as e:
            raise ChipError(f"{path}: field 'kind': {e}") from None
    for item in overrides:
        apply_override(raw, item, path)
    try:
        config = spec.config_schema.model_validate(raw)
    except ValidationError as e:
        raise ChipError(f"{path}: invalid {spec.name} description: {_problems(e)}"
                        + (f" (after --set {', '.join(overrides)})" if overrides else "")
                        ) from None
    try:
        opts = spec.options_schema.model_validate(dict(options or {}))
    except ValidationError as e:
        raise ChipError(f"--option: invalid {spec.name} option: {_problems(e)}") from None
    return Chip(spec, config, opts, _display(path), hashlib.sha256(raw_bytes).hexdigest(),
                tuple(overrides))


def _display(path: Path) -> str:
    """A shipped description relative to the project (``calibration/seneca.yaml``), so that
    results do not depend on where it is installed; a user's file as given."""
    root = Path(__file__).resolve().parents[2]
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ChipError(f"{path}: no such chip description file") from None
    except OSError as e:
        raise ChipError(f"{path}: cannot read: {e.strerror or e}") from None


def _problems(e: ValidationError) -> str:
    return "; ".join(f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}"
                     + (f" (got {err['input']!r})"
                        if isinstance(err.get("input"), int | float | str)
                        and "got" not in err["msg"] else "")
                     for err in e.errors())


def apply_override(raw: dict, item: str, path: Path | str = "") -> None:
    """Set ``dotted.path=value`` in the raw description. A path ending at a cited number
    sets its ``value`` and marks its source as overridden; the field must exist."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ChipError(f"--set {item!r}: expected dotted.path=value")
    node, last = _field_of(raw, key.strip().split("."), item, path)
    try:
        value = yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        raise ChipError(f"--set {item!r}: cannot read the value {text!r}") from None
    target = node[last]
    if isinstance(target, dict) and "value" in target:
        node[last] = {**target, "value": value, "source": f"{OVERRIDE} --set {item}"}
    else:
        node[last] = value


def _field_of(raw: dict, parts: list[str], item: str, path: Path | str) -> tuple[dict, str]:
    """The mapping holding the field ``parts`` names, and its key there. A key may itself hold
    dots (``operating_points.0.8V.clock``): the longest key present is taken first."""
    node: Any = raw
    i, where = 0, ""
    while True:
        if not isinstance(node, dict):
            raise ChipError(f"--set {item!r}: {path} has no field '{where}'")
        for j in range(len(parts), i, -1):
            part = ".".join(parts[i:j])
            if part in node:
                break
        else:
            where = ".".join(parts[: i + 1])
            hint = _paths_ending(raw, parts[-1])
            raise ChipError(f"--set {item!r}: {path} has no field '{where}'"
                            + (f"; did you mean {', '.join(hint[:6])}?" if hint else ""))
        where = ".".join(parts[:j])
        if j == len(parts):
            return node, part
        node, i = node[part], j


def _paths_ending(raw: Any, name: str, prefix: str = "") -> list[str]:
    """Dotted paths of every field called ``name`` (for a hint when --set misses one)."""
    if not isinstance(raw, dict):
        return []
    out = []
    for k, v in raw.items():
        here = f"{prefix}{k}"
        if str(k) == name:
            out.append(here)
        out.extend(_paths_ending(v, name, here + "."))
    return out


def default_config(name: str) -> BaseModel:
    """The registered chip's own description, validated (for reports and doc tables)."""
    try:
        return load_chip(name).config
    except ChipError as e:
        raise CalibrationError(str(e)) from None
