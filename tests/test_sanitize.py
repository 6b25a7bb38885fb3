"""Sanitising hostile HTML (nh3): what the web UI and the extraction stage rely on."""

from __future__ import annotations

import pytest

from newsroom.sanitize import markdown_to_html, sanitize_html, strip_tags

HOSTILE = [
    "<script>alert(1)</script><p>ok</p>",
    '<p onclick="alert(1)" style="color:red">ok</p>',
    '<img src=x onerror="alert(1)"><p>ok</p>',
    '<a href="javascript:alert(1)">ok</a>',
    '<a href="  JaVaScRiPt:alert(1)">ok</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">ok</a>',
    '<iframe src="https://evil.example"></iframe><p>ok</p>',
    "<svg><script>alert(1)</script></svg><p>ok</p>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.example"><input name=a><button>ok</button></form>',
    "<style>body{display:none}</style><p>ok</p>",
    "<p>ok<!-- <script>alert(1)</script> --></p>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<object data="x.swf"></object><embed src="x.swf"><p>ok</p>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example"><p>ok</p>',
    '<base href="https://evil.example/"><p>ok</p>',
    '<p><a href="https://ok.example/" target="_blank" onmouseover="x()">ok</a></p>',
]
FORBIDDEN = ("<script", "onerror", "onclick", "onmouseover", "javascript:", "<iframe", "<img", "<svg", "<style",
             "<form", "<input", "<meta", "<base", "<object", "<embed", "data:", "style=")  # fmt: skip


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_html_loses_everything_active(html: str) -> None:
    clean = sanitize_html(html).lower()
    assert not any(bad in clean for bad in FORBIDDEN), clean
    assert sanitize_html(clean) == clean  # idempotent: cleaning twice changes nothing


def test_safe_markup_and_links_survive() -> None:
    clean = sanitize_html(
        '<h2>T</h2><p>A <strong>b</strong> <a href="https://ok.example/x">link</a></p><ul><li>i</li></ul>'
    )
    assert clean.startswith("<h2>T</h2><p>A <strong>b</strong> ")
    assert 'href="https://ok.example/x"' in clean and 'rel="noopener noreferrer nofollow ugc"' in clean
    assert "<ul><li>i</li></ul>" in clean


def test_markdown_rendering_is_sanitised() -> None:
    html = markdown_to_html("## Heading\n\n[x](javascript:alert(1)) <script>alert(1)</script> **bold**\n\n- one")
    assert "<h2>Heading</h2>" in html and "<strong>bold</strong>" in html and "<li>one</li>" in html
    assert "<script" not in html and 'href="javascript' not in html


def test_strip_tags() -> None:
    assert strip_tags("<b>Bitcoin &amp; Ether</b><script>alert(1)</script>") == "Bitcoin & Ether"
    assert strip_tags(None) == "" and sanitize_html(None) == "" and markdown_to_html("") == ""
