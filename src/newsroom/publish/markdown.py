"""The Markdown of an article: the body's fixed sections, and the whole file (frontmatter + body).

The layout is the seed's: ``## Heading``, a blank line, the text; sections separated by one blank line; paragraphs
separated by a blank line; the market impact as ``- `` bullets; one newline at the end of the file. The fixed headings
come from :mod:`newsroom.headings`, never from the model.

Model text is hostile. Whatever a heading, paragraph or bullet holds, it cannot add structure to the page:

* raw HTML (tags, comments, ``<script>``/``<style>`` with their content) is stripped, repeatedly, until no ``<x…>``
  is left; control characters and lone surrogates go;
* every paragraph and bullet is one line (single newlines fold into spaces), so no line inside it can become a
  heading, list item, fence, table or setext underline;
* the start of every line is escaped when it would begin a block (``#``, ``-``, ``+``, ``*``, ``>``, ``---``,
  fences, ``1.``, ``[x]:`` link definitions, a leading ``<`` …) with a CommonMark backslash escape, which renders as
  the literal character;
* links to ``javascript:``/``vbscript:``/``data:`` URLs lose their target.

:func:`parse_body` is the inverse of :func:`render_body` (for the editor): it undoes exactly those escapes, and it
finds the fixed sections by position (first, and last three), so a model heading that happens to equal a fixed one
cannot confuse it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..headings import Headings, headings_for
from ..models import ArticleDoc, ArticleText, Section
from .frontmatter import dump_frontmatter, frontmatter_data

__all__ = [
    "FENCE",
    "clean_heading",
    "clean_line",
    "clean_paragraphs",
    "parse_body",
    "render_article",
    "render_body",
    "split_article",
]

FENCE = "---\n"
EMPTY = "…"  # stands in for a field that sanitising emptied, so the section structure survives

# ---- sanitising -------------------------------------------------------------------------------------------------

_SCRIPT = re.compile(r"<(script|style|iframe|object|embed|template|noscript)\b.*?(?:</\1\s*>|\Z)", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
_BAD_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data)\s*:[^)\s]*", re.I)
# C0/C1 controls (other than the whitespace folded below), DEL, the BOM, noncharacters and lone surrogates.
_JUNK = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
# Whitespace that folds into one space inside a line (no-break spaces are kept: they are typography).
_SPACE = re.compile("[ \t\n\r\x0b\x0c\x85\u2028\u2029\u1680\u2000-\u200a\u205f\u3000]+")
_PARA_BREAK = re.compile("(?:\r\n|\r|\n|\x85|\u2028|\u2029)[ \t\x0b\x0c]*(?:(?:\r\n|\r|\n|\x85|\u2028|\u2029)[ \t]*)+")

# A line starting with one of these could begin a block (or is a backslash we must double to stay invertible).
_BLOCK_START = frozenset("#>-+*_=`~[<|\\:")
_ORDERED = re.compile(r"(\d{1,9})(\\*)([.)])")
_ORDERED_ESCAPED = re.compile(r"(\d{1,9})\\(\\*)([.)])")
_CLOSING_HASHES = re.compile(r"( )(\\*)(#+)$")
_CLOSING_HASHES_ESCAPED = re.compile(r"( )\\(\\*)(#+)$")


def _strip_html(text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        text = _SCRIPT.sub("", text)
        text = _COMMENT.sub("", text)
        text = _TAG.sub("", text)
    return _BAD_LINK.sub("](#", text)


def _fold(text: str) -> str:
    """One line: HTML and control characters out, every run of whitespace one space."""
    return _SPACE.sub(" ", _strip_html(_JUNK.sub("", text))).strip()


def _escape_start(line: str) -> str:
    """Escape what would make a line start a block; exactly undone by :func:`_unescape_start`."""
    if line[:1] in _BLOCK_START:
        return "\\" + line
    m = _ORDERED.match(line)
    if m:
        return f"{m[1]}\\{m[2]}{m[3]}{line[m.end() :]}"
    return line


def _unescape_start(line: str) -> str:
    if line[:1] == "\\" and line[1:2] in _BLOCK_START:
        return line[1:]
    m = _ORDERED_ESCAPED.match(line)
    if m:
        return f"{m[1]}{m[2]}{m[3]}{line[m.end() :]}"
    return line


def clean_line(text: str) -> str:
    """A paragraph or bullet as one safe Markdown line (empty when nothing is left)."""
    return _escape_start(_fold(text))


def clean_heading(text: str) -> str:
    """A model-written heading as one safe line; a trailing `` #`` run (ATX closing sequence) is escaped too."""
    line = clean_line(text)
    return _CLOSING_HASHES.sub(lambda m: f"{m[1]}\\{m[2]}{m[3]}", line) or EMPTY


def clean_paragraphs(text: str) -> list[str]:
    """A text field as safe one-line paragraphs (blank lines separate paragraphs in the input)."""
    paragraphs = [clean_line(p) for p in _PARA_BREAK.split(_strip_html(_JUNK.sub("", text)))]
    return [p for p in paragraphs if p] or [EMPTY]


# ---- rendering -----------------------------------------------------------------------------------------------------


def _section(heading: str, lines: list[str]) -> str:
    return f"## {heading}\n\n" + "\n\n".join(lines)


def render_body(text: ArticleText, lang: str) -> str:
    """The article body in ``lang``'s fixed headings; ends with exactly one newline."""
    h = headings_for(lang)
    parts = [_section(h.overview, clean_paragraphs(text.overview))]
    parts += [_section(clean_heading(s.heading), clean_paragraphs(s.body)) for s in text.sections]
    parts.append(_section(h.why_it_matters, clean_paragraphs(text.why_it_matters)))
    parts.append(_section(h.from_the_author, clean_paragraphs(text.from_the_author)))
    bullets = [f"- {clean_line(item) or EMPTY}" for item in text.market_impact] or [f"- {EMPTY}"]
    parts.append(f"## {h.market_impact}\n\n" + "\n".join(bullets))
    return "\n\n".join(parts) + "\n"


def render_article(doc: ArticleDoc) -> str:
    """The whole file: ``---``, the frontmatter, ``---``, the body (the seed's layout exactly)."""
    return FENCE + dump_frontmatter(frontmatter_data(doc)) + FENCE + render_body(doc.text, doc.lang)


# ---- parsing -----------------------------------------------------------------------------------------------------


def split_article(markdown: str) -> tuple[str, str]:
    """(frontmatter YAML, body) of a whole article file; ValueError when the fences are missing."""
    text = markdown.replace("\r\n", "\n")
    if not text.startswith(FENCE):
        raise ValueError("not an article file: it must start with a '---' line opening the YAML frontmatter")
    end = text.find("\n" + FENCE, len(FENCE) - 1)
    if end < 0:
        raise ValueError("not an article file: the frontmatter has no closing '---' line")
    return text[len(FENCE) : end + 1], text[end + 1 + len(FENCE) :]


def _blocks(body: str) -> list[tuple[str, list[str]]]:
    """The body cut at its ``## `` headings: (heading, content lines) in order."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if line.startswith("## ") or line == "##":
            blocks.append((line[3:].strip(), []))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"text before the first '## ' heading: {line[:60]!r}")
    return blocks


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [_unescape_start(" ".join(p)) for p in paragraphs if p]


def _bullets(lines: list[str]) -> list[str]:
    items: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if line[:2] in ("- ", "* ", "+ ") or stripped in ("-", "*", "+"):
            items.append(stripped[2:].strip())
        elif items:  # a wrapped continuation line (a human editor's)
            items[-1] = f"{items[-1]} {stripped}"
        else:
            raise ValueError(f"expected '- ' bullets under the market impact heading, got {stripped[:60]!r}")
    return [_unescape_start(i) for i in items]


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _check_fixed(found: str, expected: str, lang: str, where: str) -> None:
    if not _same(found, expected):
        raise ValueError(f"expected the {where} heading '## {expected}' for language {lang!r}, found '## {found}'")


def parse_body(markdown: str, lang: str, *, title: str | None = None, description: str | None = None) -> ArticleText:
    """The inverse of :func:`render_body`: the article text back from its Markdown (for the editor).

    ``markdown`` is either a body or a whole article file; from a whole file, ``title`` and ``description`` default
    to the frontmatter's. A body alone carries neither, so they must then be given. Raises ValueError (saying what is
    wrong and where) when the body does not have the fixed sections of ``lang`` in order; pydantic's
    ValidationError when a field breaks the article's bounds.
    """
    body = markdown
    if markdown.startswith(FENCE):
        fm_text, body = split_article(markdown)
        fm: Any = yaml.safe_load(fm_text) or {}
        if not isinstance(fm, dict):
            raise ValueError("the frontmatter is not a YAML mapping")
        title = title if title is not None else fm.get("title")
        description = description if description is not None else fm.get("description")
    if title is None or description is None:
        raise ValueError("a body alone has no title or description: pass title= and description=")

    h: Headings = headings_for(lang)
    blocks = _blocks(body)
    if len(blocks) < 5:
        raise ValueError(
            f"an article body has at least 5 '## ' sections (overview, a topical section, why it matters, from the "
            f"author, market impact); found {len(blocks)}"
        )
    (first, overview), *topical, (why, why_lines), (author, author_lines), (impact, impact_lines) = blocks
    _check_fixed(first, h.overview, lang, "first")
    _check_fixed(why, h.why_it_matters, lang, "third-to-last")
    _check_fixed(author, h.from_the_author, lang, "second-to-last")
    _check_fixed(impact, h.market_impact, lang, "last")
    return ArticleText(
        title=title,
        description=description,
        overview="\n\n".join(_paragraphs(overview)),
        sections=[
            Section(heading=_unescape_heading(heading), body="\n\n".join(_paragraphs(lines)))
            for heading, lines in topical
        ],
        why_it_matters="\n\n".join(_paragraphs(why_lines)),
        from_the_author="\n\n".join(_paragraphs(author_lines)),
        market_impact=_bullets(impact_lines),
    )


def _unescape_heading(heading: str) -> str:
    return _unescape_start(_CLOSING_HASHES_ESCAPED.sub(lambda m: f"{m[1]}{m[2]}{m[3]}", heading))
