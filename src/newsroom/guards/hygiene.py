"""Hygiene: no leaked prompt or instructions, no "as an AI", no markup or links that the source did not have."""

from __future__ import annotations

import re

from .base import Fields, Finding, GuardContext
from .injection import PLACEHOLDER

_LEAKS = [
    (r"\bas an? (?:ai|artificial intelligence|language model|llm|ai language model|assistant)\b", "ai-disclaimer"),
    (r"\bi(?:'m| am) (?:an? )?(?:ai|language model|assistant|chatbot)\b", "ai-disclaimer"),
    (
        r"\b(?:i cannot|i can't|i'm unable to|i am unable to)\b[^.]{0,40}\b(?:help|assist|provide|comply)",
        "ai-disclaimer",
    ),
    (r"\bmy (?:training|knowledge cutoff|instructions)\b", "ai-disclaimer"),
    (r"\bяк (?:штучний інтелект|ші|мовна модель)\b", "ai-disclaimer"),
    (r"\bкак (?:искусственный интеллект|ии|языковая модель)\b", "ai-disclaimer"),
    (r"\b(?:system prompt|these instructions|the instructions above|previous instructions)\b", "leaked-prompt"),
    (r"\b(?:the user message|untrusted source material|answer with one json object)\b", "leaked-prompt"),
    (r"\b(?:here is|here's) (?:the|your) (?:article|json|translation|rewrite)\b", "leaked-prompt"),
    (r"\b(?:json|schema)\b", "leaked-prompt"),
    (r"<<<|>>>|" + re.escape(PLACEHOLDER), "leaked-prompt"),
    (r"\b(?:ignore|disregard) (?:all |any )?(?:previous|prior|above) ", "leaked-prompt"),
]
_LEAK_RES = [(re.compile(p, re.I), code) for p, code in _LEAKS]
_TAG = re.compile(r"</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>|<!--|&lt;/?[a-zA-Z]")
_MD = re.compile(r"(?m)^\s*(?:#{1,6}\s|>\s|```|\|.*\|\s*$)|\*\*[^*]+\*\*|__[^_]+__|!\[[^\]]*\]\(|\[[^\]]+\]\([^)]*\)")
# Inert Markdown that an article may keep when its source has the same kind (a translated blockquote, the pivot's
# bold): a quotation marker at a line's start, and bold. Headings, tables, code, images and links never pass.
_INERT_MD = (re.compile(r"(?m)^\s*>\s"), re.compile(r"\*\*[^*]+\*\*|__[^_]+__"))


def _new_markdown(text: str, source: str) -> str | None:
    """The first Markdown syntax in ``text`` that the source does not license, or None."""
    for m in _MD.finditer(text):
        kind = next((rx for rx in _INERT_MD if rx.match(m.group(0))), None)
        if kind is None or not kind.search(source):
            return m.group(0)
    return None


_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"')\]]+|\b[a-z0-9-]+\.(?:com|io|org|net|co|xyz|finance|app)\b/?\S*", re.I
)


def _domains(text: str) -> set[str]:
    out = set()
    for u in _URL.findall(text):
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", u.casefold()).split("/", 1)[0]
        out.add(host.rstrip(".,;"))
    return out


def check_hygiene(fields: Fields, ctx: GuardContext) -> list[Finding]:
    source_domains = _domains(ctx.source)
    source_has_json = bool(re.search(r"\b(?:json|schema)\b", ctx.source, re.I))
    out = []
    for name, text in fields:
        for rx, code in _LEAK_RES:
            m = rx.search(text)
            if m and not (code == "leaked-prompt" and m.group(0).casefold() in ("json", "schema") and source_has_json):
                out.append(Finding(code, name, f"contains {m.group(0)!r}"))
                break
        if _TAG.search(text):
            out.append(Finding("markup", name, f"HTML markup {_TAG.search(text).group(0)!r}"))  # type: ignore[union-attr]
        elif (md := _new_markdown(text, ctx.source)) is not None:
            out.append(Finding("markup", name, f"Markdown syntax {md[:40]!r}"))
        new_links = sorted(_domains(text) - source_domains)
        if new_links:
            out.append(Finding("link", name, f"link(s) the source does not have: {', '.join(new_links[:3])}"))
    return out
