"""The scripted server (not a model) tells its clients apart by API key: what the chaos benchmark's workers mode
reads to count the calls one killed worker had in flight while two others kept calling."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

from newsroom.devtools.scripted_llm import start_scripted_server


def _call(base: str, key: str) -> None:
    body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(
        f"{base}/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def _get(base: str, path: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(f"{base.removesuffix('/v1')}{path}", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_in_flight_and_request_counts_per_client() -> None:
    server = start_scripted_server(latency_ms=600)
    try:
        since = time.monotonic()
        keys = ["slot-a", "slot-a", "slot-b"]
        threads = [threading.Thread(target=_call, args=(server.base_url, k)) for k in keys]
        for t in threads:
            t.start()
        time.sleep(0.3)
        at = time.monotonic()
        mid = {
            c: _get(server.base_url, f"/_in_flight?at={at!r}&since={since!r}&client={c}")
            for c in ("slot-a", "slot-b", "x")
        }
        everyone = _get(server.base_url, f"/_in_flight?at={at!r}&since={since!r}")
        for t in threads:
            t.join()
        after = time.monotonic()
        done_a = _get(server.base_url, f"/_in_flight?at={after!r}&since={since!r}&within=5&client=slot-a")
        stats = _get(server.base_url, "/_stats")
    finally:
        server.stop()
    assert [mid[c]["in_flight"] for c in ("slot-a", "slot-b", "x")] == [2, 1, 0]
    assert everyone["in_flight"] == 3
    assert done_a == {"at": after, "in_flight": 0, "finished_within": 2}
    assert stats["requests_by_client"] == {"slot-a": 2, "slot-b": 1}
