"""A check of a checkpoint file's bytes before ``torch.load`` reads it.

``torch.load`` trusts a zip-format checkpoint's contents: a file damaged in the middle (bytes
flipped in a copy or a download) can crash the interpreter (a segmentation fault) instead of
raising. The zip's own CRC32 of every member is checked here first, so that a damaged file is
a clear error naming it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any


def zip_damage(path: str | Path) -> str | None:
    """What is wrong with the zip checkpoint at ``path``, or None when it is sound or is not a
    zip at all (a legacy checkpoint, or not a checkpoint: ``torch.load`` then says so)."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError) as e:
        return f"damaged zip archive: {e}"
    return f"member {bad!r} is damaged (CRC mismatch)" if bad else None


def read_checkpoint(path: str | Path, error: type[Exception], what: str,
                    not_a: str = "torch file") -> Any:
    """``torch.load(path, weights_only=True)`` (plain tensors and containers, no code) after
    :func:`zip_damage`; a missing, damaged or unreadable file raises ``error`` with a message
    naming the file: ``"<path>: <what> (corrupted, truncated or not a <not_a>): ..."``."""
    import warnings

    import torch

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    if damage := zip_damage(path):  # before torch.load, which can crash on a damaged file
        raise error(f"{path}: {what} (corrupted or truncated): {damage}")
    try:
        with warnings.catch_warnings():  # CSR tensors are only containers here (densified)
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a broken file; say which file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise error(f"{path}: {what} (corrupted, truncated or not a {not_a}): "
                    f"{first}") from None
