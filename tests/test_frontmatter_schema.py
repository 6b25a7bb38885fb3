"""`newsroom schema`: the frontmatter's JSON Schema (2020-12) holds for the seed and for every file a run writes; the
generated Astro and Nuxt collection definitions are the ones the examples use; the OpenAPI documents the frontmatter
with it and declares the bearer and cookie security."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
import yaml
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from newsroom.cli import app as cli
from newsroom.publish import split_article
from newsroom.publish.schema import astro_config, json_schema, nuxt_config
from newsroom.store.db import Store
from newsroom.web import create_app
from web_support import corpus_newsroom

REPO = Path(__file__).resolve().parent.parent


def validator() -> jsonschema_rs.Draft202012Validator:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema_rs.Draft202012Validator(schema)


def front(path: Path) -> dict:
    return yaml.safe_load(split_article(path.read_text(encoding="utf-8"))[0])


def test_the_seed_is_valid_and_broken_frontmatter_is_not(seed_path: Path) -> None:
    v = validator()
    seed = front(seed_path)
    assert v.is_valid(seed)
    assert v.is_valid({**seed, "sources": [{"name": "Decrypt", "url": "https://decrypt.co/1"}]})  # a story's others
    for broken in (
        {**seed, "sources": [{"name": "Decrypt"}]},
        {**seed, "publishedAt": "2025-12-16 15:34"},
        {**seed, "sentiment": "GOOD"},
        {**seed, "score": 101},
        {**seed, "unknownKey": 1},
        {k: val for k, val in seed.items() if k != "coverImage"},
        {**seed, "coverImage": {**seed["coverImage"], "small_s3": ""}},
    ):
        assert not v.is_valid(broken), broken


def test_every_published_file_is_valid_and_the_api_documents_it(
    tmp_path: Path, sqlite_store: Store, httpserver: HTTPServer, corpus: Path, scripted_llm: str
) -> None:
    newsroom = corpus_newsroom(tmp_path, sqlite_store, httpserver, corpus, scripted_llm)
    v = validator()
    files = sorted(newsroom.content.rglob("*.md"))
    assert files
    for f in files:
        data = front(f)
        errors = [e.message for e in v.iter_errors(data)]
        assert not errors, (f, errors)
        assert data["translationKey"] == data["slug"] == f.stem

    client = TestClient(create_app(newsroom.settings, sqlite_store))
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["sessionCookie"]["in"] == "cookie" and schemes["sessionCookie"]["name"] == "newsroom_session"
    reads = spec["paths"]["/api/v1/articles/{lang}/{slug}"]["get"]["security"]
    assert reads == [{"bearerAuth": []}, {"sessionCookie": []}, {}]  # public reads: no credentials needed either
    assert {"bearerAuth": []} in spec["paths"]["/api/v1/sources"]["post"]["security"]
    assert {"sessionCookie": []} not in spec["paths"]["/api/v1/sources"]["post"]["security"]
    detail = json.dumps(spec["components"]["schemas"])
    assert '"Frontmatter' in detail and '"CoverImageSchema' in detail
    props = next(s for name, s in spec["components"]["schemas"].items() if name.startswith("Frontmatter"))["properties"]
    assert list(props)[:3] == ["title", "description", "publishedAt"] and "translationKey" in props

    # the API's copy of the frontmatter is the file's, key for key (no nulls for absent keys)
    lang, slug = files[0].parent.name, files[0].stem
    body = client.get(f"/api/v1/articles/{lang}/{slug}").json()
    assert body["frontmatter"] == front(files[0]) and list(body["frontmatter"]) == list(front(files[0]))
    assert v.is_valid(body["frontmatter"])


@pytest.mark.parametrize(
    ("kind", "path"), [("astro", "examples/astro/src/content.config.ts"), ("nuxt", "examples/nuxt/content.config.ts")]
)
def test_generated_collection_definitions_are_the_examples(kind: str, path: str) -> None:
    made = {"astro": astro_config, "nuxt": nuxt_config}[kind]()
    assert (REPO / path).read_text(encoding="utf-8") == made, f"regenerate with `newsroom schema {kind} -o {path}`"
    result = CliRunner().invoke(cli, ["schema", kind])
    assert result.exit_code == 0 and result.stdout == made
    if kind == "astro":
        assert "publishedAt: z.coerce.date()" in made and "generateId: ({ entry }) => entry.replace(" in made
    else:
        assert 'type: "page"' in made and "publishedAt: z.string()" in made


def test_schema_command_prints_json_and_refuses_unknown_kinds(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0 and json.loads(result.stdout) == json_schema()
    out = tmp_path / "fm.schema.json"
    assert CliRunner().invoke(cli, ["schema", "json", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == json_schema()
    bad = CliRunner().invoke(cli, ["schema", "yaml"])
    assert bad.exit_code == 2
