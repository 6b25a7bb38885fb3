"""Sanitising of every HTML fragment that reaches output or the UI (nh3, an html5ever-based allow-list cleaner).

Feed HTML, extracted article pages, model text rendered from Markdown: all of it is untrusted. Nothing here trusts
a regular expression to find tags; nh3 parses the fragment like a browser would and keeps only an allow-list:

* :func:`sanitize_html` - article HTML for display: paragraphs, headings, lists, emphasis, quotes, code, tables and
  links (``http``, ``https`` and ``mailto`` only; every link gets ``rel="noopener noreferrer nofollow ugc"``).
  No scripts, styles, event handlers, iframes, forms, images or inline styles survive.
* :func:`markdown_to_html` - an article's Markdown body rendered (markdown-it, raw HTML disabled) and then sanitised
  all the same: a Markdown link to ``javascript:`` or a stray tag cannot get through either way.
* :func:`strip_tags` - plain text with no markup at all (titles, descriptions, attributes).

Pure functions, no I/O. The web UI imports these; so does the extraction stage.
"""

from __future__ import annotations

import html

import nh3

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "markdown_to_html", "sanitize_html", "strip_tags"]

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow ugc"
# Dropped together with everything inside them (the rest lose only their tags).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"})


def sanitize_html(fragment: str | None) -> str:
    """``fragment`` reduced to the allow-list. Never raises; ``None`` or empty gives ``""``."""
    if not fragment:
        return ""
    return nh3.clean(
        fragment.replace("\x00", ""),
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        clean_content_tags=set(DROP_WITH_CONTENT),
    )


def strip_tags(fragment: str | None) -> str:
    """Plain text: every tag removed (script and style content with it), entities decoded once."""
    if not fragment:
        return ""
    cleaned = nh3.clean(
        fragment.replace("\x00", ""), tags=set(), attributes={}, clean_content_tags=set(DROP_WITH_CONTENT)
    )
    return html.unescape(cleaned)


def markdown_to_html(markdown: str | None) -> str:
    """Render Markdown (CommonMark, raw HTML off, link targets validated) and sanitise the result."""
    if not markdown:
        return ""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
    return sanitize_html(md.render(markdown))
