"""Exonyms from CLDR (Babel's locale data): a place the translation names in its own language (Афины, Daressalam) is
grounded by the source's name for it (Athens, Dar es Salaam), and only by that. Invented sentences."""

from __future__ import annotations

import pytest

from newsroom.guards import GuardContext, exonyms
from newsroom.guards.entities import check_entities


def flagged(lang: str, text: str, source: str) -> list[str]:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    return [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)]


@pytest.mark.parametrize(
    ("lang", "text", "source", "name"),
    [
        # a place inside a name run (after an adjective that opened it) must be grounded: the lexicon cannot excuse it
        ("ru", "Философы учили в Древних Афинах.", "Philosophers taught in ancient Athens.", "Афинах"),
        ("uk", "Філософи навчали в Стародавніх Афінах.", "Philosophers taught in ancient Athens.", "Афінах"),
        ("ru", "Встреча прошла в Мэрии Афин.", "They met at the Athens city hall.", "Афин"),
        # the alternative CLDR writes in brackets: Мьянма (Бирма) is Myanmar (Burma)
        ("ru", "Об этом сообщили в Бирме.", "Officials in Myanmar said so.", "Бирме"),
        # German: a time zone's exemplar city (Africa/Dar_es_Salaam), the English name made of the zone's own words
        ("de", "Die Gespräche liefen gut, sagte Daressalam.", "Talks went well, Dar es Salaam said.", "Daressalam"),
    ],
)
def test_an_exonym_is_grounded_by_the_source_name_and_only_by_it(lang: str, text: str, source: str, name: str) -> None:
    assert name not in flagged(lang, text, source)
    # the same sentence over a source that names another place: still flagged
    assert name in flagged(lang, text, "Officials in Rome and Thailand said so.")


def test_an_invented_name_is_still_flagged_beside_a_grounded_exonym() -> None:
    found = flagged("ru", "В Древних Афинах об этом сообщили в Дойче Банк.", "In ancient Athens, people said so.")
    assert "Афинах" not in found
    assert "Банк" in found or "Дойче" in found


def test_the_table_maps_stems_to_source_names() -> None:
    assert ("athens",) in exonyms.counterparts("Афинах", "ru", "en")  # stem афин, CLDR's Афины
    assert ("athens",) in exonyms.counterparts("Афінах", "uk", "en")
    assert ("greece",) in exonyms.counterparts("Griechenlands", "de", "en")  # German genitive s
    assert ("united", "states") in exonyms.counterparts("Штатах", "ru", "en")  # every word of the source name
    assert ("new", "york") in exonyms.counterparts("Нью-Йорке", "ru", "en")  # hyphenated, declined
    # a word in many names (Республика Корея, Чешская Республика, …) identifies none of them
    assert list(exonyms.counterparts("Республики", "ru", "en")) == []
    assert ("афіни",) in exonyms.counterparts("Афинах", "ru", "uk")  # a Ukrainian pivot: its own name, by code
    assert list(exonyms.counterparts("Athens", "en", "en")) == []  # same language: nothing to translate
    assert list(exonyms.counterparts("Афины", "xx", "en")) == []  # a locale CLDR lacks: no table


def test_a_source_name_must_be_there_whole() -> None:
    # Штаты stands for the United States (or Micronesia's): "United Kingdom" alone does not ground it
    assert "Штатах" in flagged("ru", "Он долго жил в Соединенных Штатах.", "He lived in the United Kingdom.")
    assert flagged("ru", "Он долго жил в Соединенных Штатах.", "He lived in the United States.") == []
