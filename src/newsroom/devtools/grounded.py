"""Grounded scripted articles: text that passes the guards, for the scripted server's ``grounded`` mode.

Not a model. The article is per-language filler (plain sentences with no names and no numbers) plus the source's
first name and first amount, so every guard has something real to check: the language guard sees English, Ukrainian
or German prose; the entity and number guards find the name and the amount in the source (a translation: in its
pivot); the originality guard finds no copied run. The benchmark (``bench/pipeline.py``) uses it so that the default
configuration, guards on, makes one call per article-language.

The request says what it wants: the target language is the one the system prompt names ("into German", "in
English"); the source is the user message (the write prompt's ``Headline:`` line, or the translate prompt's JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..headings import LANGUAGE_NAMES

# Sentences with no capitalised word inside them and no digit: nothing for the entity or number guards to doubt.
FILLER: dict[str, dict[str, str]] = {
    "en": {
        "title": "{name} moves {amount} in a closely watched deal",
        "description": "The firm confirmed the transfer and said more details would follow later this week.",
        "overview": "{name} said it had moved {amount} this week. The company gave few other details, and traders"
        " waited for a fuller statement before changing their positions.",
        "heading": "What the company said",
        "body": "The announcement came during a quiet trading session. Market watchers said the size of the move was"
        " notable but not unusual for a firm of this kind, and most prices barely changed after the news.",
        "why": "Large transfers by well known firms can shift sentiment for a while, even when they change little"
        " in the long run.",
        "author": "We will keep following the story and report any new details as they appear.",
        "bullets": [
            "Short term prices may stay calm",
            "Traders watch for a fuller statement",
            "Liquidity looks steady for now",
        ],
    },
    "uk": {
        "title": "{name} переказує {amount} у помітній угоді",
        "description": "Компанія підтвердила переказ і пообіцяла оприлюднити більше подробиць до кінця тижня.",
        "overview": "{name} повідомила, що цього тижня переказала {amount}. Інших подробиць компанія майже не"
        " надала, тож трейдери чекали повнішої заяви, перш ніж змінювати свої позиції.",
        "heading": "Що повідомила компанія",
        "body": "Оголошення пролунало під час спокійних торгів. Спостерігачі ринку зазначили, що обсяг переказу"
        " помітний, але не надзвичайний для такої компанії, і більшість цін після новини майже не змінилася.",
        "why": "Великі перекази відомих компаній можуть на деякий час змінити настрої ринку, навіть якщо в довгій"
        " перспективі вони мало що змінюють.",
        "author": "Ми й далі стежитимемо за цією історією та повідомлятимемо про нові подробиці.",
        "bullets": [
            "Короткострокові ціни можуть залишитися спокійними",
            "Трейдери чекають на повнішу заяву",
            "Ліквідність поки що виглядає стабільною",
        ],
    },
    # German capitalises every noun, and the entity guard reads a capitalised word inside a sentence as a name: the
    # German filler is written without nouns (the amount, "Mio." included, only in the title)
    "de": {
        "title": "{name} bewegt {amount} überraschend",
        "description": "Es wurde bestätigt, und mehr soll bald folgen.",
        "overview": "{name} hat kürzlich viel bewegt. Mehr wollte man dazu bisher nicht sagen, und viele warten"
        " lieber ab, bevor sie selbst etwas ändern.",
        "heading": "Was bisher bekannt ist",
        "body": "Bekannt wurde es, als es ohnehin ruhig war. Viele fanden das bemerkenswert, aber nicht ungewöhnlich,"
        " und danach hat sich kaum etwas bewegt. Ob das so bleibt, ist noch offen.",
        "why": "Wenn so etwas geschieht, reagieren manche schnell, auch wenn sich langfristig oft wenig ändert.",
        "author": "Wir bleiben dran und berichten, sobald es mehr zu sagen gibt.",
        "bullets": [
            "Kurzfristig dürfte es ruhig bleiben",
            "Viele warten noch ab",
            "Vorerst wirkt alles recht stabil",
        ],
    },
}
# an amount in the source ("$120 million", "$1.5 billion"), written as each language writes it
_AMOUNT = re.compile(r"\$\s?(\d+(?:[.,]\d+)?)\s*(million|billion)\b", re.I)
_AMOUNT_FORMS = {
    "en": {"million": "${n} million", "billion": "${n} billion"},
    "uk": {"million": "{n} млн доларів", "billion": "{n} млрд доларів"},
    "de": {"million": "{n} Mio. $", "billion": "{n} Mrd. $"},
}
# a name: a run of capitalised Latin words at the start of the headline ("Harbor Labs"), at most three
_NAME = re.compile(r"^\s*((?:[A-Z][\w&.-]*\s+){0,2}[A-Z][\w&.-]*)")


def target_language(system: str) -> str | None:
    """The language code the system prompt asks for: the one after "into", else the first one it names."""
    names = {v: k for k, v in LANGUAGE_NAMES.items()}
    m = re.search(r"\binto ([A-Z][a-z]+)", system)
    if m and m.group(1) in names:
        return names[m.group(1)]
    found = [(system.find(n), code) for n, code in names.items() if n in system]
    return min(found)[1] if found else None


def source_headline(user: str) -> str:
    """The headline the user message carries: the write prompt's ``Headline:`` line, or the translated title."""
    m = re.search(r"^Headline: (.*)$", user, re.M)
    if m:
        return m.group(1)
    try:
        data = json.loads(user)
    except ValueError:
        return ""
    return str(data.get("title", "")) if isinstance(data, dict) else ""


def facts(headline: str, lang: str) -> tuple[str, str]:
    """(name, amount) from ``headline``, the amount written for ``lang``; neutral stand-ins when there are none."""
    m = _NAME.match(headline)
    name = m.group(1).strip() if m else ""
    a = _AMOUNT.search(headline)
    if a is None:  # a translated title ("… 120 млн доларів …"): read the number and scale word back
        a = re.search(r"(\d+(?:[.,]\d+)?)\s*(млн|млрд|Mio\.|Mrd\.)", headline)
    if a is None:
        return name or "the firm", "funds"
    scale = "billion" if a.group(2).casefold().startswith(("b", "млрд", "mrd")) else "million"
    n = a.group(1)
    n = n.replace(",", ".") if lang == "en" else n.replace(".", ",")
    return name or "the firm", _AMOUNT_FORMS[lang][scale].format(n=n)


def grounded_article(system: str, user: str, base: dict[str, Any]) -> dict[str, Any] | None:
    """``base`` (a schema instance of an article object) with its text fields replaced by grounded filler in the
    requested language; None when the request is not for an article or names no language we have filler for."""
    if not {"title", "overview", "sections", "market_impact"} <= set(base):
        return None
    lang = target_language(system)
    if lang not in FILLER:
        return None
    text = FILLER[lang]
    name, amount = facts(source_headline(user), lang)
    out = dict(base)
    out.update(
        title=text["title"].format(name=name, amount=amount),
        description=text["description"],
        overview=text["overview"].format(name=name, amount=amount),
        sections=[{"heading": text["heading"], "body": text["body"]}],
        why_it_matters=text["why"],
        from_the_author=text["author"],
        market_impact=list(text["bullets"]),
    )
    if "image_query" in out:
        out["image_query"] = "crypto market"
    if "tags" in out:
        out["tags"] = [name]
    return out
