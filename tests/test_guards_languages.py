"""Grounding in every site language, on faithful human translations (WMT22 dev halves, paragraphs of four segments):
the guards must not flag them; invented names are still caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsroom.guards import GuardContext, check_text
from newsroom.guards.entities import check_entities
from newsroom.guards.numbers import check_numbers

# The target on the whole dev halves (bench/guards.py measures each half apart: the rules were designed on the first).
MAX_FLAGGED = {"de": 0.05, "uk": 0.05, "zh": 0.05, "ja": 0.05, "ru": 0.05}


def paragraphs(corpus: Path, lang: str, size: int = 4) -> list[tuple[str, str]]:
    en = (corpus / "translation" / f"wmt22_en_{lang}_dev.en").read_text(encoding="utf-8").splitlines()
    tx = (corpus / "translation" / f"wmt22_en_{lang}_dev.{lang}").read_text(encoding="utf-8").splitlines()
    joiner = "" if lang in ("zh", "ja") else " "
    return [(" ".join(en[i : i + size]), joiner.join(tx[i : i + size])) for i in range(0, len(en) - size + 1, size)]


@pytest.mark.parametrize("lang", sorted(MAX_FLAGGED))
def test_faithful_translations_are_not_flagged(corpus: Path, lang: str) -> None:
    pairs = paragraphs(corpus, lang)
    flagged = [t for en, t in pairs if not check_text([("p", t)], GuardContext(lang, en, "en")).ok]
    assert len(pairs) == 250
    assert len(flagged) / len(pairs) <= MAX_FLAGGED[lang]


@pytest.mark.parametrize(
    ("lang", "text", "source", "flagged"),
    [
        ("de", "Die Zentralbank und Coinbase senkten den Zins.", "The central bank cut rates.", "Coinbase"),
        ("de", "Laut Nvidia stieg der Umsatz.", "Sales rose, the company said.", "Nvidia"),
        ("ru", "Об этом сообщили в Самсунг.", "The company said so.", "Самсунг"),
        ("uk", "Про це повідомили в Тесла.", "The company said so.", "Тесла"),
        ("zh", "据 Citadel 报道，比特币上涨。", "Bitcoin rose, reports said.", "Citadel"),
        ("ja", "ＨＢＯによると、ビットコインが上昇した。", "Bitcoin rose, reports said.", "HBO"),
        # a company name that is also an English word is a name in a German text (the German lexicon decides)
        ("de", "Die Zahlen stammen von Citadel.", "The figures come from the exchange.", "Citadel"),
        # a translated word inside a name is grounded only by its English word (Кубок ~ Cup)
        ("ru", "Команда сыграла на Кубке мира.", "The team played in the league.", "Кубке"),
        ("ru", "Об этом сообщил Таджа Бирна.", "Peter Walsh said so.", "Таджа"),
        # a short Latin name in a Chinese or Japanese text is not matched by a transliteration skeleton (Huawei: kv)
        ("zh", "据 Huawei 报道，比特币上涨。", "Bitcoin rose, we have heard.", "Huawei"),
        ("ja", "Coinbaseによると、ビットコインが上昇した。", "Bitcoin rose at the coin base.", "Coinbase"),
    ],
)
def test_invented_names_are_caught_in_every_language(lang: str, text: str, source: str, flagged: str) -> None:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    assert flagged in [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)]


@pytest.mark.parametrize(
    ("lang", "text", "source", "ok"),
    [
        ("de", "Die Regierung und die Europäische Zentralbank berieten.", "The government and the ECB met.", True),
        ("de", "Der Zustellungszeitraum beträgt 3 Tage.", "Delivery takes three days.", True),
        ("de", "Der Kurier kommt um 17.30 Uhr.", "The courier comes by 5.30pm.", True),
        ("de", "Ein 100-prozentiger Service.", "We strive on 100% service.", True),
        ("zh", "英国将提供 7500 万英镑的援助。", "The UK will give £75 million in aid.", True),
        ("zh", "该剧将于 1 月 24 日播出。", "It airs on Jan. 24.", True),
        ("ja", "価格は１，０００ドル。", "The price is $1,000.", True),
        ("zh", "英国将提供 9000 万英镑的援助。", "The UK will give £75 million in aid.", False),
        ("en", "1. Bitcoin rose.\n2. UNK said it.", "Bitcoin rose, UNK said.", True),
        # Russian: words translated inside names, Irish names, polite pronouns, shouted lines, 24-hour clocks
        ("ru", "Команда сыграла на Кубке чемпионов.", "The team played in the Champions Cup.", True),
        ("ru", "Вышел Таджа Бирна.", "Tadhg Beirne came on.", True),
        ("ru", "Цену не изменить для Вас Сроки доставки указаны на сайте.", "Delivery times are online.", True),
        ("ru", "ТОВАР ОСТАЕТСЯ У НАС Пожалуйста, сохраните чек.", "Please keep the receipt.", True),
        ("ru", "Заказы принимаются до 12:00.", "Orders close at 12.00 noon.", True),
        ("ru", "Заказы принимаются до 12:30.", "Orders close at 12.00 noon.", False),
        ("ru", "Это стоит 12 долларов и 50 центов.", "It costs $12.50.", False),
        # German compounds whose first part is a verb's stem, or that end in a linking s; standard abbreviations
        ("de", "Bitte bestätigen Sie die Lieferadresse.", "Please confirm the delivery address.", True),
        ("de", "Mit Fensterpositions- und Größensteuerung.", "With window position and size controls.", True),
        ("de", "Für £25 zzgl. MwSt. erhältlich.", "Sold for £25 plus VAT.", True),
        # Japanese writes a number against the word before it; 億 and 万 combine; words a translation writes as digits
        ("ja", "配送には通常11営業日かかります。", "Delivery usually takes 11 business days.", True),
        ("ja", "配送には通常14営業日かかります。", "Delivery usually takes 11 business days.", False),
        ("ja", "支援金は2億8,600万ポンドとなる。", "Aid reaches £286 million.", True),
        ("ja", "支援金は2億6,800万ポンドとなる。", "Aid reaches £286 million.", False),
        ("ja", "3つ目のサービスは宅配便です。", "The third service is a courier.", True),
        ("ja", "弊社は60年以上の経験があります。", "We have over 6 decades of experience.", True),
        ("ja", "選挙まで2週間を切った。", "The vote is less than a fortnight away.", True),
        ("ja", "選挙まで3週間を切った。", "The vote is less than a fortnight away.", False),
        # Latin words in a Chinese or Japanese text: as the source spells them, give or take hyphens, accents, a plural
        ("ja", "WiFi接続が必要です。", "You need a Wi-Fi connection.", True),
        ("zh", "反馈和 DSR。", "Feedback and DSRs.", True),
        ("ja", "ヤン・クビシュ（Ján Kubiš）特使。", "The envoy Jan Kubis.", True),
        ("zh", "通过 eBay 退货。", "Return it via eBbay.", True),
    ],
)
def test_local_formats_and_placeholders(lang: str, text: str, source: str, ok: bool) -> None:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    fields = [("overview", text)]
    assert (not check_numbers(fields, ctx) and not check_entities(fields, ctx)) is ok


# Russian and Ukrainian names compared by sound (guards.translit): romanisation systems, English spellings (wh, magic
# e, silent h), Polish and Czech letters, a typo's swapped letters, a source's clipped name; and, the other way, names
# the sound match must not ground (Тесла is not "tools", Голдман is not a sentence's "Gold").
@pytest.mark.parametrize(
    ("lang", "text", "source", "flagged"),
    [
        ("ru", "Об этом сообщили в Уайтхорсе.", "Officials in Whitehorse said so.", []),
        ("ru", "Премьер-министр Матеуш Моравецкий выступил.", "Prime Minister Mateusz Morawiecki spoke.", []),
        ("uk", "Прем'єр Матеуш Моравецький виступив.", "Prime Minister Mateusz Morawiecki spoke.", []),
        ("ru", "Туристы прилетели на Кюрасао.", "Tourists flew to Curaçao.", []),
        ("ru", "Выступил певец Джеймс Блейк.", "The singer James Blake performed.", []),
        ("ru", "Выступил Махмуд Аббас.", "Mahmoud Abbas spoke.", []),
        ("ru", "Заказ пришёл от Амзаона.", "The order came from Amazon.", []),
        ("ru", "Матч выиграл Вест Бромвич.", "The match went to West Brom on Sunday.", []),
        ("ru", "Тренировка прошла на базе Snowden Park.", "Training took place at Snowdon Park.", []),
        ("uk", "Містить систему Nutrilux™ для тварин.", "Contains the Nutrilux™ system for pets.", []),
        ("uk", "Дощі пройшли у Північно-Західній Англії.", "Rain fell across Northwest England.", []),
        ("ru", "Спасибо за заказ на Вашем сайте Вашими руками.", "Thanks for the order on your site.", []),
        ("ru", "Переговоры с Чешской Республикой прошли.", "Talks with the Czech government went well.", []),
        ("ru", "Приложение Spotify Недавно я обновил телефон.", "The Spotify app Recently I updated my phone.", []),
        ("ru", "Пожар в Лондоне Семья погибшего просит помощи.", "Fire in London The family asks for help.", []),
        ("ru", "Об этом сообщили в Тесла.", "The tools were sold.", ["Тесла"]),
        ("uk", "Про це повідомили в Тесла.", "The tools were sold, Tess said.", ["Тесла"]),
        ("ru", "Об этом сообщили в Самсунг.", "Something happened to Samuel.", ["Самсунг"]),
        ("ru", "Об этом сообщил Голдман.", "Gold prices rose, Goldberg said.", ["Голдман"]),
        ("ru", "Матч выиграл Вест Бромвич.", "The match was won.", ["Бромвич"]),
        # a name whose consonant skeleton was one letter (й read as a vowel) used to be too short to check
        ("ru", "Об этом сообщили в Тойота.", "All is well, they said.", ["Тойота"]),
    ],
)
def test_names_are_compared_by_sound(lang: str, text: str, source: str, flagged: list[str]) -> None:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    assert [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)] == flagged


def _cldr_cities(lang: str) -> list[tuple[str, str]]:
    """(English, Russian or Ukrainian) exemplar cities of CLDR's time zones, as Babel ships them."""
    from babel import Locale

    target, english = Locale.parse(lang), Locale.parse("en")
    out = []
    for zone, data in target.time_zones.items():
        city = data.get("city")
        if isinstance(city, str) and "/" in zone and not zone.startswith("Etc/"):
            out.append((english.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[1].replace("_", " "), city))
    return out


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_sound_match_on_cldr_city_names(lang: str) -> None:
    """The matcher alone, on about 420 city names that CLDR gives in English and in the language (no corpus needed):
    most renderings match their English name (the rest are exonyms, Афины, or translated words, о-в Пасхи), and a
    city almost never matches twenty other cities' names."""
    import random
    import re

    from newsroom.guards.entities import SourceIndex, stems

    def grounded(city: str, source: str) -> bool:
        index = SourceIndex(source)
        words = [w for w in re.split(r"[\s,-]+", city) if w[:1].isupper()]
        return bool(words) and all(any(index._sounds_like(v) for v in stems(w)) for w in words)

    pairs = _cldr_cities(lang)
    rng = random.Random(1)
    matched = sum(grounded(city, en) for en, city in pairs)
    others = sum(grounded(city, " ".join(rng.sample([e for e, _ in pairs if e != en], 20))) for en, city in pairs)
    assert len(pairs) > 400
    assert matched / len(pairs) >= 0.85  # 0.90 when written
    assert others / len(pairs) <= 0.02  # 0.01 when written; the consonant skeletons it replaced: 0.10


# German: a name the lexicon also lists (Samsung, Tesla) is a name when nothing marks it as a German noun - no other
# form of it in the lexicon (Regierungen, Häuser, Ängste), no determiner, preposition (but von) or adjective before
# it; a Latin name is spelled as the source spells it (one slipped letter) or has its consonants, without the fuzzy
# skeletons that grounded Nvidia by "invited".
@pytest.mark.parametrize(
    ("text", "source", "flagged"),
    [
        ("Das teilte Samsung mit.", "The company said so.", ["Samsung"]),
        ("Gestern meldete Tesla Verluste.", "Losses were reported yesterday.", ["Tesla"]),
        ("Das meldete Nvidia.", "They invited us.", ["Nvidia"]),
        ("Die Firma Coinbsae meldete Gewinne.", "Coinbase reported gains.", []),
        ("Wir danken für Ihre Geduld.", "Thank you for your patience.", []),
        ("Viele Familien leben in Armut.", "Many families are poor.", []),
        # after "von" a listed name is who did it (ein Sprecher von Samsung); the cost: von Armut is flagged too
        ("Das sagte ein Sprecher von Samsung.", "A spokesman said so.", ["Samsung"]),
        ("Die Aktie von Intel fiel.", "The shares fell.", ["Intel"]),
        ("Die Aktie der Deutschen Bank fiel.", "Deutsche Bank shares fell.", []),
        ("Sie sprachen über Häuser und Ängste.", "They talked about homes and fears.", []),
        ("Die Regierung hat Verständnis.", "The government understands.", []),
    ],
)
def test_german_names_the_lexicon_lists(text: str, source: str, flagged: list[str]) -> None:
    ctx = GuardContext(lang="de", source=source, source_lang="en")
    assert [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)] == flagged


# German compounds: a name is no compound of German words when its last part is a lower-case word capitalised
# (Micro+soft, Gold+man), a three-letter entry without other forms (Toy+ota, Siem+ens) or when it is camel case
# (BlackRock); a real compound still is (Lade+kegel, Kompressions+beutel, Shuttle+hangar). A short consonant
# skeleton is a cognate only of a source word that looks like it: the same first sound, a length within two letters,
# one for two consonants (Dosis ~ dose, Krypto ~ crypto, Krim ~ Crimea; Bayer ~ buyer too, but not Bayer ~ over nor
# Huawei ~ have).
@pytest.mark.parametrize(
    ("text", "source", "flagged"),
    [
        ("Das teilte Microsoft mit.", "The company said so.", ["Microsoft"]),
        ("Das sagte ein Sprecher von Goldman Sachs.", "A spokesman said so.", ["Goldman"]),
        ("Das teilte Toyota mit.", "The company said so.", ["Toyota"]),
        ("Das teilte Siemens mit.", "The company said so.", ["Siemens"]),
        ("Das teilte BlackRock mit.", "The company said so.", ["BlackRock"]),
        ("Das teilte Bayer mit.", "It went over the limit.", ["Bayer"]),
        ("Das teilte Bayer mit.", "The buyer said so.", []),  # the price: a name that looks like a source word
        ("Das teilte Huawei mit.", "We have heard so.", ["Huawei"]),
        ("Russland annektierte die Krim.", "Russia annexed Crimea.", []),
        ("Der Ladekegel und der Kompressionsbeutel liegen im Shuttlehangar.", "The cone is in the hangar.", []),
        ("Die Mädchen nahmen eine hohe Dosis.", "The girls took a high dose.", []),
        ("Die Krypto-Community wuchs.", "The crypto community grew.", []),
        # a shouted preposition where the source shouts is no acronym; where it does not, it is one
        ("Bitte zahlen Sie VOR der Lieferung.", "Please pay BEFORE delivery.", []),
        ("Das teilte MIT mit.", "The team said so.", ["MIT"]),
    ],
)
def test_german_compounds_and_cognates(text: str, source: str, flagged: list[str]) -> None:
    ctx = GuardContext(lang="de", source=source, source_lang="en")
    assert [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)] == flagged


# Russian and Ukrainian: a capitalised word in its dictionary form right after a verb of saying is who said it, a name,
# even where the lexicon lists it as a common word (газпром, мета, тойота); after other words, and in an inflected
# form, the lexicon still excuses it (segments joined without a full stop; a common noun capitalised as a name).
@pytest.mark.parametrize(
    ("lang", "text", "source", "flagged"),
    [
        ("ru", "Об этом заявил Газпром.", "The company said so.", ["Газпром"]),
        ("ru", "Об этом сообщила Мета.", "The company said so.", ["Мета"]),
        ("ru", "Цены выросли, отметили Тойота и Хонда.", "Prices rose, they said.", ["Тойота"]),
        ("uk", "Про це заявив Ривер.", "The company said so.", ["Ривер"]),
        ("uk", "Про це повідомила Мета.", "The company said so.", ["Мета"]),
        ("ru", "Об этом заявил Газпром.", "Gazprom said so.", []),  # grounded by sound
        ("ru", "Компания назвала День труда выходным.", "The company made Labor Day a holiday.", []),
        ("ru", "Нажмите кнопку настройки Сообщите нам о проблеме.", "Press the settings button Tell us.", []),
        ("uk", "Санкції спонукало Захід діяти.", "Sanctions prompted the West to act.", []),
        ("ru", "Врачи сказали ПЦР-тест обязателен.", "Doctors said a PCR test is required.", []),
    ],
)
def test_a_name_after_a_verb_of_saying(lang: str, text: str, source: str, flagged: list[str]) -> None:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    assert [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)] == flagged


# A name's place. German: right after a verb of saying (Das teilte X mit) or right after "von" without an article,
# the lexicon's excuses are narrower: a bare plural (sagten Experten) or a compound whose last part is a German noun
# with forms of its own still passes; a compound made of a name's pieces does not (Walm+art, Barclay+s); a noun the
# lexicon knows passes after "von" (mass nouns stand there bare: von Kupfer), not after a verb of saying. The price,
# still missed: a name that is a compound of German words (Volks+wagen) or a noun after "von" (Alphabet, Kraken).
# Russian and Ukrainian: after a preposition a name the lexicon knows only as a name, left in its dictionary form (в
# Яндекс), is a label that must be grounded; declined (в Париже), lower-case in the lexicon (через Інтернет) or a
# feast in a time phrase (на Різдво), the lexicon still excuses it.
@pytest.mark.parametrize(
    ("lang", "text", "source", "flagged"),
    [
        ("de", "Das teilte Walmart mit.", "The company said so.", ["Walmart"]),
        ("de", "Das sagte ein Sprecher von Barclays.", "A spokesman said so.", ["Barclays"]),
        ("de", "Das teilte Alphabet mit.", "The company said so.", ["Alphabet"]),
        ("de", "Die Kinder lernen das Alphabet.", "The children learn to read.", []),
        ("de", "Das sagten Experten.", "Specialists said so.", []),
        ("de", "Die Region hat Vorkommen von Kupfer.", "The region has deposits of metal.", []),
        ("de", "Das ist eine Frage von Sicherheitsbedenken.", "It is a question of safety.", []),
        ("de", "Das teilte Volkswagen mit.", "The company said so.", []),  # the price, above
        ("ru", "Об этом сообщили в Яндекс.", "The company said so.", ["Яндекс"]),
        ("ru", "Он живёт в Париже.", "He lives in France.", []),
        ("uk", "Оплата через Інтернет.", "Payment online.", []),
        ("uk", "Ми чекали на Різдво.", "We waited for the holidays.", []),
    ],
)
def test_a_name_in_a_names_place(lang: str, text: str, source: str, flagged: list[str]) -> None:
    ctx = GuardContext(lang=lang, source=source, source_lang="en")
    assert [f.detail.split("'")[1] for f in check_entities([("overview", text)], ctx)] == flagged
