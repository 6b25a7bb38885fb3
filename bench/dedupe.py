"""Benchmark: incremental same-story clustering of 100,000 synthetic items (generated here, seeded).

The generator writes a year of crypto news from seven sites: about 30,000 events of nine kinds (raises, hacks,
listings, lawsuits, ETF filings, price moves, partnerships, upgrades, laws), each with three phrasings filled with the
event's own names, amounts and numbers, covered by 1-8 sources as exact copies, near-copies (a suffix) and
paraphrases. Two events never share what makes each that event (``KEYS``: the firm, the regulator and the charge of
a lawsuit; the issuer and the asset of an ETF filing; the jurisdiction and the topic of a law …) nor any headline, as
two real events do not: the firms are the well-known ones or, as often, invented smaller ones, and a kind whose pool
is used up gives way to the others (laws, about 450 a year). One asset's price moves are a day apart at least. The
items are clustered in publication order by ``dedupe.cluster`` exactly as ``newsroom eval dedupe`` does: copies of
earlier items join without being embedded, the rest are embedded in chunks, here by a child process
(``embeddings.ProcessEmbedder``) that embeds each chunk while the chunk before it is clustered, so the two share the
cores (the same stories; ``--in-process`` embeds in this process, one chunk after another, as the eval does).

Embeddings: ``--embedder minilm`` (default) uses the production all-MiniLM-L6-v2 model (on 2 cores about 300
headlines/s in float32, 800-1,400 under bfloat16 autocast); ``--embedder hashing`` uses the lexical
``HashingEmbedder`` to measure the clustering machinery alone, and also times MiniLM on a sample to project its cost.
Same-kind events of one week still read alike (two suits by one regulator over one charge), which is what the
clustering is measured on. Prints a table (wall seconds by the bench's clock and CPU seconds of all threads, by phase,
with the 1-minute load average before and after: on a shared machine the CPU seconds are the figure to compare; with
the child process, its CPU seconds are the embedding's and its peak RSS is beside this process's);
writes bench/results/dedupe.json (gitignored).

    .venv/bin/python bench/dedupe.py [--n 100000] [--embedder hashing|minilm] [--in-process] [--threads N]
        [--sample 2000]
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import os
import random
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from newsroom.dedupe.cluster import Doc, cluster  # noqa: E402
from newsroom.dedupe.metrics import bcubed, pairwise  # noqa: E402
from newsroom.embeddings import Embedder, HashingEmbedder, MiniLMEmbedder, ProcessEmbedder  # noqa: E402
from newsroom.text import fingerprint  # noqa: E402

ASSETS = ["Bitcoin", "Ether", "Solana", "XRP", "Dogecoin", "Cardano", "Chainlink", "Polkadot", "Avalanche", "Tron"]
COMPANIES = ["BlackRock", "Fidelity", "Coinbase", "Binance", "Kraken", "MicroStrategy", "Tether", "Circle",
             "Grayscale", "Robinhood", "JPMorgan", "Ripple", "Galaxy Digital", "Bitwise", "VanEck",
             "Franklin Templeton", "Stripe", "PayPal", "Visa", "Deutsche Bank", "Standard Chartered", "Nomura",
             "Revolut", "OKX"]  # fmt: skip
REGULATORS = ["the SEC", "the CFTC", "the FCA", "the ECB", "BaFin", "the DOJ", "the New York AG", "Singapore's MAS"]
INVESTORS = ["a16z crypto", "Paradigm", "Pantera Capital", "Sequoia", "Coinbase Ventures", "Polychain", "Dragonfly",
             "Multicoin", "Framework Ventures", "Electric Capital"]  # fmt: skip
COUNTRIES = ["Brazil", "South Korea", "Japan", "Kenya", "Argentina", "Turkey", "Australia", "Canada", "India", "Poland",
             "Vietnam", "Nigeria", "Thailand", "the UAE", "Switzerland", "Hong Kong", "Singapore", "the UK", "Germany",
             "France", "Italy", "Spain", "Portugal", "Mexico", "Chile", "Colombia", "Peru", "South Africa", "Ghana",
             "Indonesia", "the Philippines", "Malaysia", "Pakistan", "Israel", "Georgia", "Ukraine", "Kazakhstan",
             "El Salvador", "Bahrain", "Texas", "Wyoming", "Arizona", "New Hampshire", "Florida", "Ohio"]  # fmt: skip
ISSUES = ["unregistered securities", "market manipulation", "misleading customers", "sanctions violations",
          "money laundering controls", "insider trading", "custody failures"]  # fmt: skip
REASONS = ["after ETF inflows", "as traders eye the Fed", "amid regulatory uncertainty", "on heavy volume",
           "as liquidations mount", "after a jobs report", "as stocks slide", "on whale buying"]  # fmt: skip
PRODUCTS = ["stablecoin payments", "tokenized deposits", "cross-border settlement", "crypto custody",
            "an on-chain fund", "a payments card", "staking services", "a tokenized treasury fund"]  # fmt: skip
TOPICS = ["stablecoin", "crypto tax", "exchange licensing", "anti-money-laundering", "crypto reserve", "CBDC",
          "crypto mining", "token offering", "crypto custody", "digital asset"]  # fmt: skip
FIRMS = ["Capital", "Digital", "Markets", "Asset Management", "Exchange", "Bank", "Pay", "Custody"]
SYLLABLES = ["zor", "bel", "qua", "nix", "tra", "vo", "len", "dri", "ka", "mon", "sel", "ux", "pha", "ri", "gon"]
# event kind -> paraphrases of one event (slots filled once per event)
KINDS = {
    "funding": ["{startup} raises {amount} in a {round} led by {investor}",
                "{investor} leads {amount} {round} for {startup}",
                "{startup} closes {amount} {round} with backing from {investor}"],
    "hack": ["{protocol} exploited for {amount} in {asset} bridge attack",
             "Attackers drain {amount} from {protocol}",
             "{protocol} loses {amount} to hackers, pauses deposits"],
    "listing": ["{exchange} to list {ticker} token next week",
                "{ticker} jumps {pct}% on {exchange} listing news",
                "{exchange} adds trading support for {ticker}"],
    "lawsuit": ["{regulator} sues {company} over {issue}",
                "{company} faces {regulator} lawsuit alleging {issue}",
                "{regulator} files complaint against {company}, citing {issue}"],
    "etf": ["{company} files for spot {asset} ETF",
            "{company} submits {asset} exchange-traded fund application",
            "Spot {asset} fund proposed by {company} in new filing"],
    "price": ["{asset} {move} {pct}% {reason}",
              "{asset} price {move2} {pct}% {reason}",
              "{asset} {move} to ${price} {reason}"],
    "partnership": ["{company} partners with {company2} on {product}",
                    "{company2} teams up with {company} for {product}",
                    "{company} and {company2} announce {product} tie-up"],
    "upgrade": ["{asset} developers set date for {upgrade} upgrade",
                "{upgrade} upgrade goes live on {asset} network",
                "{asset} schedules {upgrade} hard fork"],
    "law": ["{country} passes {topic} law",
            "Lawmakers in {country} approve {topic} bill",
            "{country} enacts new {topic} rules"],
}  # fmt: skip
# What makes an event that one event (LABELLING.md rule 3: other actors or other acts are other events). No two events
# of a run share it, as no two real events share their actors, object and figures; a kind whose pool of such
# particulars is used up gives way to another kind (a jurisdiction passes its stablecoin law once).
KEYS = {
    "funding": ("startup",),
    "hack": ("protocol",),
    "listing": ("exchange", "ticker"),
    "lawsuit": ("regulator", "company", "issue"),
    "etf": ("company", "asset"),
    "price": ("asset", "move", "pct", "reason"),
    "partnership": ("company", "company2", "product"),
    "upgrade": ("asset", "upgrade"),
    "law": ("country", "topic"),
}
MOVES = [("surges", "jumps"), ("falls", "slides"), ("rallies", "climbs"), ("tumbles", "drops")]
DAY = 86400.0
SOURCES = ["coindesk", "cointelegraph", "decrypt", "theblock", "blockworks", "cryptoslate", "bitcoinmagazine"]


def _name(rng: random.Random, suffixes: list[str]) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).title() + " " + rng.choice(suffixes)


def _company(rng: random.Random) -> str:
    """A well-known firm or, as often, one of the many smaller ones (an invented name)."""
    return rng.choice(COMPANIES) if rng.random() < 0.5 else _name(rng, FIRMS)


def _slots(rng: random.Random) -> dict[str, str]:
    """One event's particulars: every template of its kind is filled from the same values."""
    move, move2 = rng.choice(MOVES)
    company = _company(rng)
    company2 = _company(rng)
    while company2 == company:
        company2 = _company(rng)
    return {
        "startup": _name(rng, ["Labs", "Finance", "Network", "Protocol"]),
        "protocol": _name(rng, ["Finance", "Swap", "Protocol", "Bridge"]),
        "investor": rng.choice(INVESTORS),
        "amount": f"${rng.randint(2, 900)} million",
        "round": rng.choice(["seed round", "Series A", "Series B", "strategic round"]),
        "asset": rng.choice(ASSETS),
        "exchange": rng.choice(["Coinbase", "Binance", "Kraken", "OKX", "Bybit", "Upbit", "Bitstamp", "Gemini"]),
        "ticker": "".join(rng.choice("ABCDEFGHKLMNPRSTUVWXZ") for _ in range(rng.randint(3, 4))),
        "pct": str(rng.randint(3, 40)),
        "regulator": rng.choice(REGULATORS),
        "company": company,
        "company2": company2,
        "issue": rng.choice(ISSUES),
        "move": move,
        "move2": move2,
        "reason": rng.choice(REASONS),
        "price": f"{rng.randint(1, 120)},{rng.randint(0, 999):03d}",
        "product": rng.choice(PRODUCTS),
        "upgrade": _name(rng, ["", ""]).strip(),
        "country": rng.choice(COUNTRIES),
        "topic": rng.choice(TOPICS),
    }


def _key(kind: str, slots: dict[str, str]) -> tuple[str, ...]:
    values = [slots[k] for k in KEYS[kind]]
    if kind == "partnership":  # "A partners with B" and "B teams up with A" are one tie-up
        values[:2] = sorted(values[:2])
    return (kind, *values)


def _event(
    rng: random.Random,
    start: float,
    used: set[tuple[str, ...]],
    titles: set[str],
    moves: dict[str, list[float]],
    spent: set[str],
) -> tuple[list[str], dict[str, str]]:
    """A new event starting at ``start``: its kind's templates and particulars, neither its key (``KEYS``) nor any
    of its headlines shared with an earlier event of the run. An asset's price moves are a day apart at least: two
    reports of one asset's move within a day, at 3% and at 7%, report one move as it deepens, not two events."""
    kinds = [k for k in KINDS if k not in spent]
    while True:
        kind = rng.choice(kinds)
        for _ in range(30 if kind == "price" else 200):  # a price move: ten assets to try
            slots = _slots(rng)
            key = _key(kind, slots)
            filled = {t.format(**slots) for t in KINDS[kind]}
            if key in used or filled & titles:
                continue
            if kind == "price":
                starts = moves.setdefault(slots["asset"], [])
                at = bisect.bisect(starts, start)
                if any(abs(start - t) < DAY for t in starts[max(0, at - 1) : at + 1]):
                    continue
                starts.insert(at, start)
            used.add(key)
            titles.update(filled)
            return KINDS[kind], slots
        kinds.remove(kind)  # no more such events (price moves: none at this time)
        if kind != "price":
            spent.add(kind)  # its pool is used up


def generate(n: int, seed: int = 7) -> tuple[list[Doc], list[int]]:
    rng = random.Random(seed)
    docs: list[tuple[float, Doc, int]] = []
    used: set[tuple[str, ...]] = set()
    moves: dict[str, list[float]] = {}
    spent: set[str] = set()
    titles: set[str] = set()
    event = 0
    t0 = 1_765_000_000.0
    span = 365 * 86400  # a year of seven sites: about 85 events and 275 items a day
    while len(docs) < n:
        start = t0 + rng.random() * span
        templates, slots = _event(rng, start, used, titles, moves, spent)
        lead = rng.choice(templates)
        base = lead.format(**slots)
        for k in range(min(rng.choice([1, 1, 2, 2, 3, 4, 5, 8]), n - len(docs))):
            kind = rng.random()
            if k == 0 or kind < 0.25:
                title = base  # syndicated copy
            elif kind < 0.5:
                title = f"{base} - {rng.choice(SOURCES).title()}"  # near-copy
            else:
                title = rng.choice([t for t in templates if t != lead]).format(**slots)  # paraphrase
            source = SOURCES[(k + event) % len(SOURCES)]
            published = start + rng.random() * 6 * 3600
            url = f"https://{source}.example/{event}-{k}"
            doc = Doc(
                title=title,
                url=url,
                fingerprint=fingerprint(title, ""),
                published=published,
                source=source,
                external_id=f"{event}-{k}",
            )
            docs.append((published, doc, event))
        event += 1
    docs.sort(key=lambda d: d[0])
    return [d[1] for d in docs], [d[2] for d in docs]


class TimedEmbedder:
    """An embedder that counts the headlines it embeds and the time it takes. An embedder that ``overlaps`` is called
    on a second thread while the clustering runs: then the wall times of the phases add up to more than the run's, and
    its CPU seconds are the embedding process's (``cpu`` here, process-wide, would count the clustering's too)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.dim, self.seconds, self.cpu, self.count = inner, inner.dim, 0.0, 0.0, 0
        self.overlaps = getattr(inner, "overlaps", False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t, c = time.perf_counter(), time.process_time()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t
        self.cpu += time.process_time() - c
        self.count += len(texts)
        return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description="incremental clustering benchmark")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--embedder", choices=["hashing", "minilm"], default="minilm")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="embed in this process, one chunk after another (default: in a child process, overlapping the clustering)",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch's threads for MiniLM (default: torch's own)")
    ap.add_argument("--sample", type=int, default=2000, help="items embedded with MiniLM to project its cost")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dedupe.json")
    args = ap.parse_args()

    t = time.perf_counter()
    docs, gold = generate(args.n)
    gen_s = time.perf_counter() - t

    inner: Embedder = HashingEmbedder()
    if args.embedder == "minilm":
        factory = functools.partial(MiniLMEmbedder, threads=args.threads)
        inner = factory() if args.in_process else ProcessEmbedder(factory)
    embedder = TimedEmbedder(inner)
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    labels = cluster(docs, embedder)  # copies of earlier items are not embedded
    total_s = time.perf_counter() - started
    own_cpu = time.process_time() - cpu_started
    if isinstance(inner, ProcessEmbedder):
        inner.close()  # its CPU seconds count once it has ended
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = child.ru_utime + child.ru_stime - children.ru_utime - children.ru_stime  # with its start-up
    total_cpu = own_cpu + child_cpu
    embedding_cpu = child_cpu if embedder.overlaps else embedder.cpu
    load_after = os.getloadavg()[0]
    embed_s = embedder.seconds
    bp, _, bf = bcubed(labels, gold)
    _, _, pf = pairwise(labels, gold)

    minilm_rate = None
    if args.sample and args.embedder == "hashing":
        sample = [d.title for d in docs[: args.sample]]
        m = MiniLMEmbedder()
        m.embed(sample[:8])  # load the model outside the timing
        t = time.perf_counter()
        m.embed(sample[8:])
        minilm_rate = (len(sample) - 8) / (time.perf_counter() - t)
    result = {
        "items": len(docs),
        "embedder": args.embedder,
        "stories": len(set(labels)),
        "true_stories": len(set(gold)),
        "seconds_total": round(total_s, 2),
        "headlines_embedded": embedder.count,
        "seconds_embedding": round(embed_s, 2),  # on the embedding thread, overlapping the clustering
        "seconds_not_embedding": round(total_s - embed_s, 2),
        "cpu_seconds_total": round(total_cpu, 2),  # all threads: the figure to compare on a shared machine
        "cpu_seconds_embedding": round(embedding_cpu, 2),
        "cpu_seconds_clustering": round(total_cpu - embedding_cpu, 2),
        "load_average_1min": f"{load_before:.1f} -> {load_after:.1f}",
        "items_per_second": round(len(docs) / total_s, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),  # this process; the embedding process's is beside it
        "peak_rss_mb_embedding_process": round(child.ru_maxrss / 1024, 1) if embedder.overlaps else None,
        "bcubed_f1": round(bf, 4),
        "bcubed_precision": round(bp, 4),  # precision first: merging two events loses one
        "pairwise_f1": round(pf, 4),
        "generate_seconds": round(gen_s, 2),
        "minilm_headlines_per_second": round(minilm_rate, 1) if minilm_rate else None,
        "minilm_projected_seconds": round(embedder.count / minilm_rate + total_s - embed_s, 1) if minilm_rate else None,
        "goal": "<= 60 s and <= 1500 MB on 2 cores",
    }
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
