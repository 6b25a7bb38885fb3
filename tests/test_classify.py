"""Tag and category clean-up (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newsroom.classify import MAX_TAG_CHARS, choose_category, interim_score, merge_tags, normalise_tag

TAXONOMY = ["BTC", "ETH", "DEFI", "MARKETS"]


def test_tags_are_uppercase_deduplicated_and_bounded() -> None:
    model = ["bitcoin", "#AI", "$btc", "CoreWeave", "ai", "  markets  "]
    source = ["Markets", "Bitcoin News", "News"]
    assert merge_tags(model, source) == ["BITCOIN", "AI", "BTC", "COREWEAVE", "MARKETS", "BITCOIN NEWS", "NEWS"]
    assert len(merge_tags([f"t{i}" for i in range(50)])) == 12


def test_tag_junk_is_removed() -> None:
    assert normalise_tag("<script>x</script>") == "SCRIPTX/SCRIPT"  # "/" stays: BTC/USD
    assert normalise_tag("  ") == ""
    assert merge_tags(["", " ", "!!"]) == []


@given(st.text())
def test_normalised_tags_are_clean(raw: str) -> None:
    tag = normalise_tag(raw)
    assert len(tag) <= MAX_TAG_CHARS
    assert tag == tag.strip() and tag == tag.upper()
    assert normalise_tag(tag) == tag


def test_category_falls_back_to_the_default() -> None:
    assert choose_category("defi", TAXONOMY, "MARKETS") == "DEFI"
    assert choose_category("SPORTS", TAXONOMY, "MARKETS") == "MARKETS"
    assert interim_score(140) == 100 and interim_score(-3) == 0
