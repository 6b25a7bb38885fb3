"""Offline sentiment: the story's likely effect on the crypto market, without the language model.

A multinomial logistic regression over two feature groups: the headline's all-MiniLM-L6-v2 sentence embedding
(``embeddings.py``) and five counts from a small hand-written market lexicon below (up/down words). Its weights
(``data/sentiment_lr.npz``: coefficients, intercepts, classes, the cross-validated figure; no corpus text) are
trained reproducibly by ``scripts/train_sentiment.py`` from ``../shared/corpus/sentiment/cryptolin_dev.csv``.

The article's sentiment combines this classifier with the model's own label (``combine``):
1. the classifier's label when its probability is at least ``CONFIDENT`` (0.55);
2. otherwise the model's label when it is one of the classifier's two most probable labels;
3. otherwise the classifier's label.
So a confident classifier is never overruled by a model that may be a tiny base model, and a hesitant one defers to
a model that agrees with its runner-up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .embeddings import Embedder, default_embedder

log = logging.getLogger(__name__)

LABELS = {-1: "NEGATIVE", 0: "NEUTRAL", 1: "POSITIVE"}
CONFIDENT = 0.55
WEIGHTS_FILE = "sentiment_lr.npz"

UP_WORDS = frozenset(
    [
        "surge",
        "surges",
        "surged",
        "soar",
        "soars",
        "soared",
        "rally",
        "rallies",
        "rallied",
        "jump",
        "jumps",
        "jumped",
        "gain",
        "gains",
        "gained",
        "rise",
        "rises",
        "rose",
        "climb",
        "climbs",
        "climbed",
        "record",
        "high",
        "highs",
        "bullish",
        "boost",
        "boosts",
        "boosted",
        "launch",
        "launches",
        "launched",
        "partner",
        "partners",
        "partnership",
        "raise",
        "raises",
        "raised",
        "funding",
        "invest",
        "invests",
        "investment",
        "adopt",
        "adopts",
        "adoption",
        "approve",
        "approves",
        "approved",
        "approval",
        "win",
        "wins",
        "won",
        "growth",
        "grow",
        "grows",
        "expand",
        "expands",
        "expansion",
        "upgrade",
        "upgrades",
        "recover",
        "recovers",
        "recovery",
        "rebound",
        "rebounds",
        "support",
        "backs",
        "integrate",
        "integrates",
        "secures",
        "secured",
        "milestone",
        "breakout",
        "buy",
        "buys",
        "acquire",
        "acquires",
        "acquisition",
        "outperform",
        "profit",
        "profits",
        "success",
        "successful",
    ]
)
DOWN_WORDS = frozenset(
    [
        "crash",
        "crashes",
        "crashed",
        "plunge",
        "plunges",
        "plunged",
        "drop",
        "drops",
        "dropped",
        "fall",
        "falls",
        "fell",
        "slump",
        "slumps",
        "slumped",
        "tumble",
        "tumbles",
        "tumbled",
        "sink",
        "sinks",
        "sank",
        "decline",
        "declines",
        "declined",
        "loss",
        "losses",
        "lose",
        "loses",
        "lost",
        "bearish",
        "hack",
        "hacked",
        "hacks",
        "exploit",
        "exploited",
        "stolen",
        "steal",
        "theft",
        "scam",
        "scams",
        "fraud",
        "fraudulent",
        "ban",
        "bans",
        "banned",
        "lawsuit",
        "sue",
        "sues",
        "sued",
        "charges",
        "charged",
        "arrest",
        "arrested",
        "probe",
        "investigation",
        "investigate",
        "warns",
        "warning",
        "warn",
        "risk",
        "risks",
        "crackdown",
        "fine",
        "fined",
        "penalty",
        "bankrupt",
        "bankruptcy",
        "collapse",
        "collapses",
        "collapsed",
        "liquidation",
        "liquidated",
        "layoffs",
        "cut",
        "cuts",
        "halt",
        "halts",
        "halted",
        "suspend",
        "suspends",
        "suspended",
        "delist",
        "delists",
        "outflows",
        "selloff",
        "sell-off",
        "fear",
        "fears",
        "concern",
        "concerns",
        "fail",
        "fails",
        "failed",
        "failure",
        "rug",
        "attack",
        "attacks",
        "vulnerability",
        "breach",
        "lows",
        "low",
        "worst",
        "dump",
        "dumps",
    ]
)
_WORDS = re.compile(r"[a-z\-]+")


def lexicon_features(headline: str) -> list[float]:
    """[up count, down count, up − down, any up, any down]."""
    words = _WORDS.findall(headline.lower())
    up = sum(w in UP_WORDS for w in words)
    down = sum(w in DOWN_WORDS for w in words)
    return [float(up), float(down), float(up - down), float(up > 0), float(down > 0)]


def features(headlines: Sequence[str], embedder: Embedder) -> np.ndarray:
    """The classifier's input: embedding ‖ lexicon counts, one row per headline."""
    emb = embedder.embed(list(headlines))
    lex = np.array([lexicon_features(h) for h in headlines], dtype=np.float32).reshape(len(headlines), 5)
    return np.hstack([emb, lex])


@dataclass(frozen=True)
class Weights:
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    classes: np.ndarray  # label values, e.g. [-1, 0, 1]
    cv_macro_f1: float


@lru_cache(maxsize=1)
def load_weights() -> Weights:
    ref = resources.files("newsroom.data").joinpath(WEIGHTS_FILE)
    with resources.as_file(ref) as path, np.load(path) as data:
        return Weights(
            coef=data["coef"].astype(np.float32),
            intercept=data["intercept"].astype(np.float32),
            classes=data["classes"].astype(np.int64),
            cv_macro_f1=float(data["cv_macro_f1"]),
        )


def probabilities(x: np.ndarray, weights: Weights) -> np.ndarray:
    """Softmax of the linear scores: one row of class probabilities per feature row."""
    z = x @ weights.coef.T + weights.intercept
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    label: str  # POSITIVE | NEUTRAL | NEGATIVE
    value: int  # 1 | 0 | -1
    confidence: float
    ranked: tuple[str, ...]  # labels, most probable first


def prefetch(headlines: Sequence[str]) -> None:
    """Embed ``headlines`` now (one batch) so that later ``predict`` calls on them are cache hits. Never raises:
    a failure here is met again, and reported, by the ``predict`` that needs the vectors."""
    try:
        default_embedder().embed(list(headlines))
    except Exception:
        log.debug("sentiment prefetch failed", exc_info=True)


def predict(headlines: Sequence[str], embedder: Embedder | None = None) -> list[Prediction]:
    """Offline sentiment of each headline."""
    if not headlines:
        return []
    weights = load_weights()
    probs = probabilities(features(headlines, embedder or default_embedder()), weights)
    out = []
    for row in probs:
        order = np.argsort(-row)
        ranked = tuple(LABELS[int(weights.classes[i])] for i in order)
        value = int(weights.classes[order[0]])
        out.append(Prediction(LABELS[value], value, float(row[order[0]]), ranked))
    return out


def combine(offline: Prediction, model_label: str | None) -> str:
    """The article's sentiment from the offline prediction and the model's label (rule in the module docstring)."""
    model = (model_label or "").upper()
    if offline.confidence >= CONFIDENT or model not in LABELS.values():
        return offline.label
    return model if model in offline.ranked[:2] else offline.label
