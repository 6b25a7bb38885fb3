"""Cover images: the card generator's sizes, Unsplash against a loopback server answering in the API's documented
shape (search → urls/user/links, then the download ping), the local library, and the fallbacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from newsroom.config import ImagesConfig, PublishConfig, Settings
from newsroom.images import CoverRequest
from newsroom.images.base import CARD_ALIASES, CARD_SIZES, CoverError
from newsroom.images.card import CardProvider
from newsroom.images.draw import Layout, _font, _scaled, _text_width, layout, render_card
from newsroom.images.library import LibraryProvider, best_match
from newsroom.images.unsplash import UnsplashProvider
from newsroom.models import COVER_SIZES, CoverImage
from newsroom.stages.illustrate import Illustrator

KEY_ENV = "NEWSROOM_TEST_UNSPLASH_KEY"
REQUEST = CoverRequest(
    slug="harbor-exchange-raises", title="Harbor Exchange lands $1.2 billion", image_query="crypto exchange",
    tags=["BTC", "HARBOR EXCHANGE"], category="BUSINESS",
)  # fmt: skip


def _photo(base: str) -> dict:
    """One result of GET /search/photos as Unsplash documents it (fields trimmed to those that matter here)."""
    img = "https://images.unsplash.com/photo-1639762681485-074b7f938ba0"
    return {
        "id": "eOLpJytrbsQ",
        "width": 5245,
        "height": 3497,
        "description": "A man drinking a coffee.",
        "urls": {
            "raw": f"{img}?ixid=abc",
            "full": f"{img}?ixid=abc&q=85&fm=jpg",
            "regular": f"{img}?ixid=abc&w=1080&fit=max",
            "small": f"{img}?ixid=abc&w=400&fit=max",
            "thumb": f"{img}?ixid=abc&w=200&fit=max",
            "small_s3": "https://s3.us-west-2.amazonaws.com/images.unsplash.com/small/photo-1639762681485",
        },
        "links": {
            "self": f"{base}/photos/eOLpJytrbsQ",
            "html": "https://unsplash.com/photos/eOLpJytrbsQ",
            "download": "https://unsplash.com/photos/eOLpJytrbsQ/download",
            "download_location": f"{base}/photos/eOLpJytrbsQ/download?ixid=abc",
        },
        "user": {
            "id": "Ul0QVz12Goo",
            "username": "ugmonk",
            "name": "Jeff Sheldon",
            "links": {"self": f"{base}/users/ugmonk", "html": "https://unsplash.com/@ugmonk"},
        },
    }


def _provider(server: HTTPServer) -> UnsplashProvider:
    return UnsplashProvider(api_url=server.url_for("").rstrip("/"), key_env=KEY_ENV, app_name="newsroom_test")


# ---- card --------------------------------------------------------------------------------------------------------


def test_card_sizes_and_urls(tmp_path: Path) -> None:
    """Four files (no 2400 px copy of a vector card): ``raw`` is the full file's URL as ``small_s3`` is the small
    one's, and every one of the six URLs is a file on disk."""
    cover = asyncio.run(CardProvider(tmp_path / "covers", "/covers", "NEWSROOM").cover(REQUEST))
    folder = tmp_path / "covers" / REQUEST.slug
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.png" for n in CARD_SIZES)
    for name, size in CARD_SIZES.items():
        with Image.open(folder / f"{name}.png") as img:
            assert img.size == size and img.format == "PNG"
        assert getattr(cover, name) == f"/covers/{REQUEST.slug}/{name}.png"
    assert cover.raw == cover.full and cover.small_s3 == cover.small and cover.credit is None
    for key in COVER_SIZES:
        assert (tmp_path / getattr(cover, key).removeprefix("/")).is_file(), key
    assert len(CARD_SIZES) == 4 and set(COVER_SIZES) == {*CARD_SIZES, *CARD_ALIASES}
    assert set(CARD_ALIASES.values()) <= set(CARD_SIZES)


def test_card_sizes_share_one_layout_that_fits_each() -> None:
    """The title is wrapped once, at the largest size; each smaller size uses the same lines at a scaled font where
    every line fits its width, and wraps afresh where hinting makes a line too wide."""
    title = "Harbor Labs moves $120 million in bitcoin as traders wait for a fuller statement from the exchange"
    full = CARD_SIZES["full"]
    ref = layout(title, full)
    assert 1 < len(ref.lines) <= 6 and ref.height == full[1] and " ".join(ref.lines) == title
    for size in CARD_SIZES.values():
        text = _scaled(title, ref, size)
        assert text.lines == ref.lines and text.font_size == max(8, ref.font_size * size[1] // full[1])
        font = _font(text.font_size)
        assert all(font.getlength(line) <= _text_width(size[0]) for line in text.lines)
        assert len(text.lines) * text.font_size * 1.2 <= size[1] * 0.62
    thumb = CARD_SIZES["thumb"]
    too_wide = Layout([title], ref.font_size, full[1])  # one line: far wider than the thumb at the scaled font
    assert _scaled(title, too_wide, thumb) == layout(title, thumb)
    with_ref = render_card(title, "N", "markets", thumb, ref)
    assert with_ref.size == thumb and with_ref.mode == "P"
    assert with_ref.tobytes() == render_card(title, "N", "markets", thumb, _scaled(title, ref, thumb)).tobytes()


def test_card_refuses_path_tricks(tmp_path: Path) -> None:
    card = CardProvider(tmp_path, "/covers", "N")
    for slug in ("../evil", "a/b", "", ".."):
        with pytest.raises(ValueError):
            card.render(CoverRequest(slug=slug, title="t", image_query="q"))


# ---- unsplash ----------------------------------------------------------------------------------------------------


def test_unsplash_search_ping_and_credit(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-access-key")
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_ordered_request(
        "/search/photos",
        query_string={
            "query": "crypto exchange",
            "per_page": "1",
            "orientation": "landscape",
            "content_filter": "high",
        },
        headers={"Authorization": "Client-ID test-access-key", "Accept-Version": "v1"},
    ).respond_with_json(
        {"total": 133, "total_pages": 133, "results": [_photo(base)]}, headers={"X-Ratelimit-Remaining": "49"}
    )
    httpserver.expect_ordered_request(
        "/photos/eOLpJytrbsQ/download", query_string="ixid=abc", headers={"Authorization": "Client-ID test-access-key"}
    ).respond_with_json({"url": "https://image.unsplash.com/example"})
    provider = _provider(httpserver)
    cover = asyncio.run(provider.cover(REQUEST))
    httpserver.check_assertions()  # both requests came, in order: the search and the download ping
    assert cover.regular.endswith("w=1080&fit=max") and cover.small_s3.startswith("https://s3.")
    assert cover.credit == {
        "name": "Jeff Sheldon",
        "url": "https://unsplash.com/@ugmonk?utm_source=newsroom_test&utm_medium=referral",
        "source": "Unsplash",
        "sourceUrl": "https://unsplash.com?utm_source=newsroom_test&utm_medium=referral",
    }
    assert provider.remaining == 49


def test_unsplash_rate_limit_pauses_the_provider(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "k")
    hits: list[str] = []

    def limited(request: Request) -> Response:
        hits.append(request.path)
        return Response("Rate Limit Exceeded", status=403, headers={"X-Ratelimit-Remaining": "0"})

    httpserver.expect_request("/search/photos").respond_with_handler(limited)
    provider = _provider(httpserver)
    with pytest.raises(CoverError, match="rate limit"):
        asyncio.run(provider.cover(REQUEST))
    with pytest.raises(CoverError, match="paused"):
        asyncio.run(provider.cover(REQUEST))
    assert hits == ["/search/photos"]  # the second call did not even ask


def test_unsplash_without_key_or_results(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(CoverError, match=KEY_ENV):
        asyncio.run(_provider(httpserver).cover(REQUEST))
    monkeypatch.setenv(KEY_ENV, "k")
    httpserver.expect_request("/search/photos").respond_with_json({"total": 0, "total_pages": 0, "results": []})
    with pytest.raises(CoverError, match="no usable Unsplash photo"):
        asyncio.run(_provider(httpserver).cover(REQUEST))


def test_illustrator_falls_back_to_the_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = Settings(
        publish=PublishConfig(content_dir=tmp_path / "content"),  # covers: beside it, tmp_path / "covers"
        images=ImagesConfig(
            provider="unsplash", unsplash_access_key_env=KEY_ENV, unsplash_api_url="http://127.0.0.1:9"
        ),
    )
    cover = asyncio.run(Illustrator(settings).cover(REQUEST))
    assert cover.regular == f"/covers/{REQUEST.slug}/regular.png"
    assert (tmp_path / "covers" / REQUEST.slug / "regular.png").is_file()
    none = settings.model_copy(update={"images": ImagesConfig(provider="none")})
    assert asyncio.run(Illustrator(none).cover(REQUEST)).small_s3 == f"/covers/{REQUEST.slug}/small_s3.png"


async def _drawn(illustrator: Illustrator) -> CoverImage:
    """The cover, once its card is on disk (cards are drawn in the background)."""
    cover = await illustrator.cover(REQUEST)
    await illustrator.drain()
    return cover


def test_covers_go_where_the_site_serves_them_with_absolute_urls(tmp_path: Path) -> None:
    from newsroom.web.app import covers_mount

    site = Settings(
        publish=PublishConfig(content_dir=tmp_path / "c", covers_dir=tmp_path / "site" / "public" / "covers")
    )
    assert covers_mount(site) == "/covers"
    served = site.model_copy(update={"web": site.web.model_copy(update={"public_url": "https://news.example/"})})
    cover = asyncio.run(_drawn(Illustrator(served)))
    assert cover.regular == f"https://news.example/covers/{REQUEST.slug}/regular.png"
    assert (tmp_path / "site" / "public" / "covers" / REQUEST.slug / "regular.png").is_file()
    assert covers_mount(served) == "/covers"  # newsroom serve answers at the URL it wrote
    elsewhere = served.model_copy(
        update={"publish": served.publish.model_copy(update={"site_url": "https://site.example"})}
    )
    assert elsewhere.cover_url_base() == "https://site.example/covers"  # the site's URL wins over the server's
    assert covers_mount(elsewhere) is None  # those covers are the site's to serve
    cdn = Settings(publish=PublishConfig(cover_base_url="https://cdn.example/img/"))
    assert cdn.cover_url_base() == "https://cdn.example/img" and covers_mount(cdn) is None


# ---- library -----------------------------------------------------------------------------------------------------


def test_library_tag_match(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "regulation").mkdir(parents=True)
    for name in ("regulation/court-gavel.png", "bitcoin-exchange-screen.png", "ethereum-logo.png"):
        Image.new("RGB", (900, 600), (10, 20, 30)).save(lib / name)
    (lib / "notes.txt").write_text("bitcoin exchange", encoding="utf-8")
    assert best_match(lib, REQUEST) == lib / "bitcoin-exchange-screen.png"  # BTC → bitcoin, "exchange"
    assert (
        best_match(lib, CoverRequest(slug="s", title="t", image_query="court ruling"))
        == lib / "regulation/court-gavel.png"
    )
    assert best_match(lib, CoverRequest(slug="s", title="t", image_query="weather")) is None
    cover = asyncio.run(LibraryProvider(lib, tmp_path / "covers", "/c").cover(REQUEST))
    assert cover.thumb == f"/c/{REQUEST.slug}/thumb.png"
    assert cover.raw == f"/c/{REQUEST.slug}/full.png"
    with Image.open(tmp_path / "covers" / REQUEST.slug / "full.png") as img:
        assert img.size == CARD_SIZES["full"]


def test_the_card_is_drawn_off_the_critical_path(tmp_path: Path) -> None:
    """With the card provider the URLs come back at once; the files are on disk once ``drain`` returns."""
    settings = Settings(publish=PublishConfig(content_dir=tmp_path / "content"), images=ImagesConfig(provider="card"))
    cover = asyncio.run(_drawn(Illustrator(settings)))
    raw = settings.publish.covers_folder() / REQUEST.slug / "full.png"  # raw is the largest file drawn
    assert cover.raw.endswith(f"/{REQUEST.slug}/full.png") and raw.is_file()
    with Image.open(raw) as img:
        assert img.size == CARD_SIZES["full"] and img.mode == "P" and len(img.getcolors(256) or []) > 8


def test_a_card_that_cannot_be_drawn_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(publish=PublishConfig(content_dir=tmp_path / "content"), images=ImagesConfig(provider="card"))
    settings.publish.covers_folder().parent.mkdir(parents=True, exist_ok=True)
    settings.publish.covers_folder().write_text("a file where the covers folder should be")

    async def go() -> None:
        illustrator = Illustrator(settings)
        await illustrator.cover(REQUEST)
        await illustrator.drain()

    asyncio.run(go())
    assert "cover card not drawn" in caplog.text
