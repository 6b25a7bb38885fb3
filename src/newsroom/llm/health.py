"""Is the model endpoint answering again? One cheap request (``GET {base_url}/models``), not a model call.

Stories that failed because the endpoint was down (refused, 5xx, timed out) wait out a capped exponential backoff:
60 s, 2 min, 4 min … 1 h. After a long outage that backoff alone would keep them waiting up to its last step past
the endpoint's return. So at the start of each round, while such stories wait, the scheduler (``pipeline.py``) asks
:func:`probe`, and makes them due at once when it says ``back``: this process found the endpoint down, and now it
answers. ``up`` (it answers, and this process never saw it down) changes nothing: a story that failed while the
endpoint answered (one hard request, a restart after the outage) keeps its backoff, so no story is retried every
round.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from ..config import LLMConfig
from .base import LLMError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 10.0
_seen_down: dict[str, datetime] = {}  # endpoint → when a probe of this process last found it down


def _endpoint(cfg: LLMConfig) -> str:
    return (cfg.base_url or "https://api.openai.com/v1").rstrip("/")


async def probe(cfg: LLMConfig) -> str:
    """``"down"``, ``"back"`` (it answers, and an earlier probe of this process found it down: an outage has ended)
    or ``"up"`` (it answers; this process has not seen it down)."""
    if not await endpoint_answers(cfg):
        _seen_down[_endpoint(cfg)] = datetime.now(UTC)
        return "down"
    return "back" if _seen_down.pop(_endpoint(cfg), None) is not None else "up"


async def endpoint_answers(cfg: LLMConfig, client: httpx.AsyncClient | None = None) -> bool:
    """True when the endpoint answers ``GET /models`` with a 2xx (always True for the embedded local model)."""
    if cfg.provider != "openai":
        return True
    from .openai_compat import resolve_api_key  # the openai SDK: imported by the calls anyway, not at start

    base = _endpoint(cfg)
    try:
        headers = {"Authorization": f"Bearer {resolve_api_key(cfg)}"}
    except LLMError:  # no key: the calls themselves say so
        return False
    own = client is None
    http = client or httpx.AsyncClient(timeout=PROBE_TIMEOUT_S)
    try:
        response = await http.get(f"{base}/models", headers=headers, timeout=PROBE_TIMEOUT_S)
        return response.is_success
    except httpx.HTTPError as exc:
        log.debug("the model endpoint does not answer yet: %s", exc)
        return False
    finally:
        if own:
            await http.aclose()
