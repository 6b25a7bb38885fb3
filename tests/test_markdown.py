"""The article body: the seed's layout byte for byte, fixed headings per language, hostile model text neutralised.

Structure is checked with a real CommonMark parser (markdown-it-py), not with string matching.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from newsroom.headings import HEADINGS, headings_for
from newsroom.models import ArticleText, Section
from newsroom.publish import parse_body, render_body, split_article
from newsroom.publish.markdown import clean_heading, clean_paragraphs

MD = MarkdownIt("commonmark").enable("table")


def text(**changes: object) -> ArticleText:
    values: dict[str, object] = {
        "title": "A synthetic title",
        "description": "A synthetic teaser.",
        "overview": "The overview, in one paragraph.",
        "sections": [
            Section(heading="First topic", body="Paragraph one.\n\nParagraph two."),
            Section(heading="Second topic", body="Only paragraph."),
        ],
        "why_it_matters": "Why, first.\n\nWhy, second.",
        "from_the_author": "The author's voice.",
        "market_impact": ["Impact one.", "Impact two.", "Impact three."],
    }
    values.update(changes)
    return ArticleText(**values)  # type: ignore[arg-type]


def h2(markdown: str) -> list[str]:
    """The h2 headings as a reader sees them (escapes resolved)."""
    tokens = MD.parse(markdown)
    inlines = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    return ["".join(c.content for c in inline.children or []) for inline in inlines]


def structure(markdown: str) -> dict[str, int]:
    """Counts of every block/inline token type that could carry injected structure."""
    counts: dict[str, int] = {}

    def walk(tokens: list[Token]) -> None:
        for t in tokens:
            key = f"{t.type}:{t.tag}" if t.type == "heading_open" else t.type
            counts[key] = counts.get(key, 0) + 1
            if t.children:
                walk(t.children)

    walk(MD.parse(markdown))
    return counts


def assert_clean_structure(body: str, t: ArticleText, lang: str) -> None:
    h = headings_for(lang)
    counts = structure(body)
    assert counts.get("heading_open:h2", 0) == 4 + len(t.sections)
    assert not [k for k in counts if k.startswith("heading_open") and k != "heading_open:h2"]
    assert counts.get("bullet_list_open") == 1
    assert counts.get("list_item_open") == len(t.market_impact)
    for forbidden in ("ordered_list_open", "html_block", "html_inline", "hr", "fence", "code_block",
                      "blockquote_open", "table_open"):  # fmt: skip
        assert forbidden not in counts, (forbidden, body)
    headings = h2(body)
    assert headings[0] == h.overview
    assert headings[-3:] == [h.why_it_matters, h.from_the_author, h.market_impact]
    assert body.endswith("\n") and not body.endswith("\n\n")
    assert "\n\n\n" not in body


# ---- the seed ------------------------------------------------------------------------------------------------


def test_seed_body_parses_and_renders_byte_for_byte(seed_path: Path) -> None:
    seed = seed_path.read_text(encoding="utf-8")
    _, body = split_article(seed)
    parsed = parse_body(seed, "uk")
    assert render_body(parsed, "uk") == body
    # a body alone parses too, given the title and description
    again = parse_body(body, "uk", title=parsed.title, description=parsed.description)
    assert again == parsed
    assert len(parsed.market_impact) == body.count("\n- ")


def test_uk_headings_exactly_as_in_the_seed(seed_path: Path) -> None:
    seed = seed_path.read_text(encoding="utf-8")
    _, body = split_article(seed)
    seed_headings = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    assert h2(body) == seed_headings
    ours = h2(render_body(text(), "uk"))
    uk = HEADINGS["uk"]
    assert ours == [uk.overview, "First topic", "Second topic", uk.why_it_matters, uk.from_the_author, uk.market_impact]
    assert [ours[0], *ours[-3:]] == [seed_headings[0], *seed_headings[-3:]]


def test_en_headings_in_order() -> None:
    assert h2(render_body(text(), "en")) == [
        "Overview", "First topic", "Second topic", "Why it matters", "From the author", "Impact on the crypto market",
    ]  # fmt: skip


@pytest.mark.parametrize("lang", sorted(HEADINGS))
def test_every_language_renders_and_parses_back(lang: str) -> None:
    t = text()
    body = render_body(t, lang)
    assert_clean_structure(body, t, lang)
    assert parse_body(body, lang, title=t.title, description=t.description) == t


def test_layout() -> None:
    body = render_body(text(), "en")
    assert body.startswith("## Overview\n\nThe overview, in one paragraph.\n\n## First topic\n\nParagraph one.\n\n")
    assert "Paragraph two.\n\n## Second topic\n\nOnly paragraph.\n\n## Why it matters\n\nWhy, first.\n\nWhy" in body
    assert body.endswith("## Impact on the crypto market\n\n- Impact one.\n- Impact two.\n- Impact three.\n")


# ---- hostile model text ------------------------------------------------------------------------------------------


def test_injected_structure_is_neutralised() -> None:
    t = text(
        overview="Fine start.\n## Fake heading\n---\n- fake item\n\n## Another fake\n\n---\n\n1. ordered\n\n> quote",
        sections=[
            Section(heading="Real\n## Fake in heading", body="```\ncode\n```\n\n    indented code\n\n* star item"),
            Section(heading="## Hashed heading ##", body="[ref]: https://evil.example\n\n| a | b |\n|---|---|"),
            Section(heading="<b>Bold</b> heading", body="<script>alert(1)</script>Visible <img src=x onerror=y>"),
            Section(heading="Why it matters", body="<scr<script>ipt>alert(2)</script> and <!-- c --> x < y > z"),
        ],
        why_it_matters="<div>\nblock html\n</div>\n\n<details open>",
        from_the_author="[click](javascript:alert(3)) and [ok](https://example.org)\n\n===",
        market_impact=["- nested\n- more", "# heading bullet", "line\n\nbreak", " ", "<p>para</p>", "2) two"],
    )
    body = render_body(t, "en")
    assert_clean_structure(body, t, "en")
    assert "script" not in body and "onerror" not in body and "javascript" not in body
    assert h2(body)[1:5] == ["Real ## Fake in heading", "## Hashed heading ##", "Bold heading", "Why it matters"]
    # the editor's inverse still finds the fixed sections by position
    parsed = parse_body(body, "en", title=t.title, description=t.description)
    assert [s.heading for s in parsed.sections][3] == "Why it matters"
    assert render_body(parsed, "en") == body


def test_emptied_fields_keep_the_structure() -> None:
    t = text(overview="<script>x</script>", sections=[Section(heading="<i></i>", body="<br>")])
    body = render_body(t, "en")
    assert_clean_structure(body, t, "en")
    assert "## Overview\n\n…\n\n## …\n\n…\n\n" in body


def test_clean_helpers() -> None:
    assert clean_paragraphs("a\nb\n\n\n c \n \n d") == ["a b", "c", "d"]
    assert clean_paragraphs("# x\n\n---\n\n10. y\n\n\\z") == ["\\# x", "\\---", "10\\. y", "\\\\z"]
    assert clean_heading("Price #") == "Price \\#"
    assert clean_heading("C#") == "C#"
    assert clean_heading("  \n ") == "…"


# ---- parse errors ----------------------------------------------------------------------------------------------


def test_parse_errors_are_clear() -> None:
    body = render_body(text(), "en")
    with pytest.raises(ValueError, match="title= and description="):
        parse_body(body, "en")
    with pytest.raises(ValueError, match="Огляд"):
        parse_body(body, "uk", title="t", description="d")
    with pytest.raises(ValueError, match="at least 5"):
        parse_body("## Overview\n\nx\n", "en", title="t", description="d")
    with pytest.raises(ValueError, match="before the first"):
        parse_body("stray\n" + body, "en", title="t", description="d")
    with pytest.raises(KeyError, match="no fixed headings"):
        parse_body(body, "xx", title="t", description="d")
    with pytest.raises(ValueError, match="frontmatter"):
        split_article("## no frontmatter\n")


def test_parse_accepts_an_editors_wrapping() -> None:
    body = (
        render_body(text(), "en")
        .replace("Paragraph one.", "Paragraph\none.")
        .replace("- Impact two.", "* Impact\n  two.")
    )
    parsed = parse_body(body.replace("\n", "\r\n"), "en", title="t", description="d")
    assert parsed.sections[0].body == "Paragraph one.\n\nParagraph two."
    assert parsed.market_impact[1] == "Impact two."


# ---- properties ------------------------------------------------------------------------------------------------

NASTY = st.lists(
    st.one_of(
        st.sampled_from([*"#-*+>=_`~[]()<>!/|\\:.0123456789 \n\t\r", "## ", "---", "<script>", "</p>", "1. "]),
        st.characters(codec="utf-8"),
    ),
    min_size=1,
    max_size=40,
).map("".join)
SECTIONS = st.lists(st.builds(Section, heading=NASTY.map(lambda s: s[:120]), body=NASTY), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    lang=st.sampled_from(sorted(HEADINGS)),
    overview=NASTY,
    sections=SECTIONS,
    why=NASTY,
    author=NASTY,
    impact=st.lists(NASTY, min_size=3, max_size=6),
)
def test_no_model_text_can_change_the_structure(
    lang: str, overview: str, sections: list[Section], why: str, author: str, impact: list[str]
) -> None:
    t = text(overview=overview, sections=sections, why_it_matters=why, from_the_author=author, market_impact=impact)
    body = render_body(t, lang)
    assert_clean_structure(body, t, lang)
    parsed = parse_body(body, lang, title=t.title, description=t.description)
    assert render_body(parsed, lang) == body  # the editor's round trip is a fixed point


PLAIN = (
    st.text(alphabet=st.characters(categories=["L", "N"], include_characters=" ,.;!?%$'’"), min_size=1)
    .map(lambda s: " ".join(s.split()))
    .filter(lambda s: bool(s) and s[0] not in "'’")
)


@settings(max_examples=200, deadline=None)
@given(overview=PLAIN, heading=PLAIN, body=st.lists(PLAIN, min_size=1, max_size=3), impact=st.lists(PLAIN, min_size=3))
def test_ordinary_text_round_trips_exactly(overview: str, heading: str, body: list[str], impact: list[str]) -> None:
    t = text(
        overview=overview, sections=[Section(heading=heading[:120], body="\n\n".join(body))], market_impact=impact[:6]
    )
    assert parse_body(render_body(t, "en"), "en", title=t.title, description=t.description) == t
