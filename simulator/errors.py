"""Errors that the user caused (a bad argument or input file): ``nmsim`` shows the message
without a traceback and exits with status 2. Anything else is a bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input: the message names the argument or file (and field), the value and what is
    allowed."""
