"""The shipped public-domain text corpus and a character-level vocabulary for tiny models."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from simulator.errors import UserError


def read_text_file(path: str | Path, what: str = "--text-file") -> str:
    """A user's input text (UTF-8); a missing, unreadable, non-UTF-8 or empty file is a
    :class:`UserError` naming the argument and the file."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{what} {path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise UserError(f"{what} {path}: cannot read: {e.strerror or e}") from None
    if not text:
        raise UserError(f"{what} {path}: the file is empty; give some text")
    return text


def load_corpus() -> str:
    """Four Shakespeare tragedies (public domain, ~580 kB); see models/data/SOURCE.md."""
    return resources.files("models").joinpath("data/shakespeare_tragedies.txt").read_text("utf-8")


def char_vocab(text: str) -> list[str]:
    """Sorted characters of ``text``: a deterministic character-level vocabulary."""
    return sorted(set(text))


def split_corpus(text: str, held_out: float = 0.1) -> tuple[str, str]:
    """Train / held-out split by position (the last ``held_out`` fraction is held out)."""
    cut = int(len(text) * (1.0 - held_out))
    return text[:cut], text[cut:]
