"""Slugs: ASCII, lowercase, hyphenated, transliterated, bounded, never empty, never a path."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsroom.slugs import FALLBACK_SLUG, slugify, story_slug

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Bitcoin’s $100K rally: what’s next?", "bitcoins-100k-rally-whats-next"),
        ("  ETH / BTC -- ratio  ", "eth-btc-ratio"),
        ("Ærø Straße café naïve Łódź", "aero-strasse-cafe-naive-lodz"),
        ("Türkiye'de ılımlı düzenleme", "turkiyede-ilimli-duzenleme"),
        ("Крах біржі: гривня і ґрунт", "krakh-birzhi-hryvnya-i-grunt"),  # Ukrainian rules (і, ґ present)
        ("Рынок вырос: объёмы", "rynok-vyros-obyomy"),  # Russian rules (ы, ё present)
        ("比特币 ETF 获批", "etf"),
        ("比特币", FALLBACK_SLUG),
        ("", FALLBACK_SLUG),
        ("../../etc/passwd", "etc-passwd"),
        ("Ελλάδα", "ellada"),
    ],
)
def test_slugify(title: str, expected: str) -> None:
    assert slugify(title) == expected


def test_language_picks_the_cyrillic_rules() -> None:
    assert slugify("Гроші", lang="uk") == "hroshi"
    assert slugify("Гроши", lang="ru") == "groshi"
    assert slugify("Биткоин", lang="ru-RU") == "bitkoin"


def test_max_length_cuts_at_a_word_boundary() -> None:
    assert slugify("alpha beta gamma delta", max_length=12) == "alpha-beta"
    assert slugify("a" * 100, max_length=10) == "a" * 10
    assert len(slugify("word " * 50)) <= 80
    with pytest.raises(ValueError):
        slugify("x", max_length=0)


def test_story_slug_is_stable_and_distinct() -> None:
    a = story_slug("Same headline", "coindesk:1")
    assert a == story_slug("Same headline", "coindesk:1")
    assert a != story_slug("Same headline", "coindesk:2")
    assert a.startswith("same-headline-") and re.fullmatch(r"[0-9a-f]{8}", a.rsplit("-", 1)[1])
    assert story_slug("比特币", "x").startswith(f"{FALLBACK_SLUG}-")
    assert len(story_slug("long " * 100, "id")) <= 80


@given(st.text(), st.text(), st.integers(min_value=10, max_value=200))
def test_any_title_gives_a_safe_slug(title: str, external_id: str, max_length: int) -> None:
    s = slugify(title, max_length=max_length)
    assert SLUG.match(s) and len(s) <= max_length
    full = story_slug(title, external_id, max_length=max_length)
    assert SLUG.match(full) and len(full) <= max_length
    assert "/" not in full and "\\" not in full and ".." not in full


def test_fix_slug_stores_the_first_slug_and_reads_back_only_another_one(sqlite_store) -> None:  # type: ignore[no-untyped-def]
    """The slug is fixed before the write call: the first one stored wins (a rerun, another process); when this
    process's update stored it, it is not read back."""
    from sqlalchemy import event, update

    from newsroom.stages.write import fix_slug
    from newsroom.store import queries
    from newsroom.store.tables import StoryRow
    from story_support import story_with_members

    first, second = story_with_members(sqlite_store), None
    with sqlite_store.session() as s:
        second_row = StoryRow(lead_item_id=s.get_one(StoryRow, first).lead_item_id, status="new")
        s.add(second_row)
        s.flush()
        second = second_row.id
        s.execute(update(StoryRow).where(StoryRow.id == second).values(slug="kept-by-another-process"))
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    with sqlite_store.session() as s:
        ours, theirs = queries.story_contexts(s, [first, second])
    theirs.story.slug = None  # as a context read before the other process stored its slug
    event.listen(sqlite_store.engine, "before_cursor_execute", seen)
    try:
        slug = fix_slug(sqlite_store, ours)
        assert not reads  # stored by this update: nothing read back
        assert fix_slug(sqlite_store, theirs) == "kept-by-another-process" and len(reads) == 1
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", seen)
    assert slug == story_slug("Acme Fund sells 1,200 BTC", "alpha:alpha-1") and ours.story.slug == slug
    with sqlite_store.session() as s:
        assert s.get_one(StoryRow, first).slug == slug
    assert fix_slug(sqlite_store, ours) == slug  # already fixed: nothing to do
