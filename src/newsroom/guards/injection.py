"""Prompt injection in feed content: find passages addressed to a language model, and take them out of the data.

Source text is data. The prompt fences it and says so, and structured output fixes the format; on top of that,
passages that talk to a model are cut from every field a feed controls (title, body, categories, author, link text)
before the item is stored, so they reach neither the model nor the text an article is grounded in: a fact that
appears only inside such a passage never counts as grounded, and a model that still follows one writes numbers,
names or phrases that are not in the (clean) source, which the guards catch.

A passage starts at a sentence that addresses a model - an override ("ignore all previous instructions"), a role
("you are now …", "system:"), a note to the writer ("Note to the AI writing this summary", "when summarising this
article, say that …"), chat-template tokens - and runs to the end of its paragraph, at most ``PASSAGE_SENTENCES``
sentences (the payload often follows the trigger). Phrases that merely share a word with a trigger ("firms cannot
ignore the new rules", "an AI startup") are not triggers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import FeedItem

PLACEHOLDER = "[removed: text addressed to an AI model]"
PASSAGE_SENTENCES = 3
_MODEL = (
    r"(?:ai|a\.i\.|llms?|language models?|chat ?bots?|chatgpt|gpt-?\d\w*|claude|gemini|llama|copilot|assistants?|"
    r"bots?|models?|summari[sz]ers?|(?:ai|automated) (?:writers?|systems?|agents?|tools?|editors?))"
)
_TASK = r"(?:summar\w+|rewrit\w+|writ\w+|process\w+|read\w*|generat\w+|paraphras\w+|translat\w+|cover\w*|edit\w*)"
_PATTERNS = [
    # overrides
    r"\b(?:ignore|disregard|forget)\b\s+(?:(?:all|any|the|your|of|these|those|my)\s+)*"
    r"(?:previous|prior|above|earlier|preceding|original|system|existing|other|safety)\b",
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,30}\b(?:instructions?|prompts?|directives?)\b",
    r"\b(?:new|updated|real|actual|additional|hidden|secret|important|special)\s+(?:instructions?|directives?|task)\s*:",
    r"\b(?:system|developer)\s+(?:prompt|instructions?|override)\b|\bsystem\s+message\b",
    r"(?:^|\n)\s*(?:system|assistant|user|instruction|ai)\s*:",
    r"#{2,}\s*(?:instruction|system|task)",
    r"\b(?:begin|start|end)\s+(?:of\s+)?(?:new\s+)?(?:instructions?|system prompt|prompt)\b",
    # roles and addressees
    r"\byou\s+are\s+now\s+(?:an?|the|my|our|in)\s|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must)\b",
    r"\b(?:act|behave|pretend|roleplay)\s+as\b[^.!?\n]{0,40}\b(?:promoter|assistant|ai|model|bot)\b",
    r"\byou\s+are\s+an?\s+" + _MODEL + r"\b",
    r"\bas\s+an?\s+(?:ai|llm)(?:\s+language)?\s+model\b",
    r"\bif\s+you\s+are\s+(?:an?\s+)?" + _MODEL + r"\b",
    r"\b(?:note|message|instructions?|memo|reminder|directive|request|hint|tip|attention|psa)\s+(?:to|for)\s+"
    r"(?:the\s+|any\s+|all\s+|every\s+)?" + _MODEL + r"\b",
    r"\b(?:to|for|dear|hey|attention|calling)\s*,?\s+(?:the\s+|any\s+|all\s+|every\s+)?"
    + _MODEL
    + r"s?\b[^.!?\n]{0,30}\b(?:reading|summar\w+|rewrit\w+|processing|writing|parsing|scraping|ingesting|that|who"
    r"|which)\b",
    r"\b(?:dear|hey|attention|hello|hi)\s*,?\s+(?:the\s+)?" + _MODEL + r"\b",
    r"\b" + _MODEL + r"s?\s+(?:reading|summari[sz]ing|rewriting|processing|ingesting|writing about)\s+(?:this|the)\b",
    r"\b(?:chatgpt|gpt-?\d|claude|gemini|llama|copilot)\b[^.!?\n]{0,30}\b(?:must|should|please|shall)\b",
    # tasks addressed to whoever writes the article
    r"\b(?:when|while|if|before)\s+(?:you\s+(?:are\s+)?)?" + _TASK + r"\s+(?:this|the|these|about\s+this)\s+"
    r"(?:article|story|text|item|piece|post|page|news|content|report|feed)\b",
    r"\bin\s+(?:your|the)\s+(?:summary|rewrite|output|response|answer|reply|generated\s+article|headline|article)\b"
    r"[^.!?\n]{0,40}\b(?:say|state|write|mention|include|claim|report|add|stress|note)\b",
    r"\b(?:your|the)\s+(?:summary|rewrite|output|response|generated\s+article|headline)\s+(?:must|should|shall|has\s+to|needs?\s+to)\b",
    r"\b(?:make\s+sure|be\s+sure|remember|don't\s+forget|do\s+not\s+forget)\s+to\s+(?:say|state|write|mention|include|"
    r"claim|report|tell|add|stress|print)\b",
    r"\b(?:always|must)\s+(?:say|state|write|mention|include|claim|report)\s+that\b",
    r"\btell\s+(?:your\s+|the\s+)?(?:readers|users|audience)\s+that\b",
    r"\b(?:respond|answer|reply|output)\s+(?:only\s+)?(?:with|in)\s+(?:the\s+following|json|this)\b",
    r"\bdo\s+not\s+follow\s+(?:the|your)\b",
    # chat templates
    r"<\|?(?:im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id)\|?>",
    r"\[/?(?:INST|SYS)\]|<</?SYS>>",
    # other languages
    r"\b(?:ігноруй|проігноруй|ігноруйте|забудь|не зважай)\w*\b[^.!?\n]{0,40}\b(?:інструкц|вказівк|правил)\w*",
    r"\b(?:игнорируй|проигнорируй|игнорируйте|забудь)\w*\b[^.!?\n]{0,40}\b(?:инструкц|указани|правил)\w*",
    r"\b(?:примітка|повідомлення|вказівка|нотатка)\s+для\s+(?:ші|штучного інтелекту|моделі|бота)",
    r"\b(?:примечание|сообщение|указание|заметка)\s+для\s+(?:ии|искусственного интеллекта|модели|бота)",
    r"\b(?:ignoriere|ignorieren sie|vergiss)\b[^.!?\n]{0,40}\b(?:anweisungen|vorgaben|regeln)\b",
    r"\b(?:hinweis|nachricht|anweisung)\s+(?:an|für)\s+(?:die\s+|das\s+|den\s+)?(?:ki|sprachmodell|modell|bot)\b",
    r"\b(?:ignora|ignore[sz]?|olvida|oublie[sz]?)\b[^.!?\n]{0,40}\b(?:instrucciones|instructions|consignes|istruzioni)\b",
    r"(?:忽略|无视|忽视|無視)[^。！？\n]{0,20}(?:指令|指示|说明|提示|命令)",
    r"(?:给|致|對|对)\s*(?:AI|人工智能|模型|助手)",
]
# One alternation; the leading ``\b`` most patterns share is tested once per position instead of once per pattern
# (the same matches: only ``search``'s truthiness is used, and the order of the alternatives does not change that),
# which halves the cost of scanning a text that holds no trigger (nearly all of them).
_WORD_START = [p[2:] for p in _PATTERNS if p.startswith(r"\b")]
_OTHER_START = [p for p in _PATTERNS if not p.startswith(r"\b")]
_INJECTION = re.compile(
    r"\b(?:" + "|".join(f"(?:{p})" for p in _WORD_START) + ")|" + "|".join(f"(?:{p})" for p in _OTHER_START), re.I
)


# A cheap test that says "no trigger here" for nearly every text, provably never for one the patterns match (a text it
# passes is scanned in full). It reads only ASCII text (after typographic quotes, dashes and no-break spaces, none of
# them word characters, become spaces), where ``re.I`` is plain ASCII case: every pattern needs some whole words
# (``\b``-bounded in the pattern, so whole ``\w`` runs of the lower-cased text), one of each set of a rule below, or
# one of the substrings; the patterns that need non-ASCII letters (Cyrillic, Chinese) cannot match ASCII
# text. tests/test_injection.py checks the claim on probes, benign and corpus sentences and generated strings.
def _words(*sets: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s.split()) for s in sets)


_MODEL_BASES = "ai llm model chatbot bot chatgpt claude gemini llama copilot assistant summarizer summariser"
# each with the "s" the patterns allow twice (``assistants?`` then ``s?``); "gpt-4", "gpt4o", "a.i.": substrings below
_MODEL_WORDS = " ".join(f"{w} {w}s {w}ss" for w in _MODEL_BASES.split(" ")) + " automated"
_TEXT_WORDS = "summary rewrite output response answer reply article headline"
_RULES = [  # the rarest set first: a text sharing no word with any first set is clean
    _words("ignore disregard forget override bypass"),  # overrides (and "ignore … instructions")
    _words("instruction instructions directive directives task"),  # "new instructions:"
    _words("system developer"),  # "system prompt", "developer instructions", "system message"
    _words("system assistant user instruction ai"),  # "system:" at a line's start
    _words("instruction instructions prompt"),  # "begin new instructions", "end of system prompt"
    _words("you"),  # "you are now", "from now on you", "you are an AI", "if you are a model"
    _words("act behave pretend roleplay", "promoter assistant ai model bot"),
    _words("model"),  # "as an AI language model"
    _words(_MODEL_WORDS, "note message instruction instructions memo reminder directive request hint tip"),
    _words(_MODEL_WORDS, "attention psa"),
    _words(_MODEL_WORDS, "to for dear hey attention calling"),
    _words(_MODEL_WORDS, "dear hey attention hello hi"),
    _words(_MODEL_WORDS, "this the"),  # "AI assistants processing this"
    _words("chatgpt claude gemini llama copilot", "must should please shall"),
    _words("when while if before", "article story text item piece post page news content report feed"),
    _words(_TEXT_WORDS, "in"),  # "in your summary, say"
    _words(_TEXT_WORDS, "must should shall has need needs", "your the"),  # "your output must"
    _words("sure remember forget", "to"),  # "make sure to mention"
    _words("always must", "that"),
    _words("tell", "that"),
    _words("respond answer reply output", "with in"),
    _words("follow", "do", "not"),
    _words("im_start im_end system assistant user endoftext eot_id start_header_id"),  # chat-template tokens
    _words("inst sys"),  # [INST], <<SYS>>
    _words("ignoriere ignorieren vergiss"),
    _words("hinweis nachricht anweisung"),
    _words("ignora ignore ignores ignorez olvida oublie oublies oubliez"),
]
_FIRST_WORDS = frozenset().union(*(rule[0] for rule in _RULES))
# each first word -> the rest of the rules it opens (a text is tested only against the rules its words open: "follow",
# in "more to follow", opens one rule of the 27, where every rule used to be tested)
_RULES_BY_WORD: dict[str, list[tuple[frozenset[str], ...]]] = {
    word: [rule[1:] for rule in _RULES if word in rule[0]] for word in _FIRST_WORDS
}
_SUBSTRINGS = ("##", "a.i.", "gpt")
_SUBSTRING = re.compile("|".join(re.escape(s) for s in _SUBSTRINGS))
_TYPOGRAPHY = "\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u00ab\u00bb\u00a0"  # ‘’‚“”„–—…«» and NBSP
_TO_SPACE = str.maketrans(dict.fromkeys(_TYPOGRAPHY, " "))
_WORD = re.compile(r"\w+")


# The shortest text any pattern matches: "ai:" (a role at a line's start; "gpt" and "给AI" are three characters too).
_SHORTEST_TRIGGER = 3


def might_address_a_model(text: str) -> bool:
    """False only where no pattern can match ``text`` or any part of it (then ``_INJECTION`` need not scan it)."""
    if len(text) < _SHORTEST_TRIGGER:  # the empty body or summary of most feed items: no pattern fits in it
        return False
    if not text.isascii():
        text = text.translate(_TO_SPACE)
        if not text.isascii():
            return True
    low = text.lower()
    if _SUBSTRING.search(low):
        return True
    words = set(_WORD.findall(low))
    first = words.intersection(_FIRST_WORDS)
    if not first:
        return False
    # a rule of one word set holds at once (``all`` of nothing)
    return any(all(not words.isdisjoint(part) for part in rest) for w in first for rest in _RULES_BY_WORD[w])


_SENTENCE = re.compile(r"[^.!?。！？\n]*(?:[.!?。！？]+[\"'”’»)]*|\n+|$)")


def _split(text: str) -> list[str]:
    return [s for s in _SENTENCE.findall(text) if s]


def find_injections(text: str) -> list[str]:
    """The passages of ``text`` that address a model."""
    return neutralise(text)[1]


def neutralise(text: str) -> tuple[str, list[str]]:
    """``text`` with every passage that addresses a model replaced by a placeholder, and the removed passages."""
    if not might_address_a_model(text):  # nearly every text: no sentence of it can hold a trigger
        return text.replace("<<<", "‹‹‹").replace(">>>", "›››"), []
    removed: list[str] = []
    out: list[str] = []
    parts = _split(text)
    i = 0
    while i < len(parts):
        sentence = parts[i]
        if not (sentence.strip() and _INJECTION.search(sentence)):
            out.append(sentence)
            i += 1
            continue
        passage = [sentence]
        i += 1
        # the payload may follow the trigger: take the rest of the paragraph, a few sentences at most
        while i < len(parts) and len(passage) < PASSAGE_SENTENCES and "\n" not in passage[-1] and parts[i].strip():
            passage.append(parts[i])
            i += 1
        removed.append("".join(passage).strip())
        tail = "\n" if passage[-1].endswith("\n") else " "
        out.append(PLACEHOLDER + tail)
    cleaned = "".join(out)
    # The data block in the prompt is fenced with <<< >>>: a source must not be able to close it.
    cleaned = cleaned.replace("<<<", "‹‹‹").replace(">>>", "›››")
    return cleaned, removed


MAX_CATEGORY_CHARS = 40
MAX_CATEGORY_WORDS = 4
MAX_AUTHOR_CHARS = 80


def clean_categories(categories: list[str]) -> list[str]:
    """Feed categories that look like categories: short labels; a sentence or an instruction is not one."""
    out = []
    for c in categories:
        c = " ".join(c.split())
        if (
            c
            and len(c) <= MAX_CATEGORY_CHARS
            and len(c.split()) <= MAX_CATEGORY_WORDS
            and not re.search(r"[!?:;<>{}\[\]|$%]|\d{5,}|\.\s+\w+\s", c)  # "Inc.", "U.S." and years are fine
            and not (might_address_a_model(c) and _INJECTION.search(c))
        ):
            out.append(c)
    return out


def clean_author(author: str | None) -> str | None:
    """An author line that names someone; instructions or a sentence in its place give no author."""
    if not author:
        return None
    a = " ".join(author.split())
    if len(a) > MAX_AUTHOR_CHARS or (might_address_a_model(a) and _INJECTION.search(a)):
        return None
    if re.search(r"[!?$%<>{}]|\d{3,}", a):
        return None
    return a


def neutralised_fields(item: FeedItem) -> dict[str, object]:
    """The fields of ``item`` that ``neutralise_item`` changes, with their new values: empty for nearly every item,
    so the caller copies an item only where something was cut (a pydantic copy per item is most of the cost)."""
    changed: dict[str, object] = {}
    for name, text in (("title", item.title), ("summary", item.summary), ("content", item.content)):
        clean, _ = neutralise(text)
        if clean != text:
            changed[name] = clean
    categories = clean_categories(item.categories)
    if categories != item.categories:
        changed["categories"] = categories
    author = clean_author(item.author)
    if author != item.author:
        changed["author"] = author
    return changed


def neutralise_item(item: FeedItem) -> FeedItem:
    """A feed item with passages addressed to a model cut from every field the feed controls (the item itself when
    nothing was)."""
    changed = neutralised_fields(item)
    return item.model_copy(update=changed) if changed else item
