"""Stories are events: look-alike events stay apart, one event told by several sites joins, the result does not
depend on arrival order or chunking, and ``eval dedupe`` reports what the site would lose. Real embedding model;
the headlines are invented for the test."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from newsroom.dedupe import pairs
from newsroom.dedupe.cluster import ClusterParams, Doc, Match, StoryIndex, cluster
from newsroom.dedupe.features import action_keys, item_type, number_keys, opinion
from newsroom.dedupe.pairs import conflicting
from newsroom.embeddings import HashingEmbedder, ProcessEmbedder, default_embedder
from newsroom.evaluate import eval_dedupe

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC).timestamp()
HOUR = 3600.0


def _labels(items: list[tuple[float, str, str]]) -> list[int]:
    """Cluster (hours after T0, source, headline) items with the real model."""
    docs = [
        Doc(title=t, published=T0 + h * HOUR, source=src, external_id=f"{src}-{i}")
        for i, (h, src, t) in enumerate(items)
    ]
    return cluster(docs, default_embedder())


ONE_SALE = [
    (0.0, "coindesk", "Halvard Capital sells 4,210 BTC worth $262 million, filing shows"),
    (0.3, "decrypt", "Halvard Capital Dumps $262M in Bitcoin"),
    (0.6, "cointelegraph", "Halvard offloads 4,210 bitcoin in first sale since 2024"),
    (1.1, "theblock", "Halvard Capital sold $262 million of BTC last week to fund buybacks"),
    (2.5, "bitcoin.com", "Bitcoin treasury firm Halvard Capital sells 4,210 BTC"),
]


def test_one_sale_reported_by_five_sites_is_one_story() -> None:
    labels = _labels(ONE_SALE)
    assert len(set(labels)) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(  # two raises led by one fund in one week
            (0, "coindesk", "Paradigm leads $40 million Series A for Nexa Labs"),
            (70, "theblock", "Paradigm backs Orbital Finance in $25 million seed round"),
            id="two-raises-one-fund",
        ),
        pytest.param(
            (0, "coindesk", "Bitcoin ETFs see $500 million in inflows as institutions return"),
            (1, "decrypt", "Ether ETFs see $85 million in inflows as institutions return"),
            id="bitcoin-vs-ether-etf-flows",
        ),
        pytest.param(
            (0, "coindesk", "Bitcoin ETF sees $500M inflows on Tuesday"),
            (1, "decrypt", "Ether ETF sees $500M inflows on Tuesday"),
            id="etf-flows-same-amount-other-asset",
        ),
        pytest.param(  # one kind of act by two firms, told in one frame
            (0, "coindesk", "Norvane files for spot Solana ETF"),
            (3, "decrypt", "Kestrix files for spot Solana ETF"),
            id="two-filings-one-frame",
        ),
        pytest.param(
            (0, "coindesk", "Qorbit exchange to list ZEPH token next week"),
            (2, "theblock", "Qorbit exchange to list VRAK token next week"),
            id="two-listings-one-frame",
        ),
        pytest.param(  # a hack and a reaction to it
            (0, "coindesk", "Hackers drain $70 million from Norvik hardware wallets"),
            (5, "decrypt", "Binance founder CZ urges users to spread funds across wallets after Norvik hack"),
            id="hack-and-reaction",
        ),
        pytest.param(  # two price-prediction pieces on one coin
            (0, "invezz", "XRP price prediction: bulls eye $3 as ETF demand builds"),
            (2, "coinpedia", "XRP Price Prediction: Will XRP reach $3 this week?"),
            id="two-price-predictions",
        ),
        pytest.param(  # one company's two announcements
            (0, "coindesk", "Halvard Capital sells 4,210 BTC worth $262 million"),
            (30, "decrypt", "Halvard Capital buys 1,100 BTC for $70 million"),
            id="a-sale-and-a-purchase",
        ),
    ],
)
def test_look_alike_events_stay_apart(first: tuple[float, str, str], second: tuple[float, str, str]) -> None:
    labels = _labels([first, second])
    assert labels[0] != labels[1]


def test_a_sale_story_takes_its_reports_but_not_the_same_firms_purchase() -> None:
    labels = _labels([*ONE_SALE, (30, "coindesk", "Halvard Capital buys 1,100 BTC for $70 million")])
    assert len(set(labels[:5])) == 1 and labels[5] != labels[0]


def test_genre_pieces_never_join_on_meaning() -> None:
    assert item_type("Bitcoin Price Prediction: BTC eyes $120K") == "prediction"
    assert item_type("LIVE: Bitcoin slides as Fed decision nears") == "live"
    assert item_type("Crypto market wrap: majors rebound") == "wrap"
    assert item_type("Halvard Capital sells 4,210 BTC") == ""
    index = StoryIndex(default_embedder().dim)
    titles = ["Bitcoin Price Prediction: BTC eyes $120K", "Bitcoin price prediction: BTC eyes $120K by Friday"]
    vecs = default_embedder().embed(titles)
    index.add(0, Doc(title=titles[0], published=T0, source="a"), vecs[0])
    assert index.similar(Doc(title=titles[1], published=T0 + 60, source="b"), vecs[1]) is None


def test_questions_and_explainers_join_only_a_dense_story() -> None:
    """Two speculations on one coin in one week read alike; joined, one of them gets no article. A question or an
    explainer neither joins a story nor is joined on meaning, unless the story is dense (many near members)."""
    assert opinion("How high will Zenbit go if the Lenzor bill passes?")
    assert opinion("Zenbit to rally 900%? Analyst says nobody is ready")
    assert opinion("Four red months: why Zenbit finally has a chance")
    assert not opinion("Halvard Capital sells 4,210 BTC")
    assert not opinion("Halvard Capital sells 4,210 BTC: what next?")  # a report with a question after it
    titles = ["Analyst shares the truth about the Lenzor bill with Zenbit holders",
              "How high will Zenbit price go if the Lenzor bill passes?"]  # fmt: skip
    vecs = default_embedder().embed(titles)
    index = StoryIndex(default_embedder().dim, ClusterParams(join=1e-6))  # any probability would do
    index.add(0, Doc(title=titles[0], published=T0, source="a"), vecs[0])
    assert index.similar(Doc(title=titles[1], published=T0 + 3600, source="b"), vecs[1]) is None
    index = StoryIndex(default_embedder().dim, ClusterParams(join=1e-6, dense_members=1, dense_best=0.0))
    index.add(0, Doc(title=titles[0], published=T0, source="a"), vecs[0])
    assert index.similar(Doc(title=titles[1], published=T0 + 3600, source="b"), vecs[1]) is not None


def test_genre_pieces_are_not_embedded() -> None:
    """A genre piece is never compared on meaning, so ``cluster`` does not embed it: the same stories, fewer rows."""
    asked: list[str] = []

    class Counting(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            asked.extend(texts)
            return super().embed(texts)

    docs = [
        Doc(title="Bitcoin Price Prediction: BTC eyes $120K", published=T0, source="a", url="u1"),
        Doc(title="Halvard Capital sells 4,210 BTC", published=T0 + 60, source="b", url="u2"),
        Doc(title="Halvard Capital offloads 4,210 bitcoin", published=T0 + 120, source="c", url="u3"),
        Doc(title="LIVE: Bitcoin slides as Fed decision nears", published=T0 + 180, source="d", url="u4"),
    ]
    labels = cluster(docs, Counting())
    assert asked == ["Halvard Capital sells 4,210 BTC", "Halvard Capital offloads 4,210 bitcoin"]
    everything = np.vstack([HashingEmbedder().embed([d.title]) for d in docs])
    assert labels == cluster(docs, everything)  # every row given: the genre pieces' rows change nothing


def test_chart_and_live_words_make_a_genre_only_on_a_price() -> None:
    # the price-led pieces stay genre pieces
    assert item_type("XRP holds $1.05 support, eyes breakout") == "analysis"
    assert item_type("Dogecoin holds near $0.07 after slump") == "analysis"
    assert item_type("Ethereum breaks key resistance as traders wait") == "analysis"
    assert item_type("LIVE: Bitcoin slides as Fed decision nears") == "live"
    # news that uses the same words: a campaign's support, a talk's live page, a hacker holding the loot
    assert item_type("Film stars support Ban Loud campaign for quieter schools") == ""
    assert item_type("Regional shares find support amid trade talks") == ""
    assert item_type("Optimism gives support to regional shares") == ""  # an asset's name that is an English word
    assert item_type("LIVE: Whistleblower speaks to tech festival") == ""
    assert item_type("Norvik exploit hits 900 wallets as attacker still holds $41.2M stolen BTC") == ""


def test_other_names_in_one_frame_are_other_events_but_a_site_suffix_is_not() -> None:
    assert conflicting("Qorbit to list ZEPH token next week", "Qorbit to list VRAK token next week")
    assert conflicting("ZEPH jumps 21% on Qorbit listing news", "VRAK jumps 4% on Qorbit listing news")
    assert not conflicting(
        "Qorbit to list ZEPH token next week - Coindesk", "Qorbit to list ZEPH token next week - Decrypt"
    )
    assert not conflicting("Halvard Capital sells 4,210 BTC", "Halvard Capital sells 4,211 BTC")  # figures alone
    assert not conflicting("Halvard Capital sells 4,210 BTC", "Halvard offloads 4,210 bitcoin")


def test_other_names_in_a_frame_of_two_shared_words() -> None:
    # ``pairs.FRAME_WORDS``: two shared content words ("Trevik", "lists") make a frame (three let this pair through)
    assert conflicting("Trevik lists QOZAR", "Trevik lists WUMPEX")
    assert conflicting("Trevik delists QOZAR perpetuals", "Trevik delists WUMPEX perpetuals")
    assert not conflicting("Trevik lists QOZAR", "Trevik lists QOZAR - Coindesk")  # a site suffix, no other name
    assert not conflicting("Trevik lists QOZAR", "Trevik halts QOZAR deposits")  # another act, not another name


def test_other_names_spanning_words_the_vocabulary_knows() -> None:
    # in a sentence-case headline capitals mark names, even names of common words ("Drell Pay", "Deutsche Bank")
    assert conflicting("the DOJ sues Drell Pay over custody failures", "the DOJ sues Kraken over custody failures")
    assert conflicting("Deutsche Bank files for spot Solana ETF", "Kraken files for spot Solana ETF")
    assert conflicting(
        "Nomura and Vesk Bank announce a payments card tie-up",
        "Binance and Standard Chartered announce a payments card tie-up",
    )
    # a name one side adds is no other name; a sentence's first word is capitalised whatever it is
    assert not conflicting("Tomas Vale speaks to the summit from Lisbon", "Vale speaks to the summit")
    assert not conflicting("Attackers drain $44 million from Norvik", "Hackers drain $44 million from Norvik")
    # in a title-case headline capitals mark nothing: only words nearly outside the vocabulary are names
    assert not conflicting("Central Bank Moves Quickly on Forex Rules", "Central Bank Moves Quickly on Trading Rules")


def test_signals_act_and_figures() -> None:
    assert action_keys("Halvard Capital sells 4,210 BTC") == {"sell"}
    assert "hack" in action_keys("Attackers drain $70M from Norvik")
    assert "rule" not in action_keys("Bank of Italy study on stablecoins")  # "Bank" is not "ban"
    assert number_keys("Strategy sells 1,638 BTC") == number_keys("1,638 bitcoin sold by Strategy in 2026")


def test_one_pass_for_the_acts_finds_what_one_search_per_act_finds(corpus: Path) -> None:
    """``action_keys`` matches every kind in one pass; on every headline of the corpus it finds what a search per
    kind finds (read at test time, never copied)."""
    import csv
    import re

    from newsroom.dedupe.features import _ACTIONS, _fold

    titles = []
    for name in ("events/crypto_events_dev.csv", "dedup/uci_news_dev.csv", "sentiment/cryptolin_dev.csv"):
        with open(corpus / name, encoding="utf-8") as f:
            titles += [row.get("headline") or row.get("TITLE") or "" for row in csv.DictReader(f)]
    one_each = [(n, re.compile(r"\b(?:" + stems + ")", re.I)) for n, stems in _ACTIONS.items()]
    assert len(titles) > 1000
    for title in titles:
        assert action_keys(title) == {n for n, p in one_each if p.search(_fold(title))}, title


MIXED = [
    *ONE_SALE,
    (0.2, "coindesk", "Paradigm leads $40 million Series A for Nexa Labs"),
    (0.4, "decrypt", "Nexa Labs raises $40M in Series A round led by Paradigm"),
    (1.0, "theblock", "Hackers drain $70 million from Norvik hardware wallets"),
    (1.5, "coindesk", "Norvik wallet exploit losses reach $70 million"),
    (2.0, "invezz", "XRP price prediction: bulls eye $3 as ETF demand builds"),
    (2.0, "coinpedia", "XRP Price Prediction: Will XRP reach $3 this week?"),
    (3.0, "decrypt", "Binance founder CZ urges users to spread funds across wallets after Norvik hack"),
    (3.0, "cointelegraph", "Kenya passes crypto tax law"),
]


def _partition(labels: list[int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def test_the_same_items_give_the_same_stories_in_any_order_and_chunking() -> None:
    emb = default_embedder()
    docs = [
        Doc(title=t, published=T0 + h * HOUR, source=src, url=f"https://{src}.example/{i}", external_id=str(i))
        for i, (h, src, t) in enumerate(MIXED)
    ]
    vecs = emb.embed([d.title for d in docs])
    expected = _partition(cluster(docs, vecs))
    rng = random.Random(3)
    for chunk in (1, 3, 5, 100):
        perm = list(range(len(docs)))
        rng.shuffle(perm)
        labels = cluster([docs[i] for i in perm], vecs[perm], chunk=chunk)
        assert _partition([labels[perm.index(i)] for i in range(len(docs))]) == expected
    # a stream in batches (as polls bring them), each batch shuffled, gives the stories of the whole at once
    order = sorted(range(len(docs)), key=lambda i: docs[i].order)
    for size in (2, 4, 7):
        index = StoryIndex(emb.dim)
        names = iter(range(10_000))
        got: dict[int, int] = {}
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            rng.shuffle(batch)
            matches: list[Match] = index.assign(
                [docs[i] for i in batch], lambda pos, b=batch: vecs[[b[p] for p in pos]], names.__next__
            )
            got.update((i, m.story_id) for i, m in zip(batch, matches, strict=True))
        assert _partition([got[i] for i in range(len(docs))]) == expected


def test_an_embedding_process_overlapping_the_clustering_gives_the_same_stories() -> None:
    """``cluster`` with a ``ProcessEmbedder`` embeds chunk k + 1 while it assigns chunk k, its copies foreseen
    before chunk k is added: what is embedded is a guess, the stories are those of the chunks in turn."""
    docs = [
        Doc(title=t, published=T0 + h * HOUR, source=src, url=f"https://{src}.example/{i}", external_id=str(i))
        for i, (h, src, t) in enumerate(MIXED)
    ]
    # copies across chunks: the same link again, a " - Site" near-copy, a syndicated headline from another site
    docs += [
        Doc(title=d.title, published=d.published + 5 * HOUR, source="mirror", url=d.url, external_id=f"u{i}")
        for i, d in enumerate(docs[:4])
    ]
    docs += [
        Doc(title=f"{d.title} - Wire", published=d.published + 7 * HOUR, source="wire", external_id=f"w{i}")
        for i, d in enumerate(docs[2:8])
    ]
    for chunk in (3, 5, 100):
        serial = cluster(docs, HashingEmbedder(), chunk=chunk)
        with ProcessEmbedder(HashingEmbedder, dim=HashingEmbedder().dim) as embedder:
            assert cluster(docs, embedder, chunk=chunk) == serial


def _csv(path: Path, rows: list[tuple[str, str, str, str, int]]) -> Path:
    lines = ["ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP"]
    for i, (title, url, publisher, story, ts) in enumerate(rows):
        lines.append(f'{i},"{title}",{url},{publisher},b,{story},x,{ts}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_reports_events_lost_and_duplicate_articles(tmp_path: Path) -> None:
    ms = int(T0 * 1000)
    rows = [
        # one link labelled as two events: the clusterer must join them (same URL), so one event has no article
        ("Halvard Capital sells 4,210 BTC", "https://a.example/1", "A", "sale", ms),
        ("Halvard Capital sells 4,210 BTC (updated)", "https://a.example/1", "B", "other", ms + 60_000),
        # one event in two unrelated headlines: two articles on it
        ("Kenya passes crypto tax law", "https://c.example/1", "C", "kenya", ms + 120_000),
        ("Ethereum developers set date for Pectra upgrade", "https://d.example/1", "D", "kenya", ms + 180_000),
    ]
    result = eval_dedupe(_csv(tmp_path / "small.csv", rows))
    assert result["clusters"] == 3 and result["events"] == 3
    assert result["events_lost"] == 1 and result["duplicate_articles"] == 1
    assert np.isclose(result["bcubed_precision"], (0.5 + 0.5 + 1 + 1) / 4)


TRAINING_ROWS = [  # (hours after T0, publisher, story, headline): invented, two days, five events of two reports
    (0.0, "A", "sale", "Halvard Capital sells 4,210 BTC worth $262 million"),
    (0.5, "B", "sale", "Halvard Capital dumps $262M in bitcoin"),
    (1.0, "C", "hack", "Attackers drain $44 million from Norvik bridge"),
    (1.4, "D", "hack", "Norvik loses $44 million to hackers, pauses deposits"),
    (2.0, "A", "law", "Kenya passes crypto tax law"),
    (3.0, "E", "upgrade", "Ethereum developers set date for Pectra upgrade"),
    (25.0, "B", "listing", "Trevik to list QOZAR token next week"),
    (25.6, "C", "listing", "Trevik adds trading support for QOZAR"),
    (26.0, "D", "suit", "The DOJ sues Drell Pay over custody failures"),
    (26.5, "E", "suit", "Drell Pay faces DOJ lawsuit over custody failures"),
    (27.0, "A", "fund", "Vesk Labs raises $12 million in a seed round"),
    (27.2, "B", "fund", "Vesk Labs closes $12 million seed round"),
    (28.0, "C", "etf", "Nomura files for spot Solana ETF"),
]


def test_the_training_script_writes_weights_outside_the_repository(tmp_path: Path) -> None:
    """``scripts/train_event_pairs.py --out`` outside the repository: the weights are written and the path printed as
    given (it crashed after saving); ``--positive-power`` weights the same-event pairs."""
    import json
    import os
    import subprocess
    import sys

    from newsroom.dedupe.pairs import PairModel

    ms = int(T0 * 1000)
    rows = [
        (t, f"https://{p.lower()}.example/{i}", p, story, ms + int(h * 3_600_000))
        for i, (h, p, story, t) in enumerate(TRAINING_ROWS)
    ]
    csv = _csv(tmp_path / "small.csv", rows)
    script = Path(__file__).resolve().parent.parent / "scripts" / "train_event_pairs.py"
    out = tmp_path / "weights.npz"
    env = os.environ | {"PYTHONPATH": str(script.parent.parent / "src")}
    runs = []
    for power in ("0", "1"):
        done = subprocess.run(
            [sys.executable, str(script), "--csv", str(csv), "--out", str(out), "--positive-power", power],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        assert runs[-1]["written"] == str(out)
        assert PairModel.load(out).coef.shape == (len(pairs.FEATURES),)
    assert runs[0]["coefficients"]["intercept"] < runs[1]["coefficients"]["intercept"]  # positives weigh more


def test_a_dense_story_takes_a_member_the_mean_alone_would_leave_out(corpus: Path) -> None:
    """The dense path: a story holding four or more of an item's twelve nearest members (one of them at p >= 0.4)
    joins at a mean of 0.1. On UCI's topic-level dev file (read at test time) it joins more of each topic while
    keeping nearly all of the precision; turned off (``dense_members=0``) the file splits into more stories."""
    from newsroom.dedupe.cluster import ClusterParams
    from newsroom.dedupe.metrics import bcubed
    from newsroom.evaluate import read_dedupe_csv

    docs, gold = read_dedupe_csv(corpus / "dedup" / "uci_news_dev.csv")
    vectors = default_embedder().embed([d.title for d in docs])
    off = cluster(docs, vectors, ClusterParams(dense_members=0))
    on = cluster(docs, vectors, ClusterParams())
    assert len(set(on)) < len(set(off)) - 10
    p_off, r_off, _ = bcubed(off, gold)
    p_on, r_on, _ = bcubed(on, gold)
    assert r_on > r_off + 0.02 and p_on > p_off - 0.01


def test_the_cheap_paths_compute_what_the_plain_ones_do(corpus: Path) -> None:
    """The clusterer's shortcuts on every headline of the corpus: the headline keys from one pass over the words
    equal those of one pass per part (main clause, frame without a site suffix), the figures and amounts from one
    parse equal a parse each, and a MinHash indexed under two thresholds gets each index's own bands."""
    import csv

    from newsroom.dedupe.cluster import BandIndex
    from newsroom.dedupe.features import DEAL_SIZE, NUM_PERM, amount_keys, minhash, shingles
    from newsroom.dedupe.sketch import MinHash, signatures
    from newsroom.guards.numbers import quantities

    titles = []
    for name in ("events/crypto_events_dev.csv", "dedup/uci_news_dev.csv"):
        with open(corpus / name, encoding="utf-8") as f:
            titles += [row["TITLE"] for row in csv.DictReader(f)]
    for title in titles:
        words, main, *_, frame, _names = pairs._text_keys(title)
        assert words == pairs._words(title)
        assert main == pairs._words(pairs._SUBORDINATE.split(title, maxsplit=1)[0])
        assert frame == pairs._sequence(pairs._SITE_SUFFIX.sub("", title))
        parsed = quantities(title, "en")
        assert amount_keys(title) == {
            f"#{q.unit}:{v:.1e}" for q in parsed if q.unit not in (None, "%") for v in q.values if v >= DEAL_SIZE
        }
    mh = minhash(titles[0])
    assert mh is not None
    loose, strict = BandIndex(0.6, NUM_PERM), BandIndex(0.9, NUM_PERM)
    loose.insert("a", mh)
    strict.insert("a", mh)
    # a MinHash of the same text that is not the remembered object (no band keys kept on it)
    fresh = signatures([shingles(titles[0])], MinHash(num_perm=NUM_PERM, seed=1))[0]
    assert loose.query(fresh) == strict.query(fresh) == {"a"}
    assert len(loose._hashes(mh)) != len(strict._hashes(mh))
