"""The HTML pages: gallery, a job's page, the queue (live), the submit form, login; and the files."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from musicd.errors import JobNotFoundError, StoreError
from musicd.web import library as lib
from musicd.web.api import ctx_of, file_url
from musicd.web.guard import SESSION_COOKIE, SESSION_MAX_AGE_S, client_of
from musicd.web.submit import check_text, form_to_spec, spec_yaml, write_submission

FILE_LABELS = {
    "score.mid": "MIDI score",
    "lyrics.lrc": "lyrics (LRC)",
    "lyrics.srt": "lyrics (SRT)",
    "video.mp4": "video",
    "cover.png": "cover (PNG)",
    "cover.jpg": "cover (JPEG)",
    "spec.yaml": "spec",
    "manifest.json": "manifest",
    "error.txt": "error",
}


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    templates = request.app.state.templates
    ctx = ctx_of(request)
    page = templates.get_template(template).render(
        request=request,
        csrf=request.state.csrf_token,
        needs_password=ctx.settings.needs_password,
        signed_in=getattr(request.state, "signed_in", False),
        **values,
    )
    return HTMLResponse(page, status_code=status)


def not_found(request: Request, what: str = "page") -> HTMLResponse:
    return render(request, "error.html", 404, title="Not found", message=f"There is no such {what}.")


def _safe_next(value: Any, default: str) -> str:
    text = str(value or "")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else default


def _card(ctx: Any, item: lib.Published) -> dict[str, Any]:
    manifest = ctx.library.manifest(item)
    files = lib.list_folder(ctx.library.folder(item))
    names = {name for name, _ in files}
    return {
        "item": item,
        "key": manifest.get("job_id") or item.short_id,
        "summary": lib.summary(manifest),
        "mixes": [
            (file_url(f"{item.rel}/{n}"), lib.MIME[fmt], fmt) for n, fmt in lib.mix_files(files, manifest)
        ],
        "cover": _cover(item.rel, names),
        "video": "video.mp4" in names,
    }


def _cover(rel: str, names: set[str]) -> str | None:
    for name in ("cover.jpg", "cover.png"):
        if name in names:
            return file_url(f"{rel}/{name}")
    return None


def gallery(request: Request) -> Response:
    ctx = ctx_of(request)
    size = ctx.settings.page_size
    items = ctx.library.done()
    pages = max(1, -(-len(items) // size))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1
    cards = [_card(ctx, item) for item in items[(page - 1) * size : page * size]]
    return render(request, "gallery.html", cards=cards, page=page, pages=pages, total=len(items))


def job_page(request: Request) -> Response:
    ctx = ctx_of(request)
    view = ctx.view(request.path_params["job_id"])
    if view is None:
        return not_found(request, "job")
    files: list[tuple[str, int]] = []
    lyrics: list[lib.LyricLine] = []
    mixes: list[tuple[str, str, str]] = []
    downloads: list[tuple[str, str, str]] = []
    error_text = view.record.error if view.record else (view.pending.error if view.pending else None)
    if view.published is not None:
        folder = ctx.library.folder(view.published)
        files = lib.list_folder(folder)
        rel = view.published.rel
        mix_table = dict(lib.mix_files(files, view.manifest))
        mixes = [(file_url(f"{rel}/{n}"), lib.MIME[fmt], fmt) for n, fmt in mix_table.items()]
        for name, size in files:
            label = FILE_LABELS.get(name) or (
                f"stem {name[6:].rsplit('.', 1)[0]}"
                if name.startswith("stems/")
                else (f"mix ({mix_table[name]})" if name in mix_table else name)
            )
            downloads.append((label, file_url(f"{rel}/{name}") + "?download=1", lib.format_size(size)))
        if "lyrics.lrc" in {n for n, _ in files}:
            try:
                lyrics = lib.parse_lrc((folder / "lyrics.lrc").read_text(encoding="utf-8", errors="replace"))
            except OSError:
                lyrics = []
        if not error_text and view.published.failed and "error.txt" in {n for n, _ in files}:
            try:
                error_text = (folder / "error.txt").read_text(encoding="utf-8", errors="replace")[:20000]
            except OSError:
                pass
    store = ctx.store()
    events = store.events(view.record.id) if (store is not None and view.record is not None) else []
    rel = view.published.rel if view.published else ""
    return render(
        request,
        "job.html",
        view=view,
        summary=lib.summary(view.manifest),
        mixes=mixes,
        downloads=downloads,
        lyrics=lyrics if any(line.text for line in lyrics) else [],
        video=file_url(f"{rel}/video.mp4") if rel and "video.mp4" in {n for n, _ in files} else None,
        cover=_cover(rel, {n for n, _ in files}) if rel else None,
        manifest_text=lib.manifest_text(view.manifest) if view.manifest else None,
        error_text=error_text,
        events=events[-50:],
    )


def queue_page(request: Request) -> Response:
    ctx = ctx_of(request)
    return render(
        request,
        "queue.html",
        q=ctx.queue(),
        message=request.query_params.get("msg"),
        poll_ms=int(ctx.settings.poll_interval_s * 1000),
    )


def queue_live(request: Request) -> Response:
    return render(request, "queue_live.html", q=ctx_of(request).queue())


async def job_action(request: Request) -> Response:
    ctx = ctx_of(request)
    action = request.path_params["action"]
    if action not in ("retry", "cancel"):
        return not_found(request)
    form = await request.form()
    back = _safe_next(form.get("next"), "/queue")
    try:
        job = await run_in_threadpool(ctx.act, request.path_params["job_id"], action)
    except JobNotFoundError:
        return not_found(request, "job")
    except StoreError as exc:
        message = str(exc)
    else:
        if action == "retry":
            message = f"{job.short_id} queued again"
        elif job.state.value == "cancelled":
            message = f"{job.short_id} cancelled"
        else:
            message = (
                f"{job.short_id}: cancel requested; it stops within about a second (vocals: at their end)"
            )
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}msg={quote(message)}", status_code=303)


def _genres() -> tuple[str, ...]:
    from musicd.music.genres import GENRE_NAMES

    return GENRE_NAMES


def _video_styles() -> tuple[str, ...]:
    from musicd.spec.choices import VIDEO_STYLES

    return VIDEO_STYLES


def submit_page(request: Request) -> Response:
    return render(request, "submit.html", values={}, errors={}, genres=_genres(), styles=_video_styles())


async def submit_post(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form(max_files=1, max_part_size=ctx.settings.max_upload_bytes)
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["genres"] = [g for g in form.getlist("genres") if isinstance(g, str)]
    upload = form.get("file")
    yaml_text = str(values.get("yaml") or "").strip()
    use_yaml = bool(yaml_text)
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(ctx.settings.max_upload_bytes + 1)
        if len(data) > ctx.settings.max_upload_bytes:
            too_big = [f"the file is larger than {ctx.settings.max_upload_bytes} bytes"]
            return _submit_again(request, values, {"yaml": too_big})
        yaml_text = data.decode("utf-8", errors="replace")
        use_yaml = True
    if use_yaml:
        checked = await run_in_threadpool(check_text, yaml_text, source="the YAML box")
        if not checked.ok:
            return _submit_again(request, values, {"yaml": checked.problems})
        text = yaml_text
    else:
        text = spec_yaml(form_to_spec(values))
        checked = await run_in_threadpool(check_text, text, source="the form")
        if not checked.ok:
            known = {"title", "prompt", "genres", "duration", "bpm", "key", "lyrics", "video"}
            errors: dict[str, list[str]] = {}
            for name, problems in checked.by_field().items():
                target = name if name in known else ""
                errors.setdefault(target, []).extend(_strip(p) for p in problems)
            return _submit_again(request, values, errors)
    submission_id = await run_in_threadpool(
        write_submission, ctx.layout.inbox, text if text.endswith("\n") else text + "\n"
    )
    return RedirectResponse(f"/jobs/{submission_id}", status_code=303)


def _strip(problem: str) -> str:
    from musicd.web.submit import strip_line

    return strip_line(problem)


def _submit_again(request: Request, values: dict[str, Any], errors: dict[str, list[str]]) -> Response:
    return render(
        request, "submit.html", 400, values=values, errors=errors, genres=_genres(), styles=_video_styles()
    )


def login_page(request: Request) -> Response:
    return render(request, "login.html", next=_safe_next(request.query_params.get("next"), "/"), failed=False)


async def login_post(request: Request) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    target = _safe_next(form.get("next"), "/")
    password = form.get("password")
    sessions = request.app.state.sessions
    if not ctx.settings.needs_password:
        return RedirectResponse(target, status_code=303)
    client = client_of(request.scope)
    if not isinstance(password, str) or not await sessions.check_password(password, client):
        status = 429 if sessions.retry_after_s(client) > 0 else 401
        return render(request, "login.html", status, next=target, failed=True)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, sessions.issue(), max_age=SESSION_MAX_AGE_S, httponly=True, samesite="strict"
    )
    return response


def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def files(request: Request) -> Response:
    ctx = ctx_of(request)
    rel = request.path_params["rel"]
    target = lib.safe_file(ctx.layout.outbox, rel)
    if target is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".opus":
        media_type = "audio/ogg"
    elif target.suffix in (".lrc", ".srt", ".txt", ".yaml"):
        media_type = "text/plain; charset=utf-8"
    headers = {"cache-control": "private, max-age=3600"}
    download = request.query_params.get("download")
    return FileResponse(
        target,
        media_type=media_type,
        headers=headers,
        filename=target.name if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


ROUTES = [
    Route("/", gallery, methods=["GET"]),
    Route("/jobs/{job_id}", job_page, methods=["GET"]),
    Route("/jobs/{job_id}/{action:str}", job_action, methods=["POST"]),
    Route("/queue", queue_page, methods=["GET"]),
    Route("/queue/live", queue_live, methods=["GET"]),
    Route("/submit", submit_page, methods=["GET"]),
    Route("/submit", submit_post, methods=["POST"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/files/{rel:path}", files, methods=["GET", "HEAD"]),
]
