"""Tag and category clean-up (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newsroom.classify import (
    MAX_TAG_CHARS,
    article_tags,
    canonical_tag,
    choose_category,
    interim_score,
    merge_tags,
    normalise_tag,
    pick_category,
)

TAXONOMY = ["BTC", "ETH", "DEFI", "MARKETS"]


def test_tags_are_uppercase_deduplicated_and_bounded() -> None:
    model = ["bitcoin", "#AI", "$btc", "CoreWeave", "ai", "  markets  "]
    source = ["Markets", "Bitcoin News", "News"]
    # bitcoin/$btc are one asset (BTC); MARKETS kept as given; repeats dropped
    assert merge_tags(model, source) == ["BTC", "AI", "COREWEAVE", "MARKETS", "BITCOIN NEWS", "NEWS"]
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


def test_synonyms_merge_onto_one_tag() -> None:
    assert canonical_tag("Ethereum") == canonical_tag("ether") == canonical_tag("$eth") == "ETH"
    assert canonical_tag("NFTs") == "NFT" and canonical_tag("Decentralized Finance") == "DEFI"
    assert merge_tags(["Market"], ["MARKETS"]) == ["MARKET", "MARKETS"]  # not synonyms: kept as the source gave them


def test_article_tags_put_detected_assets_first() -> None:
    tags = article_tags(
        headline="Solana outage halts trading; $SOL slips",
        text="Validators restarted the network.",
        model_tags=["solana", "outage"],
        source_categories=["Markets"],
    )
    assert tags == ["SOL", "OUTAGE", "MARKETS"]


FULL = ["BTC", "ETH", "SOL", "XRP", "ALTCOINS", "DEFI", "NFT", "REGULATION", "MARKETS", "BUSINESS"]


def _cat(headline: str, text: str = "", tags: list[str] | None = None, proposed: str = "") -> str:
    return pick_category(
        headline=headline, text=text, tags=tags or [], proposed=proposed, taxonomy=FULL, default="MARKETS"
    )


def test_category_rule() -> None:
    assert _cat("Bitcoin tops $100,000", "BTC rallied while ETH lagged.") == "BTC"  # one dominant asset
    assert _cat("Cardano and Polkadot jump") == "ALTCOINS"  # several assets, none of BTC/ETH
    assert _cat("SEC sues an exchange", tags=["REGULATION"]) == "REGULATION"  # no asset: topic from the tags
    assert _cat("Aave governance vote", proposed="defi") == "DEFI"  # the model's topic
    assert _cat("Bitcoin and Ether both slide") == "MARKETS"  # no dominant asset, no topic: the default
    assert _cat("Something happened", proposed="BTC") == "MARKETS"  # the model cannot invent an asset category
