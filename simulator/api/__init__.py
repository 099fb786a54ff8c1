"""nmsim's Python API: ``import nmsim``.

```python
import nmsim
chip = nmsim.chip("seneca", **{"noc.clock": 300e6})          # or a PATH.yaml, options={...}
result = nmsim.rwkv_token(nmsim.workload("rwkv", model="169M", tokens=2), chip)
print(result)                                                  # the figures, in one line each
result.to_frame()                                              # a tidy pandas DataFrame
```

``chip``, ``workload``, ``rwkv_token``, ``opt_token``, ``egru_sweep``, ``context_sweep``,
``dvs_gesture``, ``validate`` and ``load`` return the
typed results of :mod:`simulator.results` (pydantic models with ``table()``, ``to_frame()``,
``plot()``, ``save(dir)``). The functions live in :mod:`simulator.front`, outside this
folder, so that each has one module (and its classes one identity) whichever name imports
this package.

Why this package is here: the repository's top level is fixed (``simulator/``, ``models/``,
``workloads/``, ``calibration/``, ...), so the import name cannot be a folder beside them.
pyproject.toml maps the name ``nmsim`` onto this folder (setuptools ``package-dir``), which
an editable and a regular install both honour; ``import simulator.api`` reaches the same
code, and every object it hands out is defined in ``simulator``, so the two names never
disagree about a type.

Imports are lazy: ``import nmsim`` loads this file only (no pydantic, numpy, torch or
matplotlib); each name is imported on first use, torch only when a network runs and
matplotlib only when a figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "chip", "chips", "context_sweep", "dvs_gesture", "egru_sweep", "load",
           "opt_token", "rwkv_token", "validate", "workload"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ does it lazily
    from simulator.front import (  # noqa: F401
        chip,
        chips,
        context_sweep,
        dvs_gesture,
        egru_sweep,
        load,
        opt_token,
        rwkv_token,
        validate,
        workload,
    )


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from simulator.results import nmsim_version

        return nmsim_version()
    if name in __all__:
        from simulator import front as core

        value = getattr(core, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nmsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
