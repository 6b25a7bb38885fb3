"""The select stage: which stories get an article, every skip stored with its reason, and "write anyway".

The corpus's PR Newswire feed is the negative control (none of its releases is crypto news); the four crypto feeds'
items must be kept. Rules (deny/allow per source and keyword, item types, min_score, the daily budget) are checked on
the pure decision; the store side (skipped status, reasons in stats, API and UI, write anyway) on both engines.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from newsroom.beat import item_type
from newsroom.config import SelectConfig, Settings, SourceConfig, StoriesConfig
from newsroom.stages.poll import poll_sources
from newsroom.stages.select import Candidate, decide, select_story
from newsroom.store import queries
from newsroom.store.db import Store
from newsroom.store.tables import ArticleRow, ItemRow, StoryRow, utcnow
from newsroom.web.app import create_app
from web_support import AUTH, TOKEN, make_settings, run_pipeline

CRYPTO = [
    ("coindesk", "CoinDesk", "coindesk.rss"),
    ("cointelegraph", "Cointelegraph", "coingtelegraph-all.rss"),
    ("decrypt", "Decrypt", "decrypt.rss"),
    ("theblock", "The Block", "theblock.rss"),
]
PRN = ("prnewswire", "PR Newswire", "prnewswire-news-releases-list.rss")
HTML = {"accept": "text/html"}


def _serve(httpserver: HTTPServer, corpus: Path, feeds: list[tuple[str, str, str]]) -> list[SourceConfig]:
    out = []
    for key, name, file in feeds:
        body = (corpus / "feeds" / file).read_bytes()
        httpserver.expect_request(f"/{key}").respond_with_data(body, content_type="application/rss+xml")
        out.append(SourceConfig(key=key, name=name, url=httpserver.url_for(f"/{key}")))
    return out


def _candidate(**kw: object) -> Candidate:
    base = Candidate(
        headline="Tether offers to buy Juventus",
        url="https://example.com/news/1",
        categories=(),
        lead_text="The stablecoin issuer Tether made an offer.",
        texts=("Tether offers to buy Juventus\nThe stablecoin issuer Tether made an offer.",),
        sources=frozenset({"coindesk"}),
        expected_score=40,
        selected_today=0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


# ---- the decision, rule by rule (pure) ------------------------------------------------------------------------------


def test_rules_each_give_their_reason() -> None:
    cfg = SelectConfig()
    assert decide(cfg, _candidate()) is None
    off = _candidate(headline="Six Flags Shareholder Alert", texts=("Six Flags Shareholder Alert\nInvestors",))
    assert decide(cfg, off).startswith("off-beat:")  # type: ignore[union-attr]
    # per source: denied when every member is from a denied source, allowed sources skip the beat check
    assert decide(SelectConfig(deny_sources=["coindesk"]), _candidate()).startswith("source-denied:")  # type: ignore[union-attr]
    two = _candidate(sources=frozenset({"coindesk", "theblock"}))
    assert decide(SelectConfig(deny_sources=["coindesk"]), two) is None
    assert decide(SelectConfig(allow_sources=["coindesk"]), off) is None
    # keywords: deny on the headline, allow anywhere in the story
    reason = decide(SelectConfig(deny_keywords=["juventus"]), _candidate())
    assert reason == "keyword-denied: the headline has 'juventus'"
    assert decide(SelectConfig(allow_keywords=["shareholder alert"]), off) is None
    # item types: skipped only when the site lists the type
    pred = _candidate(headline="Bitcoin price prediction: BTC could reach $150K", texts=("Bitcoin price",))
    assert decide(cfg, pred) is None
    reason = decide(SelectConfig(skip_types=["price-prediction"]), pred)
    assert reason == "item-type: price-prediction is in select.skip_types"
    # min_score and the daily budget
    assert decide(SelectConfig(min_score=41), _candidate()).startswith("below-min-score: expected score 40")  # type: ignore[union-attr]
    assert decide(SelectConfig(min_score=40), _candidate()) is None
    assert decide(SelectConfig(daily_budget=3), _candidate(selected_today=2)) is None
    assert decide(SelectConfig(daily_budget=3), _candidate(selected_today=3)).startswith("daily-budget:")  # type: ignore[union-attr]
    assert decide(SelectConfig(enabled=False, min_score=100), _candidate()) is None


def test_item_types() -> None:
    assert item_type("Here's what happened in crypto today") == "market-wrap"
    assert item_type("DOT Sinks 2% After Breaking Key Support") == "technical-analysis"
    assert item_type("Ether's Quiet Week: Crypto Daybook Americas") == "newsletter"
    assert item_type("Bitcoin ETF news", url="https://x.com/live/bitcoin-etf") == "live-blog"
    assert item_type("Acme launches a token", text="NEW YORK, Dec. 12, 2025 /PRNewswire/ -- Acme") == "sponsored"
    assert item_type("Coinbase to unveil prediction markets next week") is None  # a product, not a prediction
    assert item_type("Do Kwon sentenced to 15 years in prison") is None


# ---- the corpus: negative control and crypto feeds (store, both engines) --------------------------------------------


def test_corpus_prnewswire_skipped_crypto_kept(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path
) -> None:
    sources = _serve(httpserver, corpus, [*CRYPTO, PRN])
    settings = Settings(
        database_url=store.url,
        sources=sources,
        max_items_per_source=100,
        stories=StoriesConfig(same_event=False),  # one story per item: every item is judged on its own
        fetch={"allow_private_networks": True},  # type: ignore[arg-type]
        publish={"content_dir": tmp_path / "content"},  # type: ignore[arg-type]
    )
    asyncio.run(poll_sources(store, settings, force=True))
    with store.session() as s:
        stories = list(
            s.execute(select(StoryRow.id, ItemRow.source_key).join(ItemRow, ItemRow.story_id == StoryRow.id))
        )
    per_story = dict(stories)
    reasons = {sid: select_story(store, settings, sid) for sid in per_story}
    prn = [r for sid, r in reasons.items() if per_story[sid] == "prnewswire"]
    crypto = [r for sid, r in reasons.items() if per_story[sid] != "prnewswire"]
    assert prn and all(r is not None for r in prn), prn  # near-copy releases may share a story
    assert {r.split(":")[0] for r in prn if r} <= {"off-beat", "item-type"}
    kept = sum(r is None for r in crypto)
    codes = Counter(r.split(":")[0] for r in prn if r)
    print(f"\nselect, corpus feeds: PR Newswire {len(prn) - prn.count(None)}/{len(prn)} stories skipped {dict(codes)};"
          f" crypto feeds {kept}/{len(crypto)} kept")  # fmt: skip
    assert len(crypto) >= 120 and kept / len(crypto) >= 0.9, (kept, len(crypto))
    with store.session() as s:
        data = queries.stats(s)
        assert data["stories"]["skipped"] == sum(r is not None for r in reasons.values())
        assert data["skip_reasons"]["off-beat"] >= 18
        assert all(st["reason"] for st in data["skipped"])
        skipped_rows = list(s.scalars(select(StoryRow).where(StoryRow.status == "skipped")))
        assert all(row.skip_reason for row in skipped_rows)


# ---- the pipeline: skipped with reasons, listed everywhere, written anyway ------------------------------------------


def test_skipped_listed_and_written_anyway(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    sources = _serve(httpserver, corpus, [CRYPTO[0], PRN])
    settings = make_settings(tmp_path, store.url, sources, scripted_llm)
    settings.guards.enabled = False
    settings.extract.enabled = False
    summary = run_pipeline(settings, store)
    assert not summary.failures, summary.failures
    assert summary.skipped and all("prnewswire" not in f for f in summary.failures)
    with store.session() as s:
        skipped = {st.id: st.skip_reason for st in s.scalars(select(StoryRow).where(StoryRow.status == "skipped"))}
        written = set(s.scalars(select(ArticleRow.story_id)))
    assert skipped and not (set(skipped) & written)  # no article, no file for a skipped story
    assert all(reason for reason in skipped.values())
    with TestClient(create_app(settings, store), base_url="https://testserver") as client:
        page = client.get("/api/v1/stories", params={"status": "skipped", "limit": 100}).json()
        listed = {st["id"]: st["skipReason"] for st in page["items"]}
        assert listed == skipped
        target = min(skipped)
        assert client.post(f"/api/v1/stories/{target}/write").status_code == 401  # editors only
        r = client.post(f"/api/v1/stories/{target}/write", headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "new" and r.json()["selectBypass"] is True
        assert client.post("/api/v1/stories/999999/write", headers=AUTH).status_code == 404
        # the written-anyway story then fails as in a model outage: pending, backing off for an hour after 3 tries
        with store.session() as s:
            st = s.get_one(StoryRow, target)
            st.attempts, st.last_error = 3, "server_error: HTTP 503"
            st.next_attempt_at = utcnow() + timedelta(hours=1)
        # the UI lists the rest with their reasons and offers the same action
        form = client.get("/ui/login", headers=HTML)
        value = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]  # type: ignore[index]
        client.post("/ui/login", data={"token": TOKEN, "next": "/ui/", "csrf_token": value})
        ui = client.get("/ui/skipped", headers=HTML)
        assert ui.status_code == 200
        others = sorted(set(skipped) - {target})
        assert f'id="story-{others[0]}"' in ui.text and f'id="story-{target}"' not in ui.text
        assert str(skipped[others[0]]).split(":")[0] in ui.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', ui.text)[1]  # type: ignore[index]
        r = client.post(f"/ui/stories/{others[0]}/write", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        # the failed story waiting out its backoff is listed with its error, and "retry now" makes it due
        assert f'id="waiting-{target}"' in ui.text and "HTTP 503" in ui.text
        r = client.post(f"/ui/stories/{target}/write", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        with store.session() as s:
            assert s.get_one(StoryRow, target).next_attempt_at is None

    again = run_pipeline(settings, store)
    assert not again.failures
    with store.session() as s:
        for sid in (target, others[0]):
            story = s.get_one(StoryRow, sid)
            assert story.status == "written"
            langs = set(s.scalars(select(ArticleRow.lang).where(ArticleRow.story_id == sid)))
            assert langs == set(settings.languages)
        assert s.get_one(StoryRow, others[1]).status == "skipped" if len(others) > 1 else True


def test_daily_budget_skips_the_rest(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    budget = 2
    settings = make_settings(tmp_path, store.url, _serve(httpserver, corpus, [CRYPTO[0]]), scripted_llm)
    settings.guards.enabled = False
    settings.extract.enabled = False
    settings.select.daily_budget = budget
    summary = run_pipeline(settings, store)
    with store.session() as s:
        n_pivots = len(list(s.scalars(select(ArticleRow.id).where(ArticleRow.lang == "en"))))
        budget_skips = [
            st
            for st in s.scalars(select(StoryRow).where(StoryRow.status == "skipped"))
            if "daily-budget" in st.skip_reason
        ]
    assert n_pivots == budget and budget_skips, summary.skipped


def test_without_a_daily_budget_nothing_counts_todays_stories(
    tmp_path: Path, store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    """No budget: select does not count today's selected stories (a query per story that nothing reads)."""
    from sqlalchemy import event

    settings = make_settings(tmp_path, store.url, _serve(httpserver, corpus, [CRYPTO[0]]), scripted_llm)
    assert settings.select.daily_budget == 0
    asyncio.run(poll_sources(store, settings))
    with store.session() as s:
        ids = list(s.scalars(select(StoryRow.id)))
    counts: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        if "count(stories.id)" in statement:
            counts.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        reasons = [select_story(store, settings, sid) for sid in ids]
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert ids and not counts
    assert any(r is None for r in reasons)
