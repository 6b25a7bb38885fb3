"""The evaluation commands' work: read a labelled CSV, run the offline component, score it.

``newsroom eval sentiment --csv FILE``: columns ``headline`` and ``label`` (-1, 0, 1); the offline classifier only.
``newsroom eval dedupe --csv FILE``: UCI News Aggregator columns; rows clustered incrementally in TIMESTAMP order
exactly as the poll stage clusters items, scored against STORY; ``events_lost`` and ``duplicate_articles`` count what
the site would publish (one article per predicted story, written from its lead).
A file that cannot be used raises ``EvalInputError`` with a message naming the file, the row and the problem.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .dedupe.cluster import ClusterParams, Doc, cluster, lead
from .dedupe.metrics import articles, bcubed, pairwise
from .embeddings import Embedder, default_embedder
from .urls import canonical_url

SENTIMENT_COLUMNS = ("headline", "label")
DEDUPE_COLUMNS = ("TITLE", "URL", "PUBLISHER", "STORY", "TIMESTAMP")
LABEL_NAMES = {"-1": -1, "0": 0, "1": 1, "negative": -1, "neutral": 0, "positive": 1}


class EvalInputError(ValueError):
    """The evaluation file is missing, unreadable or not of the expected shape."""


@contextmanager
def _rows(path: Path, required: tuple[str, ...]) -> Iterator[Iterator[tuple[int, dict[str, str]]]]:
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise EvalInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise EvalInputError(f"{path} is not a readable CSV file: {exc}") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise EvalInputError(
                f"{path}: missing column(s) {', '.join(missing)}; found: {', '.join(header) or 'none'}"
            )

        def gen() -> Iterator[tuple[int, dict[str, str]]]:
            try:
                for row in reader:
                    yield reader.line_num, row
            except (csv.Error, UnicodeDecodeError) as exc:
                raise EvalInputError(f"{path} line {reader.line_num}: not valid CSV: {exc}") from None

        yield gen()


def read_sentiment_csv(path: Path) -> tuple[list[str], list[int]]:
    """Headlines and labels (-1, 0, 1) of a sentiment file."""
    headlines: list[str] = []
    labels: list[int] = []
    with _rows(path, SENTIMENT_COLUMNS) as rows:
        for line, row in rows:
            raw = (row.get("label") or "").strip().lower()
            label = LABEL_NAMES.get(raw.removesuffix(".0"))
            if label is None:
                raise EvalInputError(f"{path} line {line}: label {raw!r} is not one of -1, 0, 1")
            headline = (row.get("headline") or "").strip()
            if not headline:
                raise EvalInputError(f"{path} line {line}: empty headline")
            headlines.append(headline)
            labels.append(label)
    if not headlines:
        raise EvalInputError(f"{path}: no rows")
    return headlines, labels


def read_dedupe_csv(path: Path) -> tuple[list[Doc], list[str]]:
    """Documents in TIMESTAMP order and their gold STORY ids, from a UCI News Aggregator file."""
    rows: list[tuple[float, int, Doc, str]] = []
    with _rows(path, DEDUPE_COLUMNS) as reader:
        for line, row in reader:
            title = (row.get("TITLE") or "").strip()
            story = (row.get("STORY") or "").strip()
            if not title or not story:
                raise EvalInputError(f"{path} line {line}: empty TITLE or STORY")
            try:
                ts = float(row.get("TIMESTAMP") or "") / 1000.0
            except ValueError:
                raise EvalInputError(
                    f"{path} line {line}: TIMESTAMP {row.get('TIMESTAMP')!r} is not milliseconds since 1970"
                ) from None
            url = (row.get("URL") or "").strip()
            doc = Doc(
                title=title,
                url=canonical_url(url) if url else "",
                published=ts,
                source=row.get("PUBLISHER") or "",
                external_id=row.get("ID") or "",
            )
            rows.append((ts, len(rows), doc, story))
    if not rows:
        raise EvalInputError(f"{path}: no rows")
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows], [r[3] for r in rows]


def eval_sentiment(path: Path) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    from .sentiment import predict

    headlines, labels = read_sentiment_csv(path)
    started = time.perf_counter()
    pred = [p.value for p in predict(headlines)]
    seconds = time.perf_counter() - started
    return {
        "n": len(labels),
        "macro_f1": round(float(f1_score(labels, pred, average="macro", labels=[-1, 0, 1], zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(labels, pred)), 4),
        "seconds": round(seconds, 3),
    }


def story_leads(docs: list[Doc], pred: list[int]) -> list[int]:
    """The position of each predicted story's lead (``cluster.lead`` over its members in the order clustered)."""
    members: dict[int, list[int]] = {}
    for i in sorted(range(len(docs)), key=lambda i: docs[i].order):
        members.setdefault(pred[i], []).append(i)
    return [m[lead([docs[i] for i in m])] for m in members.values()]


def eval_dedupe(path: Path, embedder: Embedder | None = None, params: ClusterParams | None = None) -> dict[str, Any]:
    docs, gold = read_dedupe_csv(path)
    started = time.perf_counter()
    pred = cluster(docs, embedder or default_embedder(), params)
    seconds = time.perf_counter() - started
    pp, pr, pf = pairwise(pred, gold)
    bp, br, bf = bcubed(pred, gold)
    lost, duplicates = articles(gold, story_leads(docs, pred))
    return {
        "n": len(docs),
        "clusters": len(set(pred)),
        "pairwise_precision": round(pp, 4),
        "pairwise_recall": round(pr, 4),
        "pairwise_f1": round(pf, 4),
        "bcubed_precision": round(bp, 4),
        "bcubed_recall": round(br, 4),
        "bcubed_f1": round(bf, 4),
        "seconds": round(seconds, 3),
        "events": len(set(gold)),
        "events_lost": lost,
        "duplicate_articles": duplicates,
    }
