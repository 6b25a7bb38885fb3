"""store/batch.py: writes queued at the same moment share one commit; a failing write fails only its own caller."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from newsroom.llm.base import CallRecord
from newsroom.store.db import Store
from newsroom.store.queries import add_calls
from newsroom.store.tables import ModelCallRow


def record(key: str) -> CallRecord:
    return CallRecord("write", "openai", "m", 0, 0, 0.0, "started", call_key=key)


def test_concurrent_writes_share_commits_and_each_is_committed_when_awaited(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")

    async def one(key: str) -> int:
        await store.batch.write(lambda s: add_calls(s, [(record(key), None)]))
        with store.session() as s:  # committed by the time the write returns
            return s.scalar(select(func.count()).where(ModelCallRow.call_key == key)) or 0

    async def main(round_: int) -> list[int]:
        return await asyncio.gather(*(one(f"r{round_}-{i}") for i in range(50)))

    assert asyncio.run(main(1)) == [1] * 50
    assert store.batch.writes == 50
    assert store.batch.batches < 50  # they queued behind each other's commits
    assert asyncio.run(main(2)) == [1] * 50  # a second event loop (one asyncio.run per CLI round) works as well
    store.close()


def test_a_failing_write_fails_only_its_caller(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")

    def bad(s):  # type: ignore[no-untyped-def]
        raise ValueError("this write is broken")

    async def main() -> list[object]:
        writes = [store.batch.write(lambda s, i=i: add_calls(s, [(record(f"ok{i}"), None)])) for i in range(5)]
        return await asyncio.gather(*writes[:2], store.batch.write(bad), *writes[2:], return_exceptions=True)

    results = asyncio.run(main())
    assert [isinstance(r, ValueError) for r in results] == [False, False, True, False, False, False]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(ModelCallRow)) == 5
    store.close()


def test_a_lone_write_returns_its_value(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    assert asyncio.run(store.batch.write(lambda s: 41 + 1)) == 42
    store.close()


def test_an_attempt_started_from_the_event_loop_marks_the_first_call(tmp_path: Path) -> None:
    """``astarted`` (what the providers call on an event loop) sets ``first_started`` as ``started`` does: the
    pipeline's sentiment prefetch and encoder warm-up wait for it, and without it waited their whole timeout while the
    first stories classified their headlines one at a time. The row is committed first."""
    from newsroom.llm.usage import CallBuffer

    store = Store(f"sqlite:///{tmp_path}/calls.db")
    for buffer in (CallBuffer(store), CallBuffer()):
        assert not buffer.first_started.is_set()
        asyncio.run(buffer.astarted(record(f"k{id(buffer)}")))
        assert buffer.first_started.is_set()
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(ModelCallRow)) == 1
    store.close()


def test_a_call_s_outcome_completes_its_started_row_in_the_same_or_a_later_transaction(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    done = CallRecord("write", "openai", "m", 120, 340, 250.0, "ok", call_key="later")
    with store.session() as s:
        add_calls(s, [(record("later"), None)])
    with store.session() as s:
        add_calls(s, [(done, 7)])
    with store.session() as s:  # started and answered before the transaction commits (a fast server)
        add_calls(
            s, [(record("same"), None), (CallRecord("write", "openai", "m", 1, 2, 3.0, "ok", call_key="same"), 8)]
        )
    with store.session() as s:
        rows = {r.call_key: r for r in s.scalars(select(ModelCallRow))}
    assert sorted(rows) == ["later", "same"]
    assert (rows["later"].outcome, rows["later"].tokens_out, rows["later"].story_id) == ("ok", 340, 7)
    assert (rows["same"].outcome, rows["same"].tokens_in, rows["same"].story_id) == ("ok", 1, 8)
    store.close()
