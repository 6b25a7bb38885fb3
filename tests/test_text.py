"""html_to_text and fingerprint: plain text out of hostile HTML, stable fingerprints."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsroom.text import EMPTY_FINGERPRINT, fingerprint, html_to_text

TAG_LIKE = re.compile(r"<[a-zA-Z/!?]")


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("", ""),
        (None, ""),
        ("plain text", "plain text"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<div>a<br>b<br/>c</div>", "a\n\nb\n\nc"),
        ("<ul><li>x</li><li>y</li></ul>", "x\n\ny"),
        ("<p>Hello <b>bold</b> and <a href='https://e.com'>link</a>.</p>", "Hello bold and link."),
        ("a   b\t\tc\n d", "a b c d"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("What&#039;s new", "What's new"),
        ("What&amp;#039;s new", "What's new"),  # double-escaped (Decrypt's channel description)
        ("Don&#39;t &amp; won&rsquo;t", "Don't & won’t"),
        ("AT&T said 1 < 2 and 3 > 2", "AT&T said 1 < 2 and 3 > 2"),
        ("&lt;p&gt;escaped markup&lt;/p&gt;", "escaped markup"),
        ("non&nbsp;breaking", "non breaking"),
        ("zero\u200bwidth", "zerowidth"),
    ],
)
def test_html_to_text(fragment: str | None, expected: str) -> None:
    assert html_to_text(fragment) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert('x')</script>visible",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>visible",
        "<style>body{display:none}</style>visible",
        "<img src=x onerror=alert(1)>visible",
        "<a href='javascript:alert(1)' onclick='steal()'>visible</a>",
        '<p onmouseover="alert(1)">visible</p>',
        "<iframe src='https://evil.example'>inner</iframe>visible",
        "<svg><script>alert(1)</script></svg>visible",
        "&lt;script&gt;alert(1)&lt;/script&gt;visible",
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;visible",
        "<!-- a comment -->visible",
        "<noscript>alert</noscript>visible",
    ],
)
def test_hostile_html_leaves_only_text(hostile: str) -> None:
    out = html_to_text(hostile)
    assert "visible" in out
    assert "alert" not in out
    assert "javascript" not in out
    assert not TAG_LIKE.search(out)


def test_split_tag_trick_does_not_reassemble_a_script() -> None:
    out = html_to_text("<scr<script>ipt>alert(1)</script>visible")
    assert "visible" in out
    assert not TAG_LIKE.search(out)


def test_deeply_escaped_markup_never_comes_out_as_tags() -> None:
    s = "<b>x</b>"
    for _ in range(6):
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert not TAG_LIKE.search(html_to_text(s))


@given(st.text(max_size=300))
def test_never_raises_and_never_emits_tags(text: str) -> None:
    out = html_to_text(text)
    assert not TAG_LIKE.search(out) or "<" in text  # tag-like text only if the input had a bare '<'
    assert out == out.strip()
    assert "\n\n\n" not in out


@given(st.lists(st.sampled_from(["<p>", "</p>", "<br>", "word", " ", "\n", "&amp;", "<b>", "</b>"]), max_size=30))
def test_idempotent_on_markup_soup(parts: list[str]) -> None:
    once = html_to_text("".join(parts))
    assert html_to_text(once) == once


def test_fingerprint_is_stable_and_normalised() -> None:
    a = fingerprint("Bitcoin Rises", "Price up 5%.\n\nMore text.")
    assert len(a) == 64 and int(a, 16) >= 0
    assert fingerprint("bitcoin rises", "price up 5  more text") == a  # case, punctuation, spacing
    assert fingerprint("Bitcoin Rises", "Price up 6%. More text.") != a
    assert fingerprint("Other", "Price up 5%. More text.") != a


def test_empty_fingerprint_constant() -> None:
    assert fingerprint("", "") == EMPTY_FINGERPRINT
    assert fingerprint(" ", "...") == EMPTY_FINGERPRINT


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_the_plain_ascii_shortcut_gives_the_full_result(text: str) -> None:
    """One line of plain ASCII skips the sanitiser; the full path gives the same text for every ASCII string (those
    with markup, entities, line breaks or NUL take the full path anyway)."""
    from newsroom.text import _full

    assert html_to_text(text) == (_full(text) if text else "")


@pytest.mark.parametrize("text", ["  a\tb \x0b c\x1c d\r e  ", "Bitcoin hits $100K", "\x1f", " ", "a\x0cb"])
def test_the_plain_ascii_shortcut_on_whitespace(text: str) -> None:
    from newsroom.text import _full

    assert html_to_text(text) == _full(text)
