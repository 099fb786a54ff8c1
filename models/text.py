"""The shipped public-domain text corpus and a character-level vocabulary for tiny models."""

from __future__ import annotations

from importlib import resources


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
