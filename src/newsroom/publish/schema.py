"""The frontmatter as a machine-readable schema, and the site generators' collection definitions made from it.

:class:`Frontmatter` (pydantic) is the contract of :func:`newsroom.publish.frontmatter.frontmatter_data`: the seed's
keys in the seed's order, then the additive ones. From it come

* :func:`json_schema`: JSON Schema draft 2020-12 (``newsroom schema``; the OpenAPI document uses the same models);
* :func:`astro_config`: ``src/content.config.ts`` for Astro's content layer (glob loader; the entry id is the file's
  path, ``en/some-slug``, so every language is its own entry; the quoted timestamps become dates with
  ``z.coerce.date()``);
* :func:`nuxt_config`: ``content.config.ts`` for Nuxt Content 3 (a ``page`` collection over ``articles/**/*.md``).

Hugo needs no schema, only ``[frontmatter] date = ["publishedAt"]`` and ``lastmod = ["updatedAt"]`` in its config
(examples/hugo/hugo.toml); languages are linked by ``translationKey``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_ID",
    "CoverImageSchema",
    "Frontmatter",
    "astro_config",
    "json_schema",
    "nuxt_config",
    "zod",
]

SCHEMA_ID = "https://github.com/newsroom/newsroom/schemas/frontmatter.schema.json"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
DATE_KEYS = ("publishedAt", "updatedAt")


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _optional(description: str | None = None) -> Any:
    """An optional key: absent from the file (and from the API's copy of it) when it has no value, never null."""
    return Field(default=None, description=description, exclude_if=lambda v: v is None)


class SourceSchema(_Schema):
    name: str
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    type: Literal["RSS", "ATOM", "API"]


class SourceLinkSchema(_Schema):
    """One of a story's other sources (the lead is ``sourceUrl``)."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)


class CreditSchema(_Schema):
    """The photographer and the photo's source (Unsplash's terms require it)."""

    name: str
    url: str | None = _optional()
    source: str | None = _optional()
    sourceUrl: str | None = _optional()


class CoverImageSchema(_Schema):
    """Unsplash's ``urls`` object: absolute URLs, or site-absolute paths (``/covers/...``) when no site URL is set."""

    raw: str = Field(min_length=1)
    full: str = Field(min_length=1)
    regular: str = Field(min_length=1)
    small: str = Field(min_length=1)
    thumb: str = Field(min_length=1)
    small_s3: str = Field(min_length=1)
    credit: CreditSchema | None = _optional("additive")


class AiSchema(_Schema):
    translatedFrom: str = Field(description="externalId of the article this one was translated from")
    version: int = Field(ge=1, description="regeneration count")
    model: str | None = _optional("additive: the model that wrote it")


class Frontmatter(_Schema):
    """An article file's YAML frontmatter (the seed's keys in order, then the additive keys)."""

    model_config = ConfigDict(extra="forbid", title="Newsroom article frontmatter")

    title: str = Field(min_length=1)
    description: str
    publishedAt: str = Field(pattern=TIMESTAMP, description="UTC, as JavaScript's toISOString writes it")
    updatedAt: str = Field(pattern=TIMESTAMP)
    lang: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", description="BCP 47")
    externalId: str = Field(min_length=1)
    source: SourceSchema
    category: str = Field(min_length=1)
    tags: list[str]
    stickyWeight: int = Field(ge=0, description="editorial pin weight; 0 = not pinned")
    sentiment: Literal["POSITIVE", "NEUTRAL", "NEGATIVE"]
    score: int = Field(ge=0, le=100)
    draft: bool
    coverImage: CoverImageSchema
    ai: AiSchema
    slug: str | None = _optional("additive: the URL slug, shared by the story's languages")
    sourceUrl: str | None = _optional("additive: the original article")
    translationKey: str | None = _optional(
        "additive: the same in every language of a story (Hugo links translations by it)"
    )
    sources: list[SourceLinkSchema] | None = _optional(
        "additive: the story's other sources, when it has some (the lead is sourceUrl)"
    )


def json_schema() -> dict[str, Any]:
    """The frontmatter's JSON Schema (draft 2020-12)."""
    schema = Frontmatter.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


# ---- zod, for Astro and Nuxt Content --------------------------------------------------------------------------------


def zod(
    schema: dict[str, Any],
    defs: dict[str, Any] | None = None,
    *,
    key: str = "",
    indent: int = 0,
    dates: bool = True,
) -> str:
    """A zod expression for a (pydantic-made) JSON Schema: objects, strings, integers, booleans, arrays, enums,
    nullable/optional values and ``$ref``s. With ``dates``, the timestamps (:data:`DATE_KEYS`) become
    ``z.coerce.date()`` (they are quoted strings in the file)."""
    defs = schema.get("$defs", {}) if defs is None else defs

    def sub(s: dict[str, Any], name: str = "", level: int = indent) -> str:
        return zod(s, defs, key=name, indent=level, dates=dates)

    if "$ref" in schema:
        return sub(defs[schema["$ref"].rsplit("/", 1)[-1]], key)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return (sub(options[0], key) if len(options) == 1 else "z.unknown()") + ".nullish()"
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return f"z.enum({json.dumps(values)})"
    kind = schema.get("type")
    if dates and key in DATE_KEYS:
        return "z.coerce.date()"
    if kind == "object":
        pad = "  " * (indent + 1)
        required = set(schema.get("required", []))
        lines = []
        for name, prop in schema.get("properties", {}).items():
            expr = sub(prop, name, indent + 1)
            if name not in required and not expr.endswith(".nullish()"):
                expr += ".optional()"
            lines.append(f"{pad}{name}: {expr},")
        return "z.object({\n" + "\n".join(lines) + "\n" + "  " * indent + "})"
    if kind == "array":
        return f"z.array({sub(schema.get('items', {}))})"
    if kind == "string":
        out = "z.string()"
        if schema.get("minLength"):
            out += f".min({schema['minLength']})"
        return out
    if kind == "integer":
        out = "z.number().int()"
        if "minimum" in schema:
            out += f".min({schema['minimum']})"
        if "maximum" in schema:
            out += f".max({schema['maximum']})"
        return out
    if kind == "number":
        return "z.number()"
    if kind == "boolean":
        return "z.boolean()"
    return "z.unknown()"


_HEADER = "// Generated by `newsroom schema {kind}` from the frontmatter's JSON Schema: regenerate, do not edit.\n"


def astro_config(base: str = "./src/content/articles") -> str:
    """``src/content.config.ts`` for Astro 5+ (content layer). The id of an entry is its path without ``.md``
    (``en/some-slug``): the glob loader would otherwise take the ``slug`` key, which all languages of a story share."""
    return (
        _HEADER.format(kind="astro")
        + 'import { defineCollection } from "astro:content";\n'
        + 'import { glob } from "astro/loaders";\n'
        + 'import { z } from "astro/zod";\n\n'
        + "const articles = defineCollection({\n"
        + "  loader: glob({\n"
        + '    pattern: "**/*.md",\n'
        + f"    base: {json.dumps(base)},\n"
        + '    generateId: ({ entry }) => entry.replace(/\\.md$/, ""),\n'
        + "  }),\n"
        + f"  schema: {zod(json_schema(), indent=1)},\n"
        + "});\n\n"
        + "export const collections = { articles };\n"
    )


def nuxt_config(source: str = "articles/**/*.md") -> str:
    """``content.config.ts`` for Nuxt Content 3: a ``page`` collection (one page per file, path
    ``/articles/en/some-slug``). Timestamps stay ISO strings (they sort as text)."""
    return (
        _HEADER.format(kind="nuxt")
        + 'import { defineCollection, defineContentConfig, z } from "@nuxt/content";\n\n'
        + "export default defineContentConfig({\n"
        + "  collections: {\n"
        + "    articles: defineCollection({\n"
        + '      type: "page",\n'
        + f"      source: {json.dumps(source)},\n"
        + f"      schema: {zod(json_schema(), indent=3, dates=False)},\n"
        + "    }),\n"
        + "  },\n"
        + "});\n"
    )
