"""Plain text from feed HTML, and fingerprints of stories. Pure functions, no I/O.

Feeds carry HTML fragments of every quality: inline styles, tracking pixels, scripts, entities escaped once or twice
(Decrypt writes ``&amp;#039;``). Everything downstream (prompts, guards, dedupe) wants plain text, so the HTML is
parsed by a real sanitiser (nh3, an html5ever-based parser) rather than by regular expressions, and only the text
survives. Block elements become paragraph breaks so that the model still sees the paragraphs.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

import nh3

# Elements whose boundaries separate paragraphs. Everything else is inline: its text joins its neighbours.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
# Elements dropped together with their content: code, styling and embedded documents are never article text.
DROP_CONTENT_TAGS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head", "title",
     "textarea", "select"}
)  # fmt: skip

_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\s*/?>")
_MARKUP_HINT = re.compile(r"<[a-zA-Z/!?]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
_TAG_START = re.compile(r"<[a-zA-Z/!?]")
_PARA_SPLIT = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
_SPACES = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_NOT_PLAIN = re.compile("[<&\n\x00]")
_MAX_ROUNDS = 3  # escaped twice is common, three times is seen; more is not text any more


def _sanitise(fragment: str) -> str:
    """nh3 with only block tags allowed, no attributes: the output is well-formed and holds bare block tags."""
    return nh3.clean(
        fragment,
        tags=set(BLOCK_TAGS),
        attributes={},
        link_rel=None,
        strip_comments=True,
        clean_content_tags=set(DROP_CONTENT_TAGS),
    )


def _one_round(fragment: str) -> str:
    """Sanitise once, turn block tags into blank lines, decode entities."""
    return html.unescape(_TAG.sub("\n\n", _sanitise(fragment)))


def _normalise_whitespace(text: str) -> str:
    paragraphs = (_SPACES.sub(" ", p).strip() for p in _PARA_SPLIT.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment (or of text that may contain entities).

    No tag survives; script/style content is dropped; entities are decoded, including double-escaped ones;
    paragraphs are separated by one blank line and other whitespace is collapsed. Never raises on hostile input.
    """
    if not fragment:
        return ""
    if fragment.isascii() and not _NOT_PLAIN.search(fragment):
        # one line of plain ASCII (most headlines): no markup, entity, paragraph, zero-width character or composition
        # to undo, so ``_full`` would only collapse its whitespace (tests/test_text.py checks both give the same)
        return " ".join(fragment.split())
    return _full(fragment)


def _full(fragment: str) -> str:
    text = fragment.replace("\r\n", "\n").replace("\x00", "")
    for _ in range(_MAX_ROUNDS):
        if not _MARKUP_HINT.search(text):
            break
        decoded = _one_round(text)
        if decoded == text:
            break
        text = decoded
    if _TAG_START.search(text):
        # Escaped more often than we unwrap: sanitise once more and leave the rest escaped rather than hand
        # anything tag-shaped downstream (a Markdown renderer would pass raw HTML through).
        text = _TAG.sub("\n\n", _sanitise(text))
    text = unicodedata.normalize("NFC", text.translate(_ZERO_WIDTH))
    return _normalise_whitespace(text)


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_for_fingerprint(text: str) -> str:
    """Case, accents' composition, punctuation and spacing removed: what is left is the words in order."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def fingerprint(title: str, text: str) -> str:
    """sha256 (hex) of the normalised title and text: the same story text gives the same fingerprint.

    Exact only: a changed word changes it. Near-duplicates are the clustering stage's job.
    """
    basis = normalise_for_fingerprint(title) + "\n" + normalise_for_fingerprint(text)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


EMPTY_FINGERPRINT = fingerprint("", "")
