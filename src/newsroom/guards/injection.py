"""Prompt injection in source text: find passages addressed to a language model, and take them out of the data.

Source text is data. The prompt already says so, and structured output fixes the format; on top of that, sentences
that talk to a model ("ignore all previous instructions", "you are now …", "system prompt", "as an AI …") are cut
from the text the model sees and from the text the article is grounded in. A model that still follows an injection
then writes numbers, names or phrases that are not in the (clean) source, and the guards catch it.
"""

from __future__ import annotations

import re

PLACEHOLDER = "[removed: text addressed to an AI model]"

_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|rules|prompts?|guidelines|directions)\b",
    r"\b(?:new|updated|real|actual)\s+instructions?\s*:",
    r"\byou\s+(?:are|will)\s+now\b",
    r"\b(?:system|developer)\s+(?:prompt|message|instructions?)\b",
    r"\b(?:as|you\s+are)\s+an?\s+(?:ai|language\s+model|llm|assistant)\b",
    r"\b(?:chatgpt|gpt-?\d|claude|gemini|llama)\b[^.!?\n]{0,30}\b(?:must|should|will|please)\b",
    r"\b(?:respond|answer|reply|output)\s+(?:only\s+)?(?:with|in)\s+(?:the\s+following|json|this)\b",
    r"\bdo\s+not\s+follow\s+(?:the|your)\b",
    r"<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>",
    r"\[/?(?:INST|SYS)\]",
    r"\b(?:ігноруй|проігноруй|ігноруйте|забудь)\w*\b[^.!?\n]{0,40}\bінструкц\w*",
    r"\b(?:игнорируй|игнорируйте|забудь)\w*\b[^.!?\n]{0,40}\bинструкц\w*",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I)
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


def find_injections(text: str) -> list[str]:
    """The sentences of ``text`` that address a model."""
    return [
        s.group(0).strip() for s in _SENTENCE.finditer(text) if s.group(0).strip() and _INJECTION.search(s.group(0))
    ]


def neutralise(text: str) -> tuple[str, list[str]]:
    """``text`` with every sentence that addresses a model replaced by a placeholder, and the removed sentences."""
    removed: list[str] = []

    def repl(m: re.Match[str]) -> str:
        sentence = m.group(0)
        if sentence.strip() and _INJECTION.search(sentence):
            removed.append(sentence.strip())
            return PLACEHOLDER + (" " if not sentence.endswith("\n") else "\n")
        return sentence

    cleaned = _SENTENCE.sub(repl, text)
    # The data block in the prompt is fenced with <<< >>>: a source must not be able to close it.
    cleaned = cleaned.replace("<<<", "‹‹‹").replace(">>>", "›››")
    return cleaned, removed
