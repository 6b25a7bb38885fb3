"""The article fields decided without trusting the model alone: category, tags, sentiment and score.

One pure-ish function for the pipeline: it combines the model's proposals (``WrittenArticle``) with the offline
classifiers (asset detection, tag normalisation, category rule, offline sentiment) and the story's signals (distinct
sources, recency, source weight, asset weight). See classify.py, sentiment.py and score.py for each rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .assets import asset_weight, detect_assets
from .classify import article_tags, pick_category
from .score import story_score
from .sentiment import combine, predict


def article_fields(
    *,
    headline: str,
    text: str,
    source_categories: list[str],
    model_category: str,
    model_tags: list[str],
    model_sentiment: str,
    model_importance: int,
    distinct_sources: int,
    published: datetime,
    source_weight: float,
    taxonomy: list[str],
    default_category: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``category``, ``tags``, ``sentiment`` and ``score`` for the pivot article of a story."""
    tags = article_tags(headline=headline, text=text, model_tags=model_tags, source_categories=source_categories)
    category = pick_category(
        headline=headline, text=text, tags=tags, proposed=model_category, taxonomy=taxonomy, default=default_category
    )
    offline = predict([headline])[0]
    score = story_score(
        importance=model_importance,
        distinct_sources=distinct_sources,
        published=published,
        asset_weight=asset_weight(detect_assets(f"{headline}\n{text}")),
        source_weight=source_weight,
        now=now,
    )
    return {"category": category, "tags": tags, "sentiment": combine(offline, model_sentiment), "score": score}
