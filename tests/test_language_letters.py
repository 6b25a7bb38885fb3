"""``guards.language.detect``'s "enough letters to tell" test matches exactly where the letters counted one by one
reach ``MIN_LETTERS`` (hypothesis strings of letters, digits, marks, punctuation and other scripts; corpus lines)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from newsroom.guards.language import _ENOUGH_LETTERS, _LETTER, MIN_LETTERS


def _same(text: str) -> None:
    assert bool(_ENOUGH_LETTERS.match(text)) == (len(_LETTER.findall(text)) >= MIN_LETTERS), text


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZé_1٣ \n.!$-’\u0301Ж中ǅ\u00a0\t"), max_size=40) | st.text(max_size=60))
def test_enough_letters_counts_like_findall(text: str) -> None:
    _same(text)


def test_enough_letters_on_corpus_lines(corpus: Path) -> None:
    lines = []
    for path in sorted((corpus / "translation").glob("*")):
        lines += path.read_text().splitlines()
    assert len(lines) > 1000
    for line in lines:
        _same(line)
        for cut in (5, 11, 12, 13, 20):
            _same(line[:cut])
