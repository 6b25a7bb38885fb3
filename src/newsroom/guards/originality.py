"""Originality: a rewrite, not a copy. No long verbatim run of source words; a bounded share of shared 5-grams."""

from __future__ import annotations

import re
import unicodedata

from .base import Fields, Finding, GuardContext

NGRAM = 5
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def longest_common_run(a: list[str], b: list[str]) -> tuple[int, int]:
    """Length of the longest run of consecutive words shared by ``a`` and ``b``, and where it starts in ``a``.

    Dynamic programming over ``b``'s positions per word, O(len(a) × occurrences): fast for article-sized texts."""
    positions: dict[str, list[int]] = {}
    for j, w in enumerate(b):
        positions.setdefault(w, []).append(j)
    best, where = 0, 0
    prev: dict[int, int] = {}
    for i, w in enumerate(a):
        cur: dict[int, int] = {}
        for j in positions.get(w, ()):
            n = prev.get(j - 1, 0) + 1
            cur[j] = n
            if n > best:
                best, where = n, i - n + 1
        prev = cur
    return best, where


def ngram_overlap(article: list[str], source: list[str], n: int = NGRAM) -> float:
    """Share of the article's word n-grams that also occur in the source (0 when the article is shorter than n)."""
    grams = [tuple(article[i : i + n]) for i in range(len(article) - n + 1)]
    if not grams:
        return 0.0
    src = {tuple(source[i : i + n]) for i in range(len(source) - n + 1)}
    return sum(g in src for g in grams) / len(grams)


def check_originality(fields: Fields, ctx: GuardContext) -> list[Finding]:
    if ctx.is_translation:
        return []  # a translation is meant to follow its pivot closely (and is in another language)
    source = _tokens(ctx.source)
    out = []
    body = [t for name, t in fields if name != "title"]
    article = _tokens("\n".join(body))
    run, start = longest_common_run(article, source)
    if run >= ctx.max_verbatim_words:
        excerpt = " ".join(article[start : start + min(run, 12)])
        out.append(Finding("verbatim-copy", "article", f"{run} words copied from the source: “{excerpt} …”"))
    share = ngram_overlap(article, source)
    if share > ctx.max_ngram_overlap:
        out.append(
            Finding(
                "ngram-overlap",
                "article",
                f"{share:.0%} of its {NGRAM}-grams are the source's; at most {ctx.max_ngram_overlap:.0%}",
            )
        )
    return out
