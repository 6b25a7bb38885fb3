"""Classification clean-up that needs no model: category, tags, score. Pure functions.

This is the first cut: it trusts the model's proposals after normalising them. Asset detection, offline sentiment and
the full score formula (sources, recency, asset weight) belong to the stories-and-classification work.
"""

from __future__ import annotations

import re

MAX_TAGS = 12
MAX_TAG_CHARS = 40
_SPACES = re.compile(r"\s+")
_TAG_JUNK = re.compile(r"[^\w .&+/-]", re.UNICODE)


def normalise_tag(tag: str) -> str:
    """UPPERCASE, single spaces, no leading '#'/'$', nothing but word characters and a few joiners."""
    tag = _TAG_JUNK.sub("", tag.strip().lstrip("#$"))
    return _SPACES.sub(" ", tag).upper()[:MAX_TAG_CHARS].strip(" .-/")


def merge_tags(*groups: list[str], limit: int = MAX_TAGS) -> list[str]:
    """Normalise and de-duplicate tags from several origins, keeping first-seen order, at most ``limit``."""
    out: dict[str, None] = {}
    for group in groups:
        for raw in group:
            tag = normalise_tag(raw)
            if tag and tag not in out:
                out[tag] = None
    return list(out)[:limit]


def choose_category(proposed: str, taxonomy: list[str], default: str) -> str:
    """The model's category when it is in the taxonomy (case-insensitive), else the configured default."""
    code = normalise_tag(proposed)
    return code if code in taxonomy else default


def interim_score(importance: int) -> int:
    """Importance 0-100 as the model judged it, clamped. Replaced by the multi-signal score later."""
    return max(0, min(100, int(importance)))
