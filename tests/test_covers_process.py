"""Cover cards drawn in a card process (``images/card_process.py``): the same files, nothing lost when it dies."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsroom.config import ImagesConfig, PublishConfig, Settings
from newsroom.images import CoverRequest, card_process
from newsroom.images.card_process import CardPool
from newsroom.images.draw import CARD_SIZES, write_card
from newsroom.stages.illustrate import Illustrator

TITLE = "Harbor Exchange lands $1.2 billion as traders wait for a fuller statement"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def pool() -> Iterator[CardPool]:
    p = CardPool(1)
    yield p
    p.close()


def test_the_card_process_writes_the_same_bytes(tmp_path: Path, pool: CardPool) -> None:
    pool.draw(TITLE, "NEWSROOM", "BUSINESS", tmp_path / "child")
    write_card(TITLE, "NEWSROOM", "BUSINESS", tmp_path / "here")
    assert pool.pids() and os.getpid() not in pool.pids()
    assert set(_files(tmp_path / "child")) == {f"{n}.png" for n in CARD_SIZES}
    assert _files(tmp_path / "child") == _files(tmp_path / "here")


def test_the_card_process_imports_only_pillow_and_the_drawing(pool: CardPool) -> None:
    modules = set(pool.modules())
    assert {"PIL.Image", "PIL.ImageDraw", "newsroom.images.draw"} <= modules
    heavy = {"torch", "numpy", "pydantic", "httpx", "sqlalchemy", "newsroom.config", "newsroom.models"}
    assert not heavy & modules


def test_a_killed_card_process_loses_no_card(tmp_path: Path, pool: CardPool, caplog: pytest.LogCaptureFixture) -> None:
    pool.draw(TITLE, "N", "k", tmp_path / "a")
    (first,) = pool.pids()
    os.kill(first, signal.SIGKILL)
    with caplog.at_level(logging.WARNING):
        pool.draw(TITLE, "N", "k", tmp_path / "b")  # the process is gone: drawn here instead
    assert "exit status -9" in caplog.text and "drawn in this process" in caplog.text
    assert _files(tmp_path / "b") == _files(tmp_path / "a")
    pool.draw(TITLE, "N", "k", tmp_path / "c")  # the next card starts a new card process
    assert pool.pids() and pool.pids() != [first] and not pool.in_process
    assert _files(tmp_path / "c") == _files(tmp_path / "a")


def test_a_card_process_that_cannot_start_leaves_the_cards_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(card_process.sys, "executable", str(tmp_path / "no-such-python"))
    pool = CardPool(1)
    for i in range(card_process.MAX_FAILURES + 1):
        pool.draw(f"{TITLE} {i}", "N", "k", tmp_path / str(i))
        assert len(list((tmp_path / str(i)).iterdir())) == len(CARD_SIZES)
    assert pool.in_process and pool.pids() == []
    assert "could not start" in caplog.text and "drawn in this process from now on" in caplog.text


def test_a_card_that_fails_in_the_card_process_raises_here(tmp_path: Path, pool: CardPool) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        pool.draw(TITLE, "N", "k", tmp_path / "a-file" / "slug")
    (pid,) = pool.pids()
    pool.draw(TITLE, "N", "k", tmp_path / "ok")  # the card process goes on
    assert pool.pids() == [pid] and len(list((tmp_path / "ok").iterdir())) == len(CARD_SIZES)


@pytest.mark.parametrize("processes", [1, 0])
def test_the_illustrator_draws_in_card_processes_unless_set_to_0(tmp_path: Path, processes: int) -> None:
    settings = Settings(
        publish=PublishConfig(content_dir=tmp_path / "content"), images=ImagesConfig(card_processes=processes)
    )
    request = CoverRequest(slug="harbor", title=TITLE, image_query="exchange", category="BUSINESS")

    async def go() -> Illustrator:
        illustrator = Illustrator(settings)
        await illustrator.cover(request)
        await illustrator.drain()
        return illustrator

    illustrator = asyncio.run(go())
    assert len(list((settings.publish.covers_folder() / "harbor").iterdir())) == len(CARD_SIZES)
    pool = illustrator.card.pool
    assert (pool is not None and len(pool.pids()) == 1) if processes else pool is None
    illustrator.card.close()
