"""The frontmatter against the seed: byte for byte, key order, value types, enums, timestamps, YAML round trips."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from newsroom.models import COVER_SIZES, ArticleDoc, ArticleText, CoverImage, Section, Sentiment, SourceRef
from newsroom.publish import SEED_KEYS, dump_frontmatter, frontmatter_data, iso_ms, parse_body, split_article
from newsroom.publish.frontmatter import scalar
from newsroom.publish.markdown import render_article

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def parse_ts(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z")


def seed_doc(seed: str) -> ArticleDoc:
    """An ArticleDoc holding exactly the seed's values (no additive keys)."""
    fm_text, _ = split_article(seed)
    fm = yaml.safe_load(fm_text)
    cover = fm["coverImage"]
    return ArticleDoc(
        title=fm["title"],
        description=fm["description"],
        published_at=parse_ts(fm["publishedAt"]),
        updated_at=parse_ts(fm["updatedAt"]),
        lang=fm["lang"],
        external_id=fm["externalId"],
        source=SourceRef(**fm["source"]),
        category=fm["category"],
        tags=fm["tags"],
        sticky_weight=fm["stickyWeight"],
        sentiment=Sentiment(fm["sentiment"]),
        score=fm["score"],
        draft=fm["draft"],
        cover_image=CoverImage(**cover),
        translated_from=fm["ai"]["translatedFrom"],
        version=fm["ai"]["version"],
        slug="",
        source_url="",
        text=parse_body(seed, fm["lang"]),
    )


def sample_doc(**changes: Any) -> ArticleDoc:
    """A synthetic article (the project's own words, not corpus text)."""
    values: dict[str, Any] = {
        "title": "Example chain ships a faster block producer",
        "description": "A synthetic teaser, written for the tests: with a comma, and an ellipsis…",
        "published_at": datetime(2025, 3, 4, 5, 6, 7, 891234, tzinfo=UTC),
        "updated_at": datetime(2025, 3, 4, 8, 0, 0, tzinfo=UTC),
        "lang": "en",
        "external_id": "12345",
        "source": SourceRef(name="Example Wire", key="example", type="RSS"),
        "category": "ETH",
        "tags": ["ETH", "SCALING", "ON"],
        "sticky_weight": 0,
        "sentiment": Sentiment.POSITIVE,
        "score": 42,
        "draft": True,
        "cover_image": CoverImage(**{s: f"https://img.example/{s}.png?a=1&b=2" for s in COVER_SIZES}),
        "translated_from": "12345",
        "version": 2,
        "model": None,
        "slug": "example-chain-ships-a-faster-block-producer-1a2b3c4d",
        "source_url": "https://news.example/post/1",
        "text": ArticleText(
            title="Example chain ships a faster block producer",
            description="A synthetic teaser.",
            overview="The overview paragraph.",
            sections=[Section(heading="What changed", body="First paragraph.\n\nSecond paragraph.")],
            why_it_matters="It matters for the tests.",
            from_the_author="A short editorial voice.",
            market_impact=["One.", "Two.", "Three."],
        ),
    }
    values.update(changes)
    return ArticleDoc(**values)


# ---- the seed --------------------------------------------------------------------------------------------------


def test_seed_frontmatter_byte_for_byte(seed_path: Path) -> None:
    seed = seed_path.read_text(encoding="utf-8")
    fm_text, _ = split_article(seed)
    doc = seed_doc(seed)
    assert dump_frontmatter(frontmatter_data(doc)) == fm_text


def test_seed_whole_file_byte_for_byte(seed_path: Path) -> None:
    raw = seed_path.read_bytes()
    assert render_article(seed_doc(raw.decode("utf-8"))).encode("utf-8") == raw


def test_seed_values_round_trip_through_our_dump(seed_path: Path) -> None:
    fm_text, _ = split_article(seed_path.read_text(encoding="utf-8"))
    values = yaml.safe_load(fm_text)
    assert dump_frontmatter(values) == fm_text


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (list element types included)."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ("list", sorted({type(v).__name__ for v in value}))
    return type(value).__name__


def test_generated_frontmatter_has_the_seeds_keys_order_and_types(seed_path: Path) -> None:
    seed_fm = yaml.safe_load(split_article(seed_path.read_text(encoding="utf-8"))[0])
    assert tuple(seed_fm) == SEED_KEYS
    for lang in ("en", "uk"):
        text = render_article(sample_doc(lang=lang))
        ours = yaml.safe_load(split_article(text)[0])
        keys = list(ours)
        assert keys[: len(SEED_KEYS)] == list(SEED_KEYS)
        assert keys[len(SEED_KEYS) :] == ["slug", "sourceUrl", "translationKey"]  # additive keys only after the seed's
        assert _shape({k: ours[k] for k in SEED_KEYS}) == _shape(seed_fm)
        assert ours["sentiment"] in {"POSITIVE", "NEUTRAL", "NEGATIVE"}
        assert ours["source"]["type"] in {"RSS", "ATOM", "API"}
        assert seed_fm["sentiment"] in {"POSITIVE", "NEUTRAL", "NEGATIVE"}
        assert seed_fm["source"]["type"] in {"RSS", "ATOM", "API"}
        for key in ("publishedAt", "updatedAt"):
            assert TIMESTAMP.match(ours[key]), ours[key]
            assert TIMESTAMP.match(seed_fm[key]), seed_fm[key]
        assert list(ours["coverImage"]) == list(COVER_SIZES) == list(seed_fm["coverImage"])
        assert list(ours["ai"]) == ["translatedFrom", "version"] == list(seed_fm["ai"])
        assert isinstance(ours["externalId"], str) and isinstance(ours["ai"]["translatedFrom"], str)


def test_timestamps_are_quoted_like_the_seed() -> None:
    text = dump_frontmatter(frontmatter_data(sample_doc()))
    assert "publishedAt: '2025-03-04T05:06:07.891Z'\n" in text
    assert "updatedAt: '2025-03-04T08:00:00.000Z'\n" in text
    assert "externalId: '12345'\n" in text
    assert "  - 'ON'\n" in text  # a YAML 1.1 boolean word stays a string


def test_optional_keys_only_when_present() -> None:
    plain = frontmatter_data(sample_doc(slug="", source_url=""))
    assert "credit" not in plain["coverImage"] and "model" not in plain["ai"]
    assert "slug" not in plain and "sourceUrl" not in plain and "translationKey" not in plain
    credit = {"name": "A. Photographer", "link": "https://unsplash.com/@someone"}
    cover = sample_doc().cover_image.model_copy(update={"credit": credit})
    full = frontmatter_data(sample_doc(cover_image=cover, model="some-model:7b"))
    assert list(full["coverImage"]) == [*COVER_SIZES, "credit"]
    assert full["coverImage"]["credit"] == credit
    assert list(full["ai"]) == ["translatedFrom", "version", "model"]
    back = yaml.safe_load(dump_frontmatter(full))
    assert back == full
    assert list(back)[-3:] == ["slug", "sourceUrl", "translationKey"]


# ---- iso_ms --------------------------------------------------------------------------------------------------------


def test_iso_ms() -> None:
    assert iso_ms(datetime(2025, 12, 16, 15, 34, 37, tzinfo=UTC)) == "2025-12-16T15:34:37.000Z"
    assert iso_ms(datetime(2025, 12, 16, 16, 36, 49, 986999, tzinfo=UTC)) == "2025-12-16T16:36:49.986Z"
    kyiv = timezone(timedelta(hours=2))
    assert iso_ms(datetime(2026, 1, 1, 1, 0, 0, tzinfo=kyiv)) == "2025-12-31T23:00:00.000Z"
    assert iso_ms(datetime(5, 1, 2, tzinfo=UTC)) == "0005-01-02T00:00:00.000Z"
    with pytest.raises(ValueError, match="naive"):
        iso_ms(datetime(2025, 1, 1))


@given(st.datetimes(timezones=st.timezones()))
def test_iso_ms_property(dt: datetime) -> None:
    s = iso_ms(dt)
    assert TIMESTAMP.match(s)
    assert abs(parse_ts(s) - dt) < timedelta(milliseconds=1)


# ---- scalar styles ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("BTC", "BTC"),
        ("BITCOIN NEWS", "BITCOIN NEWS"),
        ("it's fine", "it's fine"),
        ("Ünïcödé текст 比特币 🚀", "Ünïcödé текст 比特币 🚀"),
        ("55880200", "'55880200'"),
        ("1.5", "'1.5'"),
        ("0x1F", "'0x1F'"),
        ("1e3", "'1e3'"),
        ("2025-01-01", "'2025-01-01'"),
        ("yes", "'yes'"),
        ("No", "'No'"),
        ("null", "'null'"),
        ("~", "'~'"),
        ("true", "'true'"),
        ("", "''"),
        ("a, b", "'a, b'"),
        ("a: b", "'a: b'"),
        ("x #y", "'x #y'"),
        ("- item", "'- item'"),
        ("---", "'---'"),
        ("'quoted'", "'''quoted'''"),
        ('"dq"', "'\"dq\"'"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("<<", "'<<'"),
        ("=", "'='"),
        ("two\nlines", '"two\\nlines"'),
        ("tab\there", '"tab\\there"'),
        ("nbsp\u00a0here", '"nbsp\\_here"'),
        ("bell\x07", '"bell\\a"'),
        ("del\x7f", '"del\\x7F"'),
        ("back\\slash\nx", '"back\\\\slash\\nx"'),
        (0, "0"),
        (7, "7"),
        (False, "false"),
        (None, "null"),
        (Sentiment.NEUTRAL, "NEUTRAL"),
    ],
)
def test_scalar_style(value: Any, expected: str) -> None:
    assert scalar(value) == expected
    assert yaml.safe_load(f"k: {expected}")["k"] == (value.value if isinstance(value, Sentiment) else value)


def test_collections_layout() -> None:
    data = {"a": [], "b": {}, "c": [1, "x"], "d": {"e": {"f": "g"}, "h": ["i"]}, "j": [{"k": 1, "l": 2}, ["m", "o"]]}
    text = dump_frontmatter(data)
    assert text == (
        "a: []\nb: {}\nc:\n  - 1\n  - x\nd:\n  e:\n    f: g\n  h:\n    - i\nj:\n  - k: 1\n    l: 2\n  - - m\n    - o\n"
    )
    assert yaml.safe_load(text) == data


def test_refuses_what_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="bytes"):
        dump_frontmatter({"a": b"x"})
    with pytest.raises(TypeError, match="keys must be strings"):
        dump_frontmatter({1: "x"})
    with pytest.raises(ValueError, match="naive"):
        frontmatter_data(sample_doc(published_at=datetime(2025, 1, 1)))


# ---- hostile strings round-trip ------------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list(" \t\n\r'\"#:-,[]{}&*!|>%@`?~=<.0123456789eExXyYnN\\/")), max_size=30),
    st.sampled_from(
        [
            "yes",
            "no",
            "null",
            "~",
            "---",
            "...",
            "- a",
            "? a",
            ": a",
            "#",
            "a #b",
            "a: b",
            "'",
            '"',
            "\\",
            "0o17",
            "-.inf",
            ".NaN",
            "1_000",
            "1:30",
            "2025-12-16T15:34:37.000Z",
            "2025-12-16 15:34",
            "🚀🚀",
            "\u2028",
            "\ufeff",
            "x" * 5000,
            "\x85",
            "\U0010ffff",
            "\ud800",
            "<<",
            "=",
        ]
    ),
)
SCALARS = st.one_of(HOSTILE, st.integers(), st.booleans(), st.none())
KEYS = st.one_of(st.sampled_from(["title", "a b", "1", "yes", "k:v", "-x"]), st.text(min_size=1, max_size=10))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_dump_round_trips_any_value(data: dict[str, Any]) -> None:
    text = dump_frontmatter(data)
    assert yaml.safe_load(text) == (data or {})
    assert text.endswith("\n")
    assert "\n---\n" not in "\n" + text  # can never close the frontmatter early


@settings(max_examples=200, deadline=None)
@given(HOSTILE, HOSTILE)
def test_article_title_and_description_round_trip(title: str, description: str) -> None:
    doc = sample_doc(title=title, description=description)
    fm_text, body = split_article(render_article(doc))
    back = yaml.safe_load(fm_text)
    assert back["title"] == title and back["description"] == description
    assert list(back)[: len(SEED_KEYS)] == list(SEED_KEYS)
    assert body.startswith("## Overview\n")
