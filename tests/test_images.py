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
from newsroom.images.base import CARD_SIZES, CoverError
from newsroom.images.card import CardProvider
from newsroom.images.library import LibraryProvider, best_match
from newsroom.images.unsplash import UnsplashProvider
from newsroom.models import COVER_SIZES
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
    cover = asyncio.run(CardProvider(tmp_path / "covers", "/covers", "NEWSROOM").cover(REQUEST))
    folder = tmp_path / "covers" / REQUEST.slug
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.png" for n in CARD_SIZES)
    for name, size in CARD_SIZES.items():
        with Image.open(folder / f"{name}.png") as img:
            assert img.size == size and img.format == "PNG"
        assert getattr(cover, name) == f"/covers/{REQUEST.slug}/{name}.png"
    assert cover.small_s3 == cover.small and cover.credit is None
    assert len(CARD_SIZES) == 5 and set(COVER_SIZES) == {*CARD_SIZES, "small_s3"}


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


def test_covers_go_where_the_site_serves_them_with_absolute_urls(tmp_path: Path) -> None:
    from newsroom.web.app import covers_mount

    site = Settings(
        publish=PublishConfig(content_dir=tmp_path / "c", covers_dir=tmp_path / "site" / "public" / "covers")
    )
    assert covers_mount(site) == "/covers"
    served = site.model_copy(update={"web": site.web.model_copy(update={"public_url": "https://news.example/"})})
    cover = asyncio.run(Illustrator(served).cover(REQUEST))
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
    with Image.open(tmp_path / "covers" / REQUEST.slug / "raw.png") as img:
        assert img.size == CARD_SIZES["raw"]


def test_the_card_is_drawn_off_the_critical_path(tmp_path: Path) -> None:
    """With the card provider the URLs come back at once; the files are on disk once ``drain`` returns."""
    settings = Settings(publish=PublishConfig(content_dir=tmp_path), images=ImagesConfig(provider="card"))

    async def go() -> tuple[object, bool]:
        illustrator = Illustrator(settings)
        cover = await illustrator.cover(REQUEST)
        await illustrator.drain()
        return cover, (tmp_path / "covers" / REQUEST.slug / "raw.png").is_file()

    cover, drawn = asyncio.run(go())
    assert cover.raw == f"/covers/{REQUEST.slug}/raw.png" and drawn  # type: ignore[attr-defined]
    with Image.open(tmp_path / "covers" / REQUEST.slug / "raw.png") as img:
        assert img.size == CARD_SIZES["raw"] and img.mode == "P" and len(img.getcolors(256) or []) > 8
