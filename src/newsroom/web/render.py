"""Article Markdown → HTML for the API, the feeds and the UI.

Rendering and sanitising are newsroom.sanitize's (markdown-it with raw HTML off, then nh3's allow-list), the one
place that decides which tags, attributes and URL schemes may reach a page or a feed.
"""

from __future__ import annotations

from ..models import ArticleText
from ..publish.markdown import render_body
from ..sanitize import markdown_to_html, sanitize_html

__all__ = ["markdown_to_html", "render_article_html", "sanitize_html"]


def render_article_html(text: ArticleText, lang: str) -> str:
    """The article body (fixed localised headings and all) as sanitised HTML."""
    return markdown_to_html(render_body(text, lang))
