"""Faithfulness beyond surface grounding: an offline consistency scorer over sentence alignments.

Each sentence of a text is aligned to the source window (two neighbouring sentences) that covers most of its content
words. The scorer reads what that alignment leaves unsupported: the share of content words the source lacks (over the
text and in its worst sentence), how well the best window covers each sentence (mean and worst), neighbouring content
words that never occur together in one source window (a wrong relation or predicate between grounded words: "X beat
Y" when the source has Y beat X's neighbour), and numbers and capitalised names the source lacks. Beside them: how
extractive the text is (the share of its word trigrams the source lacks, and the density of the fragments it copies,
Grusky et al. 2018), so that one threshold serves abstractive and extractive summaries; the number of distinct novel
content words, and of novel words the English lexicon lacks (a misspelt or invented name in lower-cased text:
"gustsson"); in the worst sentence, the share of all its grounded word pairs, not just neighbours, never together in a
source window; sentences whose negation differs from their best source window's; repeated word pairs. A logistic
regression turns them into the probability that the text states something the source does not support.

The weights are ``newsroom/data/faithfulness.json``, trained by ``scripts/train_faithfulness.py`` on
``frank_dev.jsonl`` (grouped cross-validation by source article; the script prints the figures the README quotes).
No model, no network: the standard library and simplemma's English lexicon. Placeholder tokens (``UNK``, ``<unk>``)
and list markers are ignored.

Where it runs: only where the text and its source share a language, and only on fields that report facts (the
description, overview and section bodies; not the opinion fields). It is on for summaries (``newsroom eval guards``)
and off by default for written articles (``guards.faithfulness``): it is calibrated on summaries, whose faithful
ones keep the source's words, and a newsroom article is a paraphrase by design (the originality guard demands it) -
on the test fixtures' faithful article it scores about the threshold. With a real model, ``guards.judge`` is the
faithfulness check for articles (``guards.judge``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from .base import Fields, Finding, GuardContext

# Fields that report the source's facts (the rest are commentary, which the prompt asks for).
FACT_FIELDS = ("description", "overview", "intro", "paragraph")
_PLACEHOLDER = re.compile(r"<unk>|\[unk\]|\bunk\b", re.I)
_LIST_MARKER = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s+")
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|\d+(?:[.,]\d+)*", re.UNICODE)


def _split_words(text: str) -> list[str]:
    return text.split()


STOPWORDS = frozenset(
    _split_words(
        """
        a an the and or but if then than that this these those there here of in on at to for from by with
        without about as into onto over under after before during since until while between among through is
        are was were be been being am do does did done has have had having will would shall should can could
        may might must it its it's he she they them their theirs his her hers him we us our you your i me my
        mine who whom whose which what when where why how not no nor so too very also just only even still yet
        all any both each few more most other some such own same s t said says say told according one ''
        """
    )
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("’", "'")


@lru_cache(maxsize=1 << 16)  # bounded: the words come from feed and model text
def _stem(word: str) -> str:
    """A crude English stem, enough to match ``rising``/``rise`` and ``banks``/``bank``."""
    for suffix in ("ingly", "edly", "ings", "ing", "ies", "ied", "ed", "es", "ly", "'s", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:7]


def _clean(text: str) -> str:
    """Placeholder tokens and list markers out: a gap or a "1." states nothing."""
    return _PLACEHOLDER.sub(" ", _LIST_MARKER.sub(" ", text))


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(_fold(_clean(text)))]


def _content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS and len(t) > 1]


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENT.split(_LIST_MARKER.sub("", text))) if _TOKEN.search(s)]


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


_NEGATION = frozenset(_split_words("not no never nobody none nothing neither nor without cannot"))


def _words(text: str) -> list[str]:
    """Folded words, unstemmed: the units of copied fragments and trigrams."""
    return _TOKEN.findall(_fold(_clean(text)))


def _negated(words: list[str]) -> bool:
    return any(w in _NEGATION or w.endswith("n't") for w in words)


@dataclass
class _Source:
    """A source's content words, its sentence windows' content words (and whether each has a negation), its numbers,
    its words in order (where each occurs) and its word trigrams."""

    content: set[str]
    windows: list[set[str]]
    numbers: set[str]
    negated: list[bool]
    words: list[str]
    trigrams: set[tuple[str, str, str]]
    positions: dict[str, list[int]]

    @classmethod
    def of(cls, text: str) -> _Source:
        parts = sentences(text)
        sents = [set(_content(_tokens(s))) for s in parts]
        # windows of two sentences: a relation may span a sentence break ("He … . The firm he runs …")
        windows = [a | b for a, b in itertools.pairwise(sents)] or sents
        negs = [_negated(_words(s)) for s in parts]
        negated = [a or b for a, b in itertools.pairwise(negs)] or negs
        numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
        words = _words(text)
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            positions.setdefault(w, []).append(i)
        trigrams = set(zip(words, words[1:], words[2:], strict=False))
        return cls(set(_content(_tokens(text))), windows, numbers, negated, words, trigrams, positions)

    def fragments(self, words: list[str]) -> list[int]:
        """The lengths of the longest source fragments that ``words`` copies, read greedily left to right."""
        out, i = [], 0
        while i < len(words):
            best = 0
            for j in self.positions.get(words[i], ()):
                k = 1
                while i + k < len(words) and j + k < len(self.words) and words[i + k] == self.words[j + k]:
                    k += 1
                best = max(best, k)
            if best:
                out.append(best)
            i += max(1, best)
        return out


@lru_cache(maxsize=1 << 16)
def _english_word(word: str) -> bool:
    import simplemma

    return bool(simplemma.is_known(word, lang="en"))


FEATURES = (
    "novel_content",
    "worst_sentence_novelty",
    "mean_alignment",
    "worst_alignment",
    "novel_pairs",
    "novel_numbers",
    "novel_names",
    "novel_trigrams",
    "copy_density",
    "novel_words",
    "unknown_words",
    "worst_pair_novelty",
    "negation_mismatch",
    "repeats",
)


def features(summary: str, source: str | _Source) -> list[float]:
    """The scorer's features of one text against its source (see ``FEATURES``)."""
    src = source if isinstance(source, _Source) else _Source.of(source)
    content = _content(_tokens(summary))
    if not content:
        return [0.0] * len(FEATURES)
    novelty, alignment = [], []
    pairs = novel_pairs = negation_mismatch = 0
    worst_pairs = 0.0
    for s in sentences(summary) or [summary]:
        words = _content(_tokens(s))
        if not words:
            continue
        novelty.append(sum(w not in src.content for w in words) / len(words))
        overlaps = [len(set(words) & w) for w in src.windows]
        alignment.append(max(overlaps, default=0) / len(set(words)))
        if overlaps:  # a "not" the best window lacks, or the reverse
            negation_mismatch += _negated(_words(s)) != src.negated[overlaps.index(max(overlaps))]
        known = list(dict.fromkeys(w for w in words if w in src.content))
        for a, b in itertools.pairwise(known):  # who did what: neighbouring content words, together in the source?
            pairs += 1
            novel_pairs += not any(a in w and b in w for w in src.windows)
        combos = list(itertools.combinations(known, 2))  # and every pair of the sentence's grounded words
        if combos:
            apart = sum(not any(a in w and b in w for w in src.windows) for a, b in combos)
            worst_pairs = max(worst_pairs, apart / len(combos))
    names = {m.group(0) for m in _NAME.finditer(summary)}
    numbers = {n.replace(",", "") for n in _NUMBER.findall(_clean(summary))}
    raw = _words(summary)
    trigrams = list(zip(raw, raw[1:], raw[2:], strict=False))
    bigrams = list(itertools.pairwise(raw))
    novel = {w for w in raw if w not in src.positions}
    distinct_novel = {t for t in content if t not in src.content}
    return [
        sum(t not in src.content for t in content) / len(content),
        max(novelty, default=0.0),
        sum(alignment) / max(1, len(alignment)),
        min(alignment, default=1.0),
        novel_pairs / max(1, pairs),
        float(len(numbers - src.numbers)),
        float(sum(1 for n in names if any(_stem(_fold(p)) not in src.content for p in n.split()))),
        sum(t not in src.trigrams for t in trigrams) / max(1, len(trigrams)),
        math.log1p(sum(f * f for f in src.fragments(raw)) / max(1, len(raw))),
        float(len(distinct_novel)),
        float(sum(1 for w in novel if w.isalpha() and not _english_word(w))),
        worst_pairs,
        float(negation_mismatch),
        float(len(bigrams) - len(set(bigrams))),
    ]


@dataclass(frozen=True)
class Scorer:
    """Standardised features → logistic regression → probability of an unsupported statement."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, x: list[float]) -> float:
        z = self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_json(cls, data: dict) -> Scorer:
        if list(data["features"]) != list(FEATURES):
            raise ValueError("faithfulness weights were trained on other features; rerun scripts/train_faithfulness.py")
        return cls(
            tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]),
            float(data["threshold"]),
        )  # fmt: skip


@cache
def default_scorer() -> Scorer:
    raw = resources.files("newsroom.data").joinpath("faithfulness.json").read_text(encoding="utf-8")
    return Scorer.from_json(json.loads(raw))


def check_faithfulness(fields: Fields, ctx: GuardContext) -> list[Finding]:
    if not ctx.faithfulness or ctx.is_translation or ctx.lang != ctx.source_lang or ctx.lang != "en":
        return []
    scorer = default_scorer()
    src = _Source.of(ctx.source + "\n" + ctx.extra_grounding)
    out = []
    for name, text in fields:
        if not name.startswith(FACT_FIELDS) and not name.endswith(".body"):
            continue
        p = scorer.probability(features(text, src))
        if p >= scorer.threshold:
            out.append(Finding("unfaithful", name, f"the source does not support it (score {p:.2f})"))
    return out
