"""The JSON API under /api/v1: public reads (articles, stories, sources) and the admin's writes (bearer token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from ..editorial import ArticleChanges
from ..models import ArticleText, Sentiment
from ..publish.frontmatter import frontmatter_data
from ..publish.markdown import render_body
from ..stages.publish import article_doc
from ..stages.select import write_anyway
from ..store.tables import ArticleRow, ItemRow, SourceRow
from . import queries as wq
from . import sources as source_actions
from .deps import WebContext, ctx, is_admin, require_admin, require_read
from .errors import ApiError, ErrorBody
from .render import markdown_to_html
from .schemas import (
    AiOut,
    ArticleDetail,
    ArticlePage,
    ArticleSummary,
    ItemOut,
    PollOut,
    SourceIn,
    SourceOut,
    SourcePatch,
    SourceRefOut,
    StickyIn,
    StoryArticleOut,
    StoryOut,
    StoryPage,
)

_ERR = {"model": ErrorBody}
READ_ERRORS: dict[int | str, dict[str, Any]] = {400: _ERR, 401: _ERR, 404: _ERR, 422: _ERR}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {400: _ERR, 401: _ERR, 404: _ERR, 409: _ERR, 422: _ERR, 502: _ERR}

router = APIRouter(prefix="/api/v1")
Ctx = Annotated[WebContext, Depends(ctx)]

StoryStatus = Literal["new", "written", "failed", "skipped"]
LANG_RE = r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}$"
SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,199}$"
TEXT_RE = r"^[^\x00-\x1f\x7f]*$"  # no control characters in query text (PostgreSQL refuses NUL in strings)
Lang = Annotated[str, Path(pattern=LANG_RE, max_length=20, description="language, e.g. en")]
Slug = Annotated[str, Path(pattern=SLUG_RE, max_length=200)]


def api_url(lang: str, slug: str) -> str:
    return f"/api/v1/articles/{lang}/{slug}"


def summary(a: ArticleRow, lead: ItemRow, src: SourceRow) -> ArticleSummary:
    return ArticleSummary(
        id=a.id,
        lang=a.lang,
        slug=a.slug,
        title=a.title,
        description=a.description,
        published_at=a.published_at,
        updated_at=a.updated_at,
        external_id=a.external_id,
        source=SourceRefOut(name=src.name, key=src.key, type=src.type),
        category=a.category,
        tags=list(a.tags),
        sticky_weight=a.sticky_weight,
        sentiment=a.sentiment,
        score=a.score,
        draft=a.draft,
        cover_image=dict(a.cover_image),
        ai=AiOut(translated_from=a.translated_from, version=a.version, model=a.model),
        source_url=lead.url,
        story_id=a.story_id,
        url=api_url(a.lang, a.slug),
    )


def detail(a: ArticleRow, lead: ItemRow, src: SourceRow, siblings: list[ArticleRow]) -> ArticleDetail:
    doc = article_doc(a, lead, src)
    body = render_body(ArticleText.model_validate(a.text), a.lang)
    return ArticleDetail(
        **summary(a, lead, src).model_dump(),
        draft_reasons=list(a.draft_reasons),
        locked=a.locked,
        frontmatter=frontmatter_data(doc),
        markdown=body,
        html=markdown_to_html(body),
        translations={o.lang: api_url(o.lang, o.slug) for o in siblings if o.id != a.id},
    )


def source_out(r: SourceRow) -> SourceOut:
    return SourceOut(
        key=r.key,
        name=r.name,
        type=r.type,
        url=r.url,
        enabled=r.enabled,
        paused=bool(r.paused),
        origin=r.origin or "config",
        interval_seconds=r.interval_seconds,
        weight=r.weight,
        last_polled_at=r.last_polled_at,
        last_success_at=r.last_success_at,
        next_poll_at=r.next_poll_at,
        last_status=r.last_status,
        last_error=r.last_error,
        error_count=r.error_count or 0,
        items_seen=r.items_seen or 0,
        healthy=bool(r.enabled and r.last_status in ("ok", "not_modified") and not r.error_count),
        language=(r.options or {}).get("language"),
        parent=r.parent,
        skipped_entries=r.skip_counts or {},
        last_skips=r.last_skips,
    )


def story_out(v: wq.StoryView) -> StoryOut:
    return StoryOut(
        id=v.story.id,
        status=v.story.status,
        skip_reason=v.story.skip_reason,
        select_bypass=bool(v.story.select_bypass),
        source_count=v.story.source_count,
        created_at=v.story.created_at,
        updated_at=v.story.updated_at,
        items=[
            ItemOut(
                id=i.id,
                source_key=i.source_key,
                external_id=i.external_id,
                url=i.url,
                title=i.title,
                summary=i.summary,
                categories=list(i.categories or []),
                author=i.author,
                published_at=i.published_at,
                lead=i.id == v.story.lead_item_id,
            )
            for i in v.items
        ],
        sources=[SourceRefOut(name=s.name, key=s.key, type=s.type) for s in v.sources],
        articles=[
            StoryArticleOut(lang=a.lang, slug=a.slug, draft=a.draft, version=a.version, url=api_url(a.lang, a.slug))
            for a in v.articles
            if not a.draft
        ],
    )


# ---- reads ---------------------------------------------------------------------------------------------------------


@router.get(
    "/articles",
    response_model=ArticlePage,
    responses=READ_ERRORS,
    dependencies=[Depends(require_read)],
    tags=["articles"],
)
def list_articles(
    request: Request,
    c: Ctx,
    lang: Annotated[str | None, Query(pattern=LANG_RE, max_length=20)] = None,
    category: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = None,
    tag: Annotated[str | None, Query(pattern=TEXT_RE, min_length=1, max_length=40)] = None,
    sentiment: Sentiment | None = None,
    source: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
    since: Annotated[datetime | None, Query(description="publishedAt ≥ since (ISO 8601; UTC if no zone)")] = None,
    until: Annotated[datetime | None, Query(description="publishedAt < until")] = None,
    q: Annotated[str | None, Query(pattern=TEXT_RE, min_length=1, max_length=200, description="full text")] = None,
    drafts: Annotated[bool, Query(description="include drafts (admin only)")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,400}$")] = None,
) -> ArticlePage:
    """Articles, pinned first (stickyWeight), then newest (publishedAt). Drafts only with drafts=true and the token."""
    if drafts and not is_admin(request):
        raise ApiError(401, "unauthorized", "drafts are visible with the admin token only")
    if since and until and since >= until:
        raise ApiError(400, "bad_request", "since must be before until")
    f = wq.ArticleFilter(lang, category, tag, sentiment.value if sentiment else None, source, since, until, q, drafts)
    with c.store.session() as s:
        try:
            rows, nxt = wq.list_articles(s, f, limit=limit, cursor=cursor)
        except ValueError as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None
        return ArticlePage(items=[summary(*r) for r in rows], next_cursor=nxt)


def _load(c: WebContext, request: Request, lang: str, slug: str) -> ArticleDetail:
    with c.store.session() as s:
        found = wq.article_by_slug(s, lang, slug)
        if found is None or (found[0].draft and not is_admin(request)):
            raise ApiError(404, "not_found", f"no article {lang}/{slug}")
        return detail(*found, wq.story_articles(s, found[0].story_id))


@router.get(
    "/articles/{lang}/{slug}",
    response_model=ArticleDetail,
    responses=READ_ERRORS,
    dependencies=[Depends(require_read)],
    tags=["articles"],
)
def get_article(request: Request, c: Ctx, lang: Lang, slug: Slug) -> ArticleDetail:
    """One article: frontmatter fields, the Markdown body and its sanitised HTML."""
    return _load(c, request, lang, slug)


@router.get(
    "/stories", response_model=StoryPage, responses=READ_ERRORS, dependencies=[Depends(require_read)], tags=["stories"]
)
def list_stories(
    c: Ctx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,400}$")] = None,
    status: Annotated[StoryStatus | None, Query(description="only stories in this state; skipped: by select")] = None,
) -> StoryPage:
    """Stories (one event across sources), newest first, with their member items, sources and published articles.
    ``status=skipped`` lists what the select stage skipped, each with its ``skipReason``."""
    with c.store.session() as s:
        try:
            views, nxt = wq.list_stories(s, limit=limit, cursor=cursor, status=status)
        except ValueError as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None
        return StoryPage(items=[story_out(v) for v in views], next_cursor=nxt)


@router.get(
    "/stories/{story_id}",
    response_model=StoryOut,
    responses=READ_ERRORS,
    dependencies=[Depends(require_read)],
    tags=["stories"],
)
def get_story(c: Ctx, story_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> StoryOut:
    with c.store.session() as s:
        v = wq.story_view(s, story_id)
        if v is None:
            raise ApiError(404, "not_found", f"no story {story_id}")
        return story_out(v)


@router.get(
    "/sources",
    response_model=list[SourceOut],
    responses=READ_ERRORS,
    dependencies=[Depends(require_read)],
    tags=["sources"],
)
def list_sources(c: Ctx) -> list[SourceOut]:
    """Every source with its polling health: last poll, last success, last error, errors in a row."""
    with c.store.session() as s:
        return [source_out(r) for r in wq.list_sources(s)]


# ---- writes (admin token) ------------------------------------------------------------------------------------------

Admin = [Depends(require_admin)]
AllLanguages = Annotated[
    bool, Query(alias="allLanguages", description="act on every language of the article's story at once")
]


def _after(c: WebContext, request: Request, lang: str, slug: str) -> ArticleDetail:
    return _load(c, request, lang, slug)


@router.patch(
    "/articles/{lang}/{slug}", response_model=ArticleDetail, responses=WRITE_ERRORS, dependencies=Admin, tags=["edit"]
)
def edit_article(request: Request, c: Ctx, lang: Lang, slug: Slug, changes: ArticleChanges) -> ArticleDetail:
    """Change any field or section; the article is then locked against regeneration until unlocked."""
    c.editor.edit(c.editor.find(lang, slug), changes)
    return _after(c, request, lang, slug)


@router.delete("/articles/{lang}/{slug}", status_code=204, responses=WRITE_ERRORS, dependencies=Admin, tags=["edit"])
def delete_article(c: Ctx, lang: Lang, slug: Slug) -> None:
    """Delete the article and its file."""
    c.editor.delete(c.editor.find(lang, slug))


@router.post(
    "/articles/{lang}/{slug}/publish",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
def publish_article(
    request: Request, c: Ctx, lang: Lang, slug: Slug, all_languages: AllLanguages = False
) -> ArticleDetail:
    """Approve: draft → false (the guard reasons are cleared), file re-written."""
    c.editor.set_draft(c.editor.find(lang, slug), False, all_languages=all_languages)
    return _after(c, request, lang, slug)


@router.post(
    "/articles/{lang}/{slug}/unpublish",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
def unpublish_article(
    request: Request, c: Ctx, lang: Lang, slug: Slug, all_languages: AllLanguages = False
) -> ArticleDetail:
    """Back to draft: draft → true, file re-written."""
    c.editor.set_draft(c.editor.find(lang, slug), True, all_languages=all_languages)
    return _after(c, request, lang, slug)


@router.put(
    "/articles/{lang}/{slug}/sticky",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
def set_sticky(
    request: Request, c: Ctx, lang: Lang, slug: Slug, body: StickyIn, all_languages: AllLanguages = False
) -> ArticleDetail:
    """Pin weight (0 = not pinned)."""
    c.editor.set_sticky(c.editor.find(lang, slug), body.sticky_weight, all_languages=all_languages)
    return _after(c, request, lang, slug)


@router.post(
    "/articles/{lang}/{slug}/lock",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
def lock_article(request: Request, c: Ctx, lang: Lang, slug: Slug) -> ArticleDetail:
    c.editor.set_lock(c.editor.find(lang, slug), True)
    return _after(c, request, lang, slug)


@router.post(
    "/articles/{lang}/{slug}/unlock",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
def unlock_article(request: Request, c: Ctx, lang: Lang, slug: Slug) -> ArticleDetail:
    c.editor.set_lock(c.editor.find(lang, slug), False)
    return _after(c, request, lang, slug)


@router.post(
    "/articles/{lang}/{slug}/regenerate",
    response_model=ArticleDetail,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["edit"],
)
async def regenerate_article(request: Request, c: Ctx, lang: Lang, slug: Slug) -> ArticleDetail:
    """Write the article again with the model (bumps ai.version). 409 while the article is locked."""
    await c.editor.regenerate(c.editor.find(lang, slug))
    return _after(c, request, lang, slug)


@router.post(
    "/stories/{story_id}/write",
    response_model=StoryOut,
    responses=WRITE_ERRORS,
    dependencies=Admin,
    tags=["stories"],
)
def write_story_anyway(c: Ctx, story_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> StoryOut:
    """Write anyway: a story select skipped (or one that failed) becomes pending and bypasses select; the next
    pipeline run writes it."""
    if write_anyway(c.store, story_id) is None:
        raise ApiError(404, "not_found", f"no story {story_id}")
    with c.store.session() as s:
        v = wq.story_view(s, story_id)
        assert v is not None
        return story_out(v)


@router.post(
    "/sources", response_model=SourceOut, status_code=201, responses=WRITE_ERRORS, dependencies=Admin, tags=["sources"]
)
def add_source(c: Ctx, body: SourceIn) -> SourceOut:
    """Add a source (kept beside the configured ones: config sync leaves it alone)."""
    return source_out(source_actions.add_source(c.store, body))


@router.patch("/sources/{key}", response_model=SourceOut, responses=WRITE_ERRORS, dependencies=Admin, tags=["sources"])
def patch_source(
    c: Ctx, key: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")], body: SourcePatch
) -> SourceOut:
    """Pause (enabled=false) or resume a source."""
    return source_out(source_actions.set_enabled(c.store, key, body.enabled))


@router.post(
    "/sources/{key}/poll", response_model=PollOut, responses=WRITE_ERRORS, dependencies=Admin, tags=["sources"]
)
async def poll_source(c: Ctx, key: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]) -> PollOut:
    """Fetch the source now and store new items (no model calls)."""
    r = await source_actions.poll_now(c.store, c.settings, key)
    return PollOut(key=r.key, status=r.status, http_status=r.http_status, new_items=r.new_items, error=r.error)
