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
