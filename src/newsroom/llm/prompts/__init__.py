"""Prompt templates (the ``.txt`` files beside this module) and the helpers that fill them. Pure: no model calls.

The stages build their own prompts from these: ``stages/write.py`` (write) and ``stages/translate.py`` (translate).
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def template(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def clip(text: str, limit: int) -> str:
    """Cut long source text at a paragraph or sentence boundary near ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for sep in ("\n\n", ". ", "\n", " "):
        pos = cut.rfind(sep)
        if pos > limit * 0.6:
            return cut[: pos + 1].rstrip() + " …"
    return cut + " …"
