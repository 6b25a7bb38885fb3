"""Settings: ``newsroom.toml`` plus ``NEWSROOM_*`` environment overrides, validated by pydantic-settings.

Precedence (highest first): keyword arguments, environment (``NEWSROOM_LLM__MODEL=...``; nested keys use ``__``),
the TOML file, the defaults below. Secrets never live in the file: the config names the *environment variable* that
holds an API key (``llm.api_key_env``), and the key is read at call time.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .headings import SUPPORTED_LANGUAGES

DEFAULT_CONFIG_FILE = "newsroom.toml"
_file_data: ContextVar[dict[str, Any]] = ContextVar("newsroom_config_file_data", default={})  # noqa: B039
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """A configuration problem, phrased for the person who wrote the config."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    key: str = Field(description="stable machine name: lowercase letters, digits, '-' and '_'")
    name: str
    url: str
    type: Literal["RSS", "ATOM", "API"] = "RSS"
    enabled: bool = True
    interval_minutes: float = Field(default=10, gt=0)
    weight: float = Field(default=1.0, ge=0, le=10, description="editorial weight of the source, used by scoring")

    @field_validator("key")
    @classmethod
    def _key_shape(cls, v: str) -> str:
        if not KEY_RE.match(v):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 64 characters)")
        return v

    @field_validator("url")
    @classmethod
    def _url_shape(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v


class FetchConfig(_Strict):
    timeout_seconds: float = Field(default=20, gt=0)
    max_bytes: int = Field(default=5_000_000, gt=0, description="responses larger than this are refused")
    user_agent: str = "NewsroomBot/0.1 (+https://github.com/newsroom; respects robots.txt)"
    allow_private_networks: bool = Field(
        default=False, description="allow fetching loopback/private/link-local addresses (tests, the demo)"
    )
    max_backoff_minutes: float = Field(default=360, gt=0)
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="hosts fetched even when private, exactly as written in URLs (e.g. 127.0.0.1 for a test server)",
    )


class LLMConfig(_Strict):
    provider: Literal["local", "openai"] = "local"
    model: str = Field(default="", description="model name sent to the endpoint (openai) or logged (local)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="name of the environment variable with the key")
    structured_output: Literal["auto", "json_schema", "json_object", "grammar"] = Field(
        default="auto",
        description="how to ask for JSON: auto tries json_schema and falls back to json_object on refusal",
    )
    model_path: str | None = Field(default=None, description="GGUF file for the local provider; default: embedded")
    n_ctx: int = Field(default=4096, ge=512)
    n_threads: int | None = None
    concurrency: int = Field(default=8, ge=1, le=512)
    timeout_seconds: float = Field(default=120, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    temperature: float = Field(default=0.4, ge=0, le=2)
    max_tokens: int = Field(default=2000, ge=64)
    max_string_chars: int = Field(
        default=1000, ge=40, le=1000, description="cap on any string in the output schema (llama.cpp needs <= 1000)"
    )
    max_source_chars: int = Field(default=6000, ge=200, description="source text beyond this is cut before prompting")
    cost_per_1k_input: float = Field(default=0.0, ge=0)
    cost_per_1k_output: float = Field(default=0.0, ge=0)


class StoriesConfig(_Strict):
    """How new items become stories (newsroom.stages.stories)."""

    same_event: bool = Field(
        default=True,
        description="join items about the same event across sources (embeddings); false: only the same link, the "
        "same text or a near-copy join a story",
    )
    retry_base_seconds: float = Field(
        default=60, ge=0, description="a failed story is tried again after this, doubling with each failure"
    )
    retry_max_seconds: float = Field(default=3600, ge=0, description="the longest wait between two tries of a story")
    claim_seconds: float = Field(
        default=600, gt=0, description="how long a process holds a story it works on; renewed while it works"
    )


class PublishConfig(_Strict):
    content_dir: Path = Path("content")
    path_template: str = Field(default="{lang}/{slug}.md", description="placeholders: {lang} {slug} {date} {key}")
    cover_base_url: str = Field(default="/covers", description="prefix of generated cover card URLs")

    @field_validator("path_template")
    @classmethod
    def _template_ok(cls, v: str) -> str:
        try:
            rendered = v.format(lang="en", slug="x", date="2025-01-01", key="k")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder or bad braces ({exc}); use {{lang}} {{slug}} {{date}} {{key}}"
            ) from None
        if rendered.startswith("/") or ".." in Path(rendered).parts:
            raise ValueError("must be a relative path inside content_dir")
        return v


class ExtractConfig(_Strict):
    """Full text: fetch the article page when a feed entry carries only a teaser (uses fetch.* for the policy)."""

    enabled: bool = Field(default=True, description="fetch article pages for teaser-only feed entries")
    min_chars: int = Field(default=600, ge=0, description="feed text shorter than this counts as a teaser")
    timeout_seconds: float = Field(default=15, gt=0)
    max_bytes: int = Field(default=3_000_000, gt=0, description="article pages larger than this are not read")
    respect_robots: bool = Field(default=True, description="read robots.txt and skip pages it disallows")
    concurrency: int = Field(default=4, ge=1, le=64)


class GuardsConfig(_Strict):
    """Quality guards on every written and translated article (see newsroom.guards)."""

    enabled: bool = Field(default=True, description="off only for benchmarks against a scripted model")
    retry: bool = Field(default=True, description="a failing article is regenerated once with the reasons")
    max_verbatim_words: int = Field(default=20, ge=5, description="longest run of words copied from the source")
    max_ngram_overlap: float = Field(default=0.5, gt=0, le=1, description="share of 5-grams found in the source")
    min_words: int = Field(default=80, ge=0, description="an article body shorter than this is too thin")


class ImagesConfig(_Strict):
    """Cover images (``coverImage``): which provider fills the six keys."""

    provider: Literal["card", "unsplash", "library", "none"] = Field(
        default="card",
        description="card: generated offline; unsplash: photo search; library: a local folder; none: URLs only",
    )
    unsplash_access_key_env: str = Field(default="UNSPLASH_ACCESS_KEY", description="env variable with the key")
    unsplash_api_url: str = "https://api.unsplash.com"
    unsplash_app_name: str = Field(default="newsroom", description="utm_source of the attribution links")
    library_dir: Path | None = Field(default=None, description="folder of images named by their tags")
    card_brand: str = Field(default="NEWSROOM", description="the name printed on generated cover cards")
    timeout_seconds: float = Field(default=15, gt=0)


class WebConfig(_Strict):
    """``newsroom serve``: the JSON API, the feeds and the editorial UI."""

    host: str = Field(default="127.0.0.1", description="interface to listen on; 127.0.0.1 keeps it local")
    port: int = Field(default=8000, ge=1, le=65535)
    admin_token: str | None = Field(
        default=None,
        min_length=16,
        description="token for every write and the UI; prefer the NEWSROOM_ADMIN_TOKEN environment variable",
    )
    public_read: bool = Field(default=True, description="false: the read API and the feeds need the token too")
    cookie_secure: bool = Field(default=True, description="send the session cookie over HTTPS only (localhost ok)")
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    public_url: str | None = Field(default=None, description="site base URL for feed links; default: the request's")
    article_url: str = Field(
        default="{base}/api/v1/articles/{lang}/{slug}",
        description="link of an article in the feeds; placeholders {base} {lang} {slug}",
    )
    feed_size: int = Field(default=50, ge=1, le=500)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSROOM_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = "sqlite:///newsroom.db"
    languages: list[str] = Field(default_factory=lambda: ["en", "uk"])
    pivot_language: str = "en"
    taxonomy: list[str] = Field(
        default_factory=lambda: [
            "BTC",
            "ETH",
            "SOL",
            "XRP",
            "ALTCOINS",
            "DEFI",
            "NFT",
            "REGULATION",
            "MARKETS",
            "BUSINESS",
            "TECHNOLOGY",
            "SECURITY",
            "POLICY",
            "AI",
        ]
    )
    default_category: str = "MARKETS"
    max_items_per_source: int = Field(default=50, ge=1, description="newest entries taken from one poll")
    sources: list[SourceConfig] = Field(default_factory=list)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    stories: StoriesConfig = Field(default_factory=StoriesConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    review: Literal["auto", "always"] = Field(
        default="auto", description="auto: articles that pass the guards go live; always: every article is a draft"
    )

    # set by load_settings; not a user key
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        unknown = [lang for lang in v if lang not in SUPPORTED_LANGUAGES]
        if unknown:
            raise ValueError(f"unsupported language(s) {unknown}; supported: {sorted(SUPPORTED_LANGUAGES)}")
        if not v:
            raise ValueError("at least one language is needed")
        if len(set(v)) != len(v):
            raise ValueError("languages must not repeat")
        return v

    @field_validator("taxonomy")
    @classmethod
    def _taxonomy(cls, v: list[str]) -> list[str]:
        out = [c.strip().upper() for c in v if c.strip()]
        if not out:
            raise ValueError("the taxonomy needs at least one category")
        return list(dict.fromkeys(out))

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.pivot_language not in self.languages:
            raise ValueError(f"pivot_language {self.pivot_language!r} must be one of languages {self.languages}")
        self.default_category = self.default_category.upper()
        if self.default_category not in self.taxonomy:
            raise ValueError(f"default_category {self.default_category!r} is not in the taxonomy")
        keys = [s.key for s in self.sources]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"source keys must be unique; repeated: {dupes}")
        return self

    @property
    def extra_languages(self) -> list[str]:
        return [lang for lang in self.languages if lang != self.pivot_language]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))


class _FileSource(PydanticBaseSettingsSource):
    """The TOML file's values, below the environment in precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _file_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data.get())


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration in {origin}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see `newsroom init` for a starter file)"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; create one with `newsroom init`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings from a TOML file (if it exists or was named) and the environment.

    ``path=None`` uses ``$NEWSROOM_CONFIG`` or ``./newsroom.toml`` when present, else the defaults.
    Relative paths in the file (SQLite database, content_dir) are taken relative to the file's folder.
    """
    explicit = path is not None or "NEWSROOM_CONFIG" in os.environ
    cfg_path = Path(path or os.environ.get("NEWSROOM_CONFIG", DEFAULT_CONFIG_FILE))
    data: dict[str, Any] = {}
    if cfg_path.exists() or explicit:
        data = read_toml(cfg_path)
    origin = f"{cfg_path} (or a NEWSROOM_* variable)" if data else "NEWSROOM_* environment variables"
    token = _file_data.set(data)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None
    finally:
        _file_data.reset(token)
    if cfg_path.exists():
        settings.config_path = cfg_path.resolve()
        base = cfg_path.resolve().parent
        settings.database_url = resolve_sqlite_url(settings.database_url, base)
        if not settings.publish.content_dir.is_absolute():
            settings.publish.content_dir = base / settings.publish.content_dir
    return settings


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file.db`` URL relative to ``base`` instead of the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base / url[len(prefix) :])
    return url
