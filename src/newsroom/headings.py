"""The fixed section headings of an article, per language. Written here, never by the model."""

from __future__ import annotations

from typing import NamedTuple


class Headings(NamedTuple):
    overview: str
    why_it_matters: str
    from_the_author: str
    market_impact: str


HEADINGS: dict[str, Headings] = {
    "en": Headings("Overview", "Why it matters", "From the author", "Impact on the crypto market"),
    "uk": Headings("Огляд", "Чому це важливо", "Від автора", "Вплив на крипторинок"),
    "ru": Headings("Обзор", "Почему это важно", "От автора", "Влияние на криптовалютный рынок"),
    "es": Headings("Resumen", "Por qué importa", "Del autor", "Impacto en el mercado cripto"),
    "de": Headings("Überblick", "Warum das wichtig ist", "Vom Autor", "Auswirkungen auf den Kryptomarkt"),
    "fr": Headings("Aperçu", "Pourquoi c'est important", "L'avis de l'auteur", "Impact sur le marché crypto"),
    "pt": Headings("Visão geral", "Por que isso importa", "Do autor", "Impacto no mercado cripto"),
    "tr": Headings("Genel bakış", "Neden önemli", "Yazarın notu", "Kripto piyasasına etkisi"),
    "zh": Headings("概述", "为何重要", "作者观点", "对加密市场的影响"),
    "ja": Headings("概要", "なぜ重要か", "筆者より", "暗号資産市場への影響"),
}

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "uk": "Ukrainian",
    "ru": "Russian",
    "es": "Spanish",
    "de": "German",
    "fr": "French",
    "pt": "Portuguese",
    "tr": "Turkish",
    "zh": "Chinese (Simplified)",
    "ja": "Japanese",
}

SUPPORTED_LANGUAGES = frozenset(HEADINGS)


def headings_for(lang: str) -> Headings:
    try:
        return HEADINGS[lang]
    except KeyError:
        raise KeyError(f"no fixed headings for language {lang!r}; supported: {sorted(HEADINGS)}") from None
