"""The argument checks, kept importable here: they live in :mod:`simulator.argtypes` (outside
``simulator.commands``, so that running one command imports no other command module)."""

from simulator.argtypes import *  # noqa: F403
from simulator.argtypes import __all__  # noqa: F401
