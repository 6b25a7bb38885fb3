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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .headings import SUPPORTED_LANGUAGES

DEFAULT_CONFIG_FILE = "newsroom.toml"
_file_data: ContextVar[dict[str, Any]] = ContextVar("newsroom_config_file_data", default={})  # noqa: B039
MODEL_STAGES = ("write", "translate", "judge")  # the ``Prompt.stage`` of every model call
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """A configuration problem, phrased for the person who wrote the config."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_http_url(v: str) -> str:
    if not re.match(r"^https?://[^\s/]+", v):
        raise ValueError("must be an http:// or https:// URL")
    return v


HttpUrl = Annotated[str, AfterValidator(_check_http_url)]


class SourceConfig(_Strict):
    key: str = Field(description="stable machine name: lowercase letters, digits, '-' and '_'")
    name: str
    url: HttpUrl
    type: str = Field(
        default="RSS",
        description="source kind: RSS, ATOM, API (CoinDesk Data), SITEMAP, JSONFEED, TELEGRAM, or an installed one",
    )
    enabled: bool = True
    interval_minutes: float = Field(default=10, gt=0)
    weight: float = Field(default=1.0, ge=0, le=10, description="editorial weight of the source, used by scoring")
    language: str | None = Field(
        default=None, description="language of the source's text (BCP 47); default: as the source says, else detected"
    )
    # the API (CoinDesk Data news) and other kinds that take a key or filters
    api_key_env: str | None = Field(default=None, description="environment variable holding the source's API key")
    source_keys: list[str] = Field(default_factory=list, description="API: only these publishers (SOURCE_KEY)")
    categories: list[str] = Field(default_factory=list, description="API: only items in these categories")
    exclude_categories: list[str] = Field(default_factory=list, description="API: no items in these categories")
    max_pages: int = Field(
        default=5, ge=1, le=100, description="API, sitemap index, Telegram: pages read per poll at most"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="settings of an installed (third-party) kind")

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        from .sources.base import source_kinds

        v = v.strip().upper()
        if v not in source_kinds():
            raise ValueError(f"unknown source type {v!r}; installed: {', '.join(source_kinds())}")
        return v

    @field_validator("language")
    @classmethod
    def _language_tag(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$", v):
            raise ValueError("must be a BCP 47 language tag such as en, uk or pt-BR")
        return v.lower() if v else v

    def adapter_options(self) -> dict[str, Any]:
        """What the adapter needs beyond key, type and URL (kept on the source row; a change resets its backoff)."""
        keys = ("language", "api_key_env", "source_keys", "categories", "exclude_categories", "max_pages")
        return {**self.options, **{k: getattr(self, k) for k in keys if getattr(self, k) not in (None, [])}}

    @field_validator("key")
    @classmethod
    def _key_shape(cls, v: str) -> str:
        if not KEY_RE.match(v):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 64 characters)")
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
    max_updates: int = Field(
        default=3, ge=0, le=100, description="at most this many rewrites of a written story as it develops (0: none)"
    )
    update_interval_minutes: float = Field(
        default=30, ge=0, description="a written story is rewritten at most once within this many minutes"
    )
    update_source_counts: list[int] = Field(
        default_factory=lambda: [3, 5],
        description="crossing one of these numbers of distinct sources rewrites the article (besides new facts)",
    )
    retry_base_seconds: float = Field(
        default=60, ge=0, description="a failed story is tried again after this, doubling with each failure"
    )
    retry_max_seconds: float = Field(default=3600, ge=0, description="the longest wait between two tries of a story")
    claim_seconds: float = Field(
        default=600, gt=0, description="how long a process holds a story it works on; renewed while it works"
    )


ITEM_TYPES = ("price-prediction", "technical-analysis", "market-wrap", "live-blog", "newsletter", "sponsored")
ItemType = Literal["price-prediction", "technical-analysis", "market-wrap", "live-blog", "newsletter", "sponsored"]


class SelectConfig(_Strict):
    """Which stories get an article (newsroom.stages.select); every skipped story is stored with its reason."""

    enabled: bool = Field(default=True, description="false: every story is written")
    min_relevance: int = Field(
        default=1, ge=0, description="beat terms (crypto assets and vocabulary) a story must name; 0: any topic"
    )
    beat_terms: list[str] = Field(
        default_factory=list, description="words or phrases that count as on the beat, besides the built-in crypto ones"
    )
    skip_types: list[ItemType] = Field(
        default_factory=lambda: ["sponsored"],
        description=f"item types not written: any of {', '.join(ITEM_TYPES)}",
    )
    allow_sources: list[str] = Field(
        default_factory=list, description="source keys whose stories skip the relevance and item-type checks"
    )
    deny_sources: list[str] = Field(default_factory=list, description="source keys whose stories are never written")
    allow_keywords: list[str] = Field(
        default_factory=list, description="a story whose headline or text has one of these counts as on the beat"
    )
    deny_keywords: list[str] = Field(
        default_factory=list, description="a story whose headline has one of these is skipped (case-insensitive)"
    )
    min_score: int = Field(
        default=0, ge=0, le=100, description="skip stories whose expected score (before writing) is below this"
    )
    daily_budget: int = Field(default=0, ge=0, description="at most this many new articles per UTC day (0: no limit)")


def _check_path_template(v: str) -> str:
    try:
        rendered = v.format(lang="en", slug="x", date="2025-01-01", key="k")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"unknown placeholder or bad braces ({exc}); use {{lang}} {{slug}} {{date}} {{key}}") from None
    if rendered.startswith("/") or ".." in Path(rendered).parts:
        raise ValueError("must be a relative path inside the content folder")
    return v


def _check_relative(v: Path) -> Path:
    if v.is_absolute() or ".." in v.parts:
        raise ValueError("must be a relative path inside the target's folder")
    return v


PathTemplate = Annotated[
    str, AfterValidator(_check_path_template), Field(description="placeholders: {lang} {slug} {date} {key}")
]
SubPath = Annotated[Path, AfterValidator(_check_relative)]


class FolderTargetConfig(_Strict):
    """Another folder that receives every published file (e.g. a site checkout next to the main content folder)."""

    kind: Literal["folder"]
    name: str = Field(description="stable name: the delivery state of the target is recorded under it")
    dir: Path = Field(description="the site's root folder")
    content_subdir: SubPath = Field(default=Path("content"), description="article files, relative to dir")
    covers_subdir: SubPath = Field(default=Path("public/covers"), description="cover files, relative to dir")
    path_template: PathTemplate = "{lang}/{slug}.md"


class GitTargetConfig(_Strict):
    """A git repository: each batch is one commit, pushed to ``remote``/``branch`` (never forced)."""

    kind: Literal["git"]
    name: str
    repo_dir: Path = Field(description="the local working clone (cloned from remote_url when missing)")
    remote_url: str | None = Field(default=None, description="URL to clone from and push to when repo_dir is new")
    remote: str = "origin"
    branch: str = "main"
    content_subdir: SubPath = Path("content")
    covers_subdir: SubPath = Path("public/covers")
    path_template: PathTemplate = "{lang}/{slug}.md"
    author_name: str = "Newsroom"
    author_email: str = "newsroom@localhost"
    token_env: str | None = Field(
        default=None, description="environment variable with an HTTPS token (sent as Basic auth, never stored)"
    )
    username: str = Field(default="x-access-token", description="user name sent with the token")
    push_retries: int = Field(default=3, ge=0, le=10, description="fetch + rebase + push again after a rejection")
    timeout_seconds: float = Field(default=120, gt=0)


class WebhookTargetConfig(_Strict):
    """A build hook: a signed JSON POST after each batch (header ``X-Newsroom-Signature: sha256=<hex HMAC>``)."""

    kind: Literal["webhook"]
    name: str
    url: HttpUrl
    secret_env: str | None = Field(default=None, description="environment variable with the HMAC-SHA256 secret")
    include_files: bool = Field(default=True, description="send each article's Markdown file in the payload")
    max_retries: int = Field(default=4, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0, le=60, description="first retry delay; doubles each time")
    timeout_seconds: float = Field(default=15, gt=0)


TargetConfig = Annotated[FolderTargetConfig | GitTargetConfig | WebhookTargetConfig, Field(discriminator="kind")]


class PublishConfig(_Strict):
    content_dir: Path = Path("content")
    path_template: PathTemplate = "{lang}/{slug}.md"
    covers_dir: Path | None = Field(
        default=None,
        description="where cover files are written: the site's static folder (e.g. public/covers); "
        "default: a covers folder beside content_dir",
    )
    cover_base_url: str = Field(default="/covers", description="URL path (or absolute URL) of the covers folder")
    site_url: str | None = Field(
        default=None, description="the site's base URL: cover URLs become absolute (default: web.public_url)"
    )
    targets: list[TargetConfig] = Field(
        default_factory=list, description="more places each batch goes: folder, git or webhook ([[publish.targets]])"
    )

    def covers_folder(self) -> Path:
        return self.covers_dir if self.covers_dir is not None else self.content_dir.parent / "covers"

    @model_validator(mode="after")
    def _unique_targets(self) -> PublishConfig:
        names = [t.name for t in self.targets]
        for name in names:
            if not KEY_RE.match(name):
                raise ValueError(f"target name {name!r}: use lowercase letters, digits, '-' or '_'")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"publish target names must be unique; repeated: {dupes}")
        return self


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
    faithfulness: bool = Field(
        default=False,
        description="the offline faithfulness scorer on written articles (calibrated on summaries: see README)",
    )
    judge: bool = Field(
        default=False, description="a model-based faithfulness judge: one more model call per article that passes"
    )
    judge_max_claims: int = Field(default=8, ge=1, le=16, description="claims the judge checks per article")


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
    card_processes: int = Field(
        default=1,
        ge=0,
        le=16,
        description="child processes that draw the cards, off this process's interpreter lock; 0: a thread here",
    )
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


class BudgetConfig(_Strict):
    """Daily caps (per UTC day) on model spending, checked before every model call; 0 means no cap.

    At a cap writing pauses: no new model calls, stories stay pending (not failed), polling goes on; it resumes the
    next UTC day or as soon as the cap is raised. Cost is what ``llm.cost_per_1k_input``/``_output`` price."""

    daily_tokens: int = Field(default=0, ge=0, description="tokens in + out per UTC day, all stages together")
    daily_cost: float = Field(default=0, ge=0, description="cost per UTC day, all stages together")
    stage_tokens: dict[str, int] = Field(
        default_factory=dict, description="per-stage token caps, e.g. {write = 200000, translate = 400000}"
    )
    stage_cost: dict[str, float] = Field(default_factory=dict, description="per-stage cost caps")

    @field_validator("stage_tokens", "stage_cost")
    @classmethod
    def _stages(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(MODEL_STAGES))
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; model calls are made by {list(MODEL_STAGES)}")
        if any(x < 0 for x in v.values()):
            raise ValueError("caps must be >= 0 (0: no cap)")
        return v


class MetricsConfig(_Strict):
    """Prometheus metrics of worker processes (``newsroom worker``, ``run --watch``); ``serve`` has ``/metrics``."""

    host: str = Field(default="127.0.0.1", description="interface of the worker's metrics server")
    port: int | None = Field(default=None, ge=1, le=65535, description="port of the worker's metrics server; none: off")


class WorkerConfig(_Strict):
    """``newsroom worker`` (procrastinate on PostgreSQL, ``newsroom.tasks``): its defaults and its schedule."""

    concurrency: int = Field(default=8, ge=1, le=512, description="jobs one worker runs at once")
    queues: list[str] = Field(
        default_factory=list, description="queues this worker takes jobs from (schedule, poll, stories); empty: all"
    )
    schedule_seconds: int = Field(
        default=10, ge=1, le=60, description="how often due sources and pending stories are looked for (divides 60)"
    )
    sweep_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="how often stalled jobs, unpublished articles, developing stories and the content folder are "
        "swept (divides 60, or a whole number of minutes that divides 60)",
    )
    stalled_seconds: float = Field(
        default=60, ge=1, description="a worker silent this long is taken for dead and its running jobs are retried"
    )
    grace_seconds: float = Field(
        default=20, ge=0, description="on SIGTERM, how long running jobs may finish before they are abandoned"
    )
    warm_up: bool = Field(
        default=True,
        description="load the offline classifiers (sentiment encoders) before taking story jobs: a write reply is "
        "then stored at once, not after seconds of loading that a kill would waste",
    )

    @field_validator("schedule_seconds", "sweep_seconds")
    @classmethod
    def _cron_period(cls, v: int) -> int:
        if (v < 60 and 60 % v) or (v >= 60 and (v % 60 or 60 % (v // 60))):
            raise ValueError("must divide 60 (seconds), or be a whole number of minutes that divides 60")
        return v


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
    select: SelectConfig = Field(default_factory=SelectConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
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

    def cover_url_base(self) -> str:
        """Prefix of cover URLs: ``publish.cover_base_url``, made absolute with ``publish.site_url`` (else
        ``web.public_url``) when it is a path, so the URLs work wherever the file or a feed is read."""
        base = self.publish.cover_base_url.rstrip("/")
        site = self.publish.site_url or self.web.public_url
        if site and base.startswith("/"):
            return site.rstrip("/") + base
        return base

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
        pub = settings.publish
        if not pub.content_dir.is_absolute():
            pub.content_dir = base / pub.content_dir
        if pub.covers_dir is not None and not pub.covers_dir.is_absolute():
            pub.covers_dir = base / pub.covers_dir
        for target in pub.targets:
            folder = "dir" if isinstance(target, FolderTargetConfig) else "repo_dir"
            if isinstance(target, FolderTargetConfig | GitTargetConfig) and not getattr(target, folder).is_absolute():
                setattr(target, folder, base / getattr(target, folder))
    return settings


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file.db`` URL relative to ``base`` instead of the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base / url[len(prefix) :])
    return url
