"""Invented test material for the guards (no corpus text): one source, a faithful article in en, its uk translation."""

from __future__ import annotations

import copy
import json
from typing import Any

SOURCE_TITLE = "Harbor Exchange raises $1.2 billion as Bitcoin tops $80,000"
SOURCE_TEXT = (
    "Harbor Exchange, a crypto trading venue based in Lisbon, said on Tuesday it had raised $1.2 billion from "
    "Northwind Capital and Bluefin Partners. Chief executive Marta Solberg said the money would fund a new custody "
    "service and 150 new hires by the end of 2026.\n\n"
    "The raise values the company at $9.5 billion. Bitcoin climbed 4.5% to $80,200 on the news, while Ether gained "
    "3%. Solberg said the exchange now serves 2.4 million customers in 31 countries."
)
SOURCE = SOURCE_TITLE + "\n\n" + SOURCE_TEXT

FAITHFUL_EN: dict[str, Any] = {
    "title": "Lisbon's Harbor Exchange lands $1.2 billion in fresh funding",
    "description": "Northwind Capital and Bluefin Partners back the venue, which plans a custody service and "
    "a hiring push.",
    "overview": "Harbor Exchange has secured $1.2 billion from Northwind Capital and Bluefin Partners, a deal that "
    "puts the Lisbon-based trading venue's valuation at $9.5 billion. Markets reacted quickly: Bitcoin rose 4.5% "
    "to $80,200 and Ether added 3%.",
    "sections": [
        {
            "heading": "Where the money goes",
            "body": "According to Marta Solberg, who runs the company, the capital will pay for a custody business "
            "and for 150 additional staff, to be hired before 2026 is over. The platform reports 2.4 million "
            "customers spread across 31 countries.",
        }
    ],
    "why_it_matters": "A raise of this size shows that large investors still want exposure to trading "
    "infrastructure, and custody is where institutions look first.",
    "from_the_author": "Funding rounds like this one suggest that the appetite for crypto venues has returned, "
    "though execution on custody will decide whether the valuation holds.",
    "market_impact": [
        "Bitcoin's move above $80,200 may draw in momentum traders.",
        "Custody competition among exchanges is likely to intensify.",
        "Ether's 3% gain points to broad risk appetite.",
    ],
}

FAITHFUL_UK: dict[str, Any] = {
    "title": "Лісабонська Harbor Exchange залучила 1,2 млрд доларів нового фінансування",
    "description": "Northwind Capital і Bluefin Partners підтримали майданчик, який планує сервіс зберігання "
    "активів і набір працівників.",
    "overview": "Harbor Exchange отримала 1,2 млрд доларів від Northwind Capital і Bluefin Partners; угода оцінює "
    "лісабонський торговий майданчик у 9,5 млрд доларів. Ринок відреагував швидко: біткоїн подорожчав на 4,5% "
    "до 80 200 доларів, а ефір додав 3%.",
    "sections": [
        {
            "heading": "На що підуть гроші",
            "body": "За словами Марти Сольберг, яка керує компанією, капітал піде на бізнес зі зберігання "
            "активів і на 150 додаткових працівників, яких наймуть до кінця 2026 року. Платформа повідомляє про "
            "2,4 мільйона клієнтів у 31 країні.",
        }
    ],
    "why_it_matters": "Залучення такого розміру показує, що великі інвестори й далі хочуть вкладатися в торгову "
    "інфраструктуру, а зберігання активів інституції перевіряють насамперед.",
    "from_the_author": "Такі раунди фінансування свідчать, що інтерес до криптомайданчиків повернувся, хоча саме "
    "виконання планів щодо зберігання вирішить, чи втримається оцінка.",
    "market_impact": [
        "Зростання біткоїна понад 80 200 доларів може привабити трейдерів, що йдуть за імпульсом.",
        "Конкуренція бірж у сфері зберігання активів, імовірно, посилиться.",
        "Зростання ефіру на 3% вказує на загальний апетит до ризику.",
    ],
}

WRITTEN_EXTRAS: dict[str, Any] = {
    "category": "BUSINESS",
    "tags": ["BTC", "ETH", "HARBOR EXCHANGE"],
    "sentiment": "POSITIVE",
    "importance": 60,
    "image_query": "crypto exchange funding",
}


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level fields replaced."""
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def feed_xml(title: str = SOURCE_TITLE, text: str = SOURCE_TEXT, link: str = "https://harbor.invalid/news/1") -> bytes:
    """A one-item RSS feed carrying the source (full text in content:encoded, so nothing is fetched)."""
    from xml.sax.saxutils import escape

    body = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Test Wire</title>'
        "<link>https://harbor.invalid/</link><description>invented</description>"
        f"<item><title>{escape(title)}</title><link>{link}</link><guid>harbor-1</guid>"
        "<pubDate>Tue, 09 Dec 2025 10:00:00 GMT</pubDate>"
        f"<description>{escape(text[:120])}</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item></channel></rss>"
    ).encode()


def as_reply(article: dict[str, Any]) -> Any:
    """A scripted server reply whose content is ``article`` as JSON."""
    from newsroom.devtools.scripted_llm import ScriptedReply

    return ScriptedReply.ok(json.dumps(article, ensure_ascii=False))


def run_pipeline_once(settings: Any, store: Any) -> None:
    """One pipeline run against the configured (scripted) provider, closed afterwards."""
    import asyncio

    from newsroom.llm import make_provider
    from newsroom.pipeline import CallBuffer, Pipeline

    async def go() -> None:
        calls = CallBuffer()
        provider = make_provider(settings.llm, calls)
        try:
            await Pipeline(settings, store, provider, calls).run_once()
        finally:
            await provider.aclose()

    asyncio.run(go())
