"""The editorial UI under /ui: server-rendered Jinja2 pages (autoescaped), htmx for in-place updates.

Every page works without JavaScript: links and forms are ordinary ones (POST, then a 303 redirect back); with
JavaScript, ``hx-boost`` turns them into in-page requests. Every page needs a signed-in session; every POST also
needs the session's CSRF token (form field ``csrf_token`` or the ``X-CSRF-Token`` header htmx sends).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from ..editorial import ArticleChanges, EditorialError, article_fields
from ..llm.budget import Budget
from ..models import ArticleText, Sentiment
from ..publish.markdown import render_body
from ..stages.select import write_anyway
from . import charts
from . import queries as wq
from . import sources as source_actions
from .auth import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, Session
from .deps import WebContext, ctx, current_session, sign_out
from .errors import ApiError
from .render import markdown_to_html
from .schemas import SourceIn

router = APIRouter(prefix="/ui", include_in_schema=False)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every {{ value }} is HTML-escaped; only sanitised article HTML is marked safe
    undefined=jinja2.StrictUndefined,
)
templates = Jinja2Templates(env=_env)
Ctx = Annotated[WebContext, Depends(ctx)]

# Messages shown after an action: the redirect carries a key, never text, so nothing is reflected.
DONE = {
    "published": "Published: the file now says draft: false.",
    "unpublished": "Unpublished: the file now says draft: true.",
    "sticky": "Pin weight saved.",
    "edited": "Saved and re-published. The article is locked against regeneration until you unlock it.",
    "unchanged": "Nothing changed.",
    "locked": "Locked: regeneration is refused until you unlock it.",
    "unlocked": "Unlocked: it may be regenerated.",
    "regenerated": "Regenerated with the model and re-published.",
    "deleted": "Deleted, file removed.",
    "source_added": "Source added.",
    "source_paused": "Source disabled.",
    "source_enabled": "Source enabled.",
    "polled": "Polled.",
    "write_anyway": "Queued: the next pipeline run writes this story (select is bypassed).",
    "signed_out": "Signed out.",
}


def _fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_env.filters["dt"] = _fmt_dt


def _session(request: Request) -> Session | None:
    return current_session(request)


def require_session(request: Request) -> Session:
    s = _session(request)
    if s is None:
        raise ApiError(401, "unauthorized", "sign in with the admin token")
    return s


async def require_csrf(request: Request) -> Session:
    s = require_session(request)
    given = request.headers.get(CSRF_HEADER)
    if not given:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not ctx(request).auth.check_csrf(s, given):
        raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong; reload the page and try again")
    return s


UiSession = Annotated[Session, Depends(require_session)]
UiPost = Annotated[Session, Depends(require_csrf)]


def page(
    request: Request, name: str, status_code: int = 200, *, session: Session | None = None, **data: Any
) -> HTMLResponse:
    c = ctx(request)
    session = session or _session(request)
    done = request.query_params.get("done")
    data.setdefault("flash", DONE.get(done or ""))
    data.setdefault("error", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "signed_in": session is not None,
            "csrf": c.auth.csrf_token(session) if session else "",
            "csrf_field": CSRF_FIELD,
            "settings": c.settings,
            **data,
        },
        status_code=status_code,
    )


def html_error_page(request: Request, status: int, message: str) -> HTMLResponse | None:
    """Browsers on /ui get an HTML page (the sign-in form for 401); API clients keep the JSON error body."""
    if not request.url.path.startswith("/ui"):
        return None
    accept = request.headers.get("accept", "")
    if "text/html" not in accept and not request.headers.get("hx-request"):
        return None
    if status == 401:
        return login_page(request, 401, error=None, next=_safe_next(request.url.path))
    return page(request, "error.html", status, message=message, code=status)


def _safe_next(value: str | None) -> str:
    """Only a path inside the UI: never an absolute URL (no open redirect)."""
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


def redirect(url: str, done: str | None = None) -> RedirectResponse:
    if done:
        url += ("&" if "?" in url else "?") + "done=" + quote(done)
    return RedirectResponse(url, status_code=303)


# ---- sign in / out -------------------------------------------------------------------------------------------------

LOGIN_COOKIE = "newsroom_login"


def login_page(request: Request, status_code: int = 200, **data: Any) -> HTMLResponse:
    """The sign-in form, CSRF-protected by a double-submit value: a random value in a SameSite=Strict cookie and in
    the form; the POST must carry both, equal. Another site can neither read the cookie nor set it for us."""
    value = secrets.token_urlsafe(24)
    response = page(request, "login.html", status_code, login_csrf=value, **data)
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        secure=ctx(request).auth.cookie_secure,
        samesite="strict",
        path="/ui/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return login_page(request, next=_safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    c = ctx(request)
    form = await request.form()
    token = form.get("token")
    nxt = _safe_next(form.get("next") if isinstance(form.get("next"), str) else None)  # type: ignore[arg-type]
    sent, kept = form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(sent, str) and kept and hmac.compare_digest(sent.encode(), kept.encode())):
        return login_page(request, 403, error="The sign-in form expired or came from elsewhere: try again.", next=nxt)
    if not c.auth.enabled:
        return login_page(request, 401, error="No admin token is configured on this server.", next=nxt)
    if not isinstance(token, str) or not c.auth.check_token(token):
        return login_page(request, 401, error="Wrong token.", next=nxt)
    response = RedirectResponse(nxt, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login", httponly=True, secure=c.auth.cookie_secure)
    response.set_cookie(
        COOKIE_NAME,
        c.auth.new_session(),
        max_age=c.auth.session_seconds,
        httponly=True,
        secure=c.auth.cookie_secure,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, s: UiPost) -> Response:
    sign_out(ctx(request), s)
    response = redirect("/ui/login", "signed_out")
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=ctx(request).auth.cookie_secure)
    return response


# ---- lists ---------------------------------------------------------------------------------------------------------


@router.get("/")
def queue(request: Request, c: Ctx, s: UiSession, cursor: str | None = None) -> HTMLResponse:
    """The review queue: drafts, with the reasons the guards gave."""
    return _list(request, c, s, status="draft", cursor=cursor, lang=None, q=None)


@router.get("/articles")
def articles(
    request: Request,
    c: Ctx,
    s: UiSession,
    status: str = "all",
    lang: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    return _list(request, c, s, status=status, cursor=cursor, lang=lang, q=q)


def _list(
    request: Request, c: WebContext, s: Session, *, status: str, cursor: str | None, lang: str | None, q: str | None
) -> HTMLResponse:
    if status not in ("draft", "published", "all"):
        raise ApiError(422, "invalid", "status is draft, published or all")
    if lang is not None and lang not in c.settings.languages:
        lang = None
    q = " ".join((q or "").split())[:200] or None
    f = wq.ArticleFilter(lang=lang, q=q, drafts=status == "all", only_drafts=status == "draft")
    with c.store.session() as db:
        try:
            rows, nxt = wq.list_articles(db, f, limit=50, cursor=cursor)
        except ValueError:
            rows, nxt = wq.list_articles(db, f, limit=50)
    return page(
        request, "list.html", session=s, rows=rows, next_cursor=nxt, list_status=status, lang=lang or "", q=q or ""
    )


# ---- one article -------------------------------------------------------------------------------------------------


def _article_context(c: WebContext, article_id: int) -> dict[str, Any]:
    with c.store.session() as db:
        found = wq.article_by_id(db, article_id)
        if found is None:
            raise ApiError(404, "not_found", f"no article {article_id}")
        a, lead, src = found
        story = wq.story_view(db, a.story_id)
    text = ArticleText.model_validate(a.text)
    assert story is not None
    return {
        "a": a,
        "lead": lead,
        "source": src,
        "story": story,
        "html": markdown_to_html(render_body(text, a.lang)),
        "siblings": story.articles,
        "fields": article_fields(a),
    }


@router.get("/articles/{article_id}")
def article_page(request: Request, c: Ctx, s: UiSession, article_id: int) -> HTMLResponse:
    return page(request, "article.html", session=s, **_article_context(c, article_id))


def _refused(request: Request, c: WebContext, s: Session, article_id: int, exc: EditorialError) -> HTMLResponse:
    """The article page again, with why the action was refused, under the action's status code."""
    return page(request, "article.html", exc.status, session=s, error=str(exc), **_article_context(c, article_id))


async def _all_languages(request: Request) -> bool:
    """The form's "all languages of the story" box."""
    return (await request.form()).get("all_languages") == "yes"


@router.post("/articles/{article_id}/publish")
async def publish(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    c.editor.set_draft(article_id, False, all_languages=await _all_languages(request))
    return redirect(f"/ui/articles/{article_id}", "published")


@router.post("/articles/{article_id}/unpublish")
async def unpublish(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    c.editor.set_draft(article_id, True, all_languages=await _all_languages(request))
    return redirect(f"/ui/articles/{article_id}", "unpublished")


@router.post("/articles/{article_id}/sticky")
async def sticky(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    form = await request.form()
    try:
        weight = int(str(form.get("sticky_weight", "")).strip())
        c.editor.set_sticky(article_id, weight, all_languages=form.get("all_languages") == "yes")
    except ValueError:
        return _refused(request, c, s, article_id, EditorialError("the pin weight must be a whole number 0–1000"))
    except EditorialError as exc:
        return _refused(request, c, s, article_id, exc)
    return redirect(f"/ui/articles/{article_id}", "sticky")


@router.post("/articles/{article_id}/lock")
def lock(c: Ctx, s: UiPost, article_id: int) -> Response:
    c.editor.set_lock(article_id, True)
    return redirect(f"/ui/articles/{article_id}", "locked")


@router.post("/articles/{article_id}/unlock")
def unlock(c: Ctx, s: UiPost, article_id: int) -> Response:
    c.editor.set_lock(article_id, False)
    return redirect(f"/ui/articles/{article_id}", "unlocked")


@router.post("/articles/{article_id}/regenerate")
async def regenerate(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    try:
        await c.editor.regenerate(article_id)
    except EditorialError as exc:
        if exc.status == 404:
            raise
        return _refused(request, c, s, article_id, exc)
    return redirect(f"/ui/articles/{article_id}", "regenerated")


@router.post("/articles/{article_id}/delete")
async def delete(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    form = await request.form()
    if form.get("confirm") != "yes":
        return _refused(request, c, s, article_id, EditorialError("tick 'really delete' to delete the article"))
    c.editor.delete(article_id)
    return redirect("/ui/articles", "deleted")


@router.get("/articles/{article_id}/edit")
def edit_form(request: Request, c: Ctx, s: UiSession, article_id: int) -> HTMLResponse:
    context = _article_context(c, article_id)
    return page(request, "edit.html", session=s, values=context["fields"], **context)


def _form_changes(form: Any) -> dict[str, Any]:
    """The edit form's fields as ArticleChanges input (sections from heading_N/body_N, bullets one per line)."""

    def text(name: str) -> str:
        v = form.get(name)
        return v.replace("\r\n", "\n").strip() if isinstance(v, str) else ""

    sections = []
    for i in range(4):
        heading, body = text(f"heading_{i}"), text(f"body_{i}")
        if heading or body:
            sections.append({"heading": heading, "body": body})
    out: dict[str, Any] = {
        "title": text("title"),
        "description": text("description"),
        "category": text("category"),
        "tags": [t.strip() for t in text("tags").split(",") if t.strip()],
        "sentiment": text("sentiment"),
        "overview": text("overview"),
        "sections": sections,
        "whyItMatters": text("why_it_matters"),
        "fromTheAuthor": text("from_the_author"),
        "marketImpact": [line.strip() for line in text("market_impact").split("\n") if line.strip()],
    }
    for name in ("score", "stickyWeight"):
        raw = text(name)
        out[name] = int(raw) if raw.lstrip("-").isdigit() else raw
    return out


@router.post("/articles/{article_id}/edit")
async def edit(request: Request, c: Ctx, s: UiPost, article_id: int) -> Response:
    form = await request.form()
    submitted = _form_changes(form)
    context = _article_context(c, article_id)
    current = context["fields"]
    changed = {k: v for k, v in submitted.items() if v != current.get(k)}
    if not changed:
        return redirect(f"/ui/articles/{article_id}", "unchanged")
    try:
        changes = ArticleChanges.model_validate(changed)
        c.editor.edit(article_id, changes)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        return page(request, "edit.html", 422, session=s, values={**current, **submitted}, error=message, **context)
    except EditorialError as exc:
        return page(
            request, "edit.html", exc.status, session=s, values={**current, **submitted}, error=str(exc), **context
        )
    return redirect(f"/ui/articles/{article_id}", "edited")


# ---- sources -------------------------------------------------------------------------------------------------------


@router.get("/sources")
def sources_page(request: Request, c: Ctx, s: UiSession) -> HTMLResponse:
    with c.store.session() as db:
        rows = wq.list_sources(db)
    return page(request, "sources.html", session=s, sources=rows)


@router.post("/sources")
async def add_source(request: Request, c: Ctx, s: UiPost) -> Response:
    form = await request.form()
    data: dict[str, object] = {k: form.get(k) for k in ("key", "name", "url", "type")}
    for field, alias in (("language", "language"), ("api_key_env", "apiKeyEnv")):
        if str(form.get(field) or "").strip():  # optional: the language of a non-English source, an API key's variable
            data[alias] = str(form.get(field)).strip()
    try:
        interval = float(str(form.get("interval_minutes") or 10))
        source_actions.add_source(c.store, SourceIn.model_validate({**data, "intervalMinutes": interval}))
    except (ValidationError, ValueError) as exc:
        message = (
            str(exc.errors()[0]["loc"][-1]) + ": " + exc.errors()[0]["msg"]
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        return _sources_error(request, c, s, 422, message)
    except EditorialError as exc:
        return _sources_error(request, c, s, exc.status, str(exc))
    return redirect("/ui/sources", "source_added")


def _sources_error(request: Request, c: WebContext, s: Session, status: int, message: str) -> HTMLResponse:
    with c.store.session() as db:
        rows = wq.list_sources(db)
    return page(request, "sources.html", status, session=s, sources=rows, error=message)


@router.post("/sources/{key}/disable")
def disable_source(c: Ctx, s: UiPost, key: str) -> Response:
    source_actions.set_enabled(c.store, key, False)
    return redirect("/ui/sources", "source_paused")


@router.post("/sources/{key}/enable")
def enable_source(c: Ctx, s: UiPost, key: str) -> Response:
    source_actions.set_enabled(c.store, key, True)
    return redirect("/ui/sources", "source_enabled")


@router.post("/sources/{key}/poll")
async def poll_source(c: Ctx, s: UiPost, key: str) -> Response:
    await source_actions.poll_now(c.store, c.settings, key)
    return redirect("/ui/sources", "polled")


# ---- skipped stories ---------------------------------------------------------------------------------------------


@router.get("/skipped")
def skipped_page(request: Request, c: Ctx, s: UiSession, cursor: str | None = None) -> HTMLResponse:
    """The stories select skipped, each with its reason and a "write anyway" button; above them the stories backing off
    after a failure, each with its error, tries and next try, and a "retry now" button (the same action)."""
    with c.store.session() as db:
        waiting, _ = wq.list_stories(db, limit=50, status="retrying")
        try:
            views, nxt = wq.list_stories(db, limit=50, cursor=cursor, status="skipped")
        except ValueError:
            views, nxt = wq.list_stories(db, limit=50, status="skipped")
    return page(request, "skipped.html", session=s, stories=views, waiting=waiting, next_cursor=nxt)


@router.post("/stories/{story_id}/write")
def write_story_anyway(c: Ctx, s: UiPost, story_id: int) -> Response:
    write_anyway(c.store, story_id)
    return redirect("/ui/skipped", "write_anyway")


# ---- dashboard -----------------------------------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard(request: Request, c: Ctx, s: UiSession) -> HTMLResponse:
    now = datetime.now(UTC)
    pivot = c.settings.pivot_language
    with c.store.session() as db:
        hours, per_source = wq.articles_per_hour_by_source(db, pivot, hours=48, now=now)
        days, sentiment = wq.sentiment_per_day(db, pivot, days=30, now=now)
        tdays, tokens = wq.tokens_per_day_by_stage(db, days=30, now=now)
        totals = wq.counts(db)
    budget = Budget(c.settings.budget, c.store).status()
    sentiment_colors = {"POSITIVE": "#16a34a", "NEUTRAL": "#9ca3af", "NEGATIVE": "#dc2626"}
    svgs = [
        charts.stacked_bars(
            f"Articles per hour by source (last 48 h, {pivot})",
            [h.strftime("%d %Hh") for h in hours],
            {k: [float(x) for x in v] for k, v in per_source.items()},
            label_every=6,
        ),
        charts.stacked_bars(
            f"Sentiment per day (30 days up to the newest article, {pivot})",
            [d.strftime("%m-%d") for d in days],
            {k: [float(x) for x in v] for k, v in sentiment.items()},
            colors=sentiment_colors,
            label_every=3,
        ),
        charts.stacked_bars(
            "Model tokens per day by stage (last 30 days)",
            [d.strftime("%m-%d") for d in tdays],
            {k: [float(x) for x in v] for k, v in tokens.items()},
            unit=" tokens",
            label_every=3,
        ),
    ]
    if budget["caps"]:
        rows = [(f"{cap['scope']} {cap['unit']}", cap["spent"], cap["limit"]) for cap in budget["caps"]]
        svgs.insert(0, charts.meters(f"Daily budget, {budget['day']} (UTC)", rows))
    return page(
        request,
        "dashboard.html",
        session=s,
        charts=svgs,
        totals=totals,
        budget=budget,
        sentiments=[x.value for x in Sentiment],
    )
