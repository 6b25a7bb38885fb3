"""Schemathesis against /openapi.json: generated requests (valid and invalid) never get a 5xx, and every response
matches the schema it declares. Runs against the app over a real newsroom, once as the public and once as the
admin (writes included: edits, pins, publish/unpublish, sources)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pytest_httpserver import HTTPServer

from newsroom.store.db import Store
from newsroom.web import create_app
from web_support import AUTH, Newsroom, corpus_newsroom

EXAMPLES = 25
# Every other check stays on (no 5xx, status codes and bodies as declared, invalid input rejected with 4xx). This one
# is off: some schema-valid requests are rightly refused for what no schema can say (an opaque cursor this API never
# gave out, since ≥ until, a category outside the configured taxonomy, a source key that exists already).
SEMANTIC = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def newsroom(tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str) -> Newsroom:
    return corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)


@pytest.fixture
def web_schema(newsroom: Newsroom) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(newsroom.settings, newsroom.store))


_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _fuzz(schema: schemathesis.BaseSchema, headers: dict[str, str] | None, skip: tuple[str, ...] = ()) -> int:
    """Every operation, EXAMPLES generated cases each; returns how many operations ran."""
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if any(s in f"{op.method.upper()} {op.path}" for s in skip):
            continue

        @given(case=op.as_strategy())
        @_settings
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=SEMANTIC)

        run()
        ran += 1
    return ran


def test_public(web_schema: schemathesis.BaseSchema) -> None:
    assert _fuzz(web_schema, None) >= 15


def test_admin(web_schema: schemathesis.BaseSchema) -> None:
    # everything but the two actions that need a model or destroy the data under test
    assert _fuzz(web_schema, AUTH, skip=("/regenerate", "DELETE ")) >= 13
