"""The ASGI application: routes, templates, static files and the guard in front of them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from musicd.web import api, pages
from musicd.web import library as lib
from musicd.web.context import Context, Layout
from musicd.web.guard import Guard, Sessions
from musicd.web.settings import WebSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: Any) -> str:
    if value is None:
        return "-"
    total = int(round(float(value)))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value is escaped unless a template says otherwise (none does)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(duration=lib.format_duration, when=_ago, seconds=_seconds, quote=api.file_url)
    return env


def create_app(layout: Layout, settings: WebSettings) -> Starlette:
    """The web application for `layout` (inbox, outbox, state) served as `settings` say."""
    context = Context(layout, settings.checked())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        context.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 404:
            return pages.not_found(request)
        return Response(f"{exc.detail}\n", status_code=exc.status_code, media_type="text/plain")

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error serving %s", request.url.path, exc_info=exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "internal error; see the web server's log"}, status_code=500)
        return Response(
            "internal error; see the web server's log\n", status_code=500, media_type="text/plain"
        )

    app = Starlette(
        routes=[
            *api.ROUTES,
            *pages.ROUTES,
            Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    sessions = Sessions(context.settings.password_hash)
    app.state.context = context
    app.state.templates = templates()
    app.state.sessions = sessions
    app.add_middleware(Guard, settings=context.settings, sessions=sessions)
    return app


def layout_of(config: Any) -> Layout:
    """The Layout of a musicd Config."""
    return Layout(inbox=config.inbox, outbox=config.outbox, state_dir=config.state_dir, config=config)


def serve(layout: Layout, settings: WebSettings) -> None:
    """Run the web server in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    app = create_app(layout, settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
