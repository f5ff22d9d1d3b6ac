"""The HTTP API clients of the original design speak, and its OpenAPI document.

POST /api/generate-opensource   JSON body (musicPrompt, genres, durationSec, ...) -> 202 + job id
GET  /api/jobs/{id}[?wait=S]    state, stage, percent; when done bpm, key, scale, assets, engines
GET  /api/capabilities          what `musicd doctor` knows and the spec's choices
GET  /api/health                liveness and the queue counts
GET  /api/openapi.json          this API as OpenAPI 3.1
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from musicd import __version__
from musicd.web import library as lib
from musicd.web.context import Context, JobView
from musicd.web.submit import (
    API_FIELDS,
    api_body_problems,
    check_text,
    spec_yaml,
    strip_line,
    submission_of,
    write_submission,
)

WAIT_POLL_S = 0.2


def ctx_of(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


def error(status: int, message: str, problems: list[str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(body, status_code=status)


def file_url(rel: str) -> str:
    return "/files/" + quote(rel)


def job_json(view: JobView, files: list[tuple[str, int]]) -> dict[str, Any]:
    """The API's answer for one job; `files` lists its published folder."""
    record = view.record
    key = view.page_key
    asked = view.key.upper()
    submission = submission_of(record.source_name) if record else (asked if view.pending else None)
    data: dict[str, Any] = {
        "id": asked if submission == asked else key,  # the 202's id stays the id of its answers
        "jobId": view.job_id,
        "submissionId": submission,
        "state": view.state,
        "stage": record.stage if record else None,
        "percent": record.percent if record else (100.0 if view.state == "done" else None),
        "title": record.title if record else lib.summary(view.manifest)["title"],
        "error": (record.error if record else None) or (view.pending.error if view.pending else None),
        "createdAt": record.created_at.isoformat() if record else None,
        "startedAt": record.started_at.isoformat() if record and record.started_at else None,
        "finishedAt": record.finished_at.isoformat() if record and record.finished_at else None,
        "statusUrl": f"/api/jobs/{key}",
        "pageUrl": f"/jobs/{key}",
    }
    if view.published is not None and view.state == "done":
        summary = lib.summary(view.manifest)
        data.update(
            bpm=summary["bpm"],
            key=summary["key_tonic"],
            scale=summary["scale"],
            durationSec=summary["duration_s"],
            genres=summary["genres"],
            seed=summary["seed"],
            engines=summary["engines"],
        )
        data["assets"] = assets_json(view.published.rel, files, view.manifest)
    return data


def assets_json(rel: str, files: list[tuple[str, int]], manifest: dict[str, Any]) -> dict[str, Any]:
    names = {name for name, _ in files}
    mixes = lib.mix_files(files, manifest)

    def url(name: str) -> str | None:
        return file_url(f"{rel}/{name}") if name in names else None

    return {
        "mixUrl": file_url(f"{rel}/{mixes[0][0]}") if mixes else None,
        "mix": {fmt: file_url(f"{rel}/{name}") for name, fmt in mixes},
        "videoUrl": url("video.mp4"),
        "coverUrl": url("cover.png") or url("cover.jpg"),
        "midiUrl": url("score.mid"),
        "lrcUrl": url("lyrics.lrc"),
        "srtUrl": url("lyrics.srt"),
        "manifestUrl": url("manifest.json"),
        "stems": {
            name.removeprefix("stems/").rsplit(".", 1)[0]: file_url(f"{rel}/{name}")
            for name in sorted(names)
            if name.startswith("stems/")
        },
    }


def full_job_json(ctx: Context, view: JobView) -> dict[str, Any]:
    files = lib.list_folder(ctx.library.folder(view.published)) if view.published is not None else []
    return job_json(view, files)


async def generate(request: Request) -> Response:
    ctx = ctx_of(request)
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error(400, "the body is not valid JSON", ["body: expected a JSON object"])
    problems = api_body_problems(body)
    if problems:
        return error(400, "the body is not a valid job", problems)
    try:
        text = spec_yaml(body)
    except Exception:  # pyyaml cannot represent it (it came from JSON, so this is unexpected)
        return error(400, "the body is not a valid job", ["body: cannot be read as a job spec"])
    checked = await run_in_threadpool(check_text, text, source="request body")
    if not checked.ok:
        return error(400, "the body is not a valid job", [strip_line(p) for p in checked.problems])
    if checked.jobs != 1:
        return error(400, "the body is not a valid job", ["jobs: the API takes one job per request"])
    submission_id = await run_in_threadpool(write_submission, ctx.layout.inbox, text)
    return JSONResponse(
        {
            "id": submission_id,
            "submissionId": submission_id,
            "jobId": None,  # known once the service has queued the spec: GET statusUrl gives it
            "state": "submitted",
            "statusUrl": f"/api/jobs/{submission_id}",
            "waitUrl": f"/api/jobs/{submission_id}?wait=60",
            "pageUrl": f"/jobs/{submission_id}",
        },
        status_code=202,
        headers={"location": f"/api/jobs/{submission_id}"},
    )


async def get_job(request: Request) -> Response:
    ctx = ctx_of(request)
    key = request.path_params["job_id"]
    wait_text = request.query_params.get("wait")
    wait_s = 0.0
    if wait_text is not None:
        try:
            wait_s = float(wait_text)
        except ValueError:
            wait_s = -1
        if not math.isfinite(wait_s) or wait_s < 0:
            return error(400, "wait must be a number of seconds, 0 or more")
        wait_s = min(wait_s, ctx.settings.max_wait_s)
    deadline = time.monotonic() + wait_s
    while True:
        # SQLite and the outbox are read in a worker thread: a busy database or a slow share
        # never stalls the event loop (other requests, the player's range requests).
        answer = await run_in_threadpool(_job_answer, ctx, key, time.monotonic() >= deadline)
        if answer is not None:
            return answer
        await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))


def _job_answer(ctx: Context, key: str, last: bool) -> JSONResponse | None:
    """The answer for job `key`, or None while it has not ended and this is not the `last` look."""
    view = ctx.view(key)
    if view is None:
        return error(404, f"no job or submission {key!r}")
    if view.is_final and view.state == "done" and view.published is None:
        ctx.library.refresh()  # finished a moment ago: the index may not know the folder yet
        view = ctx.view(key) or view
    if view.is_final or last:
        return JSONResponse(full_job_json(ctx, view))
    return None


async def capabilities(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(ctx_of(request).capabilities))


def health(request: Request) -> Response:
    """Liveness for anyone; the version, queue and folders only for a signed-in client."""
    if not getattr(request.state, "signed_in", True):
        return JSONResponse({"status": "ok"})
    ctx = ctx_of(request)
    store = ctx.store()
    counts = {state.value: n for state, n in store.counts().items()} if store is not None else {}
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "store": store is not None,
            "outbox": ctx.layout.outbox.is_dir(),
            "inbox": ctx.layout.inbox.is_dir(),
            "queue": counts,
            "uptimeSec": round(time.monotonic() - ctx.started, 1),
        }
    )


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


ROUTES = [
    Route("/api/generate-opensource", generate, methods=["POST"]),
    Route("/api/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/api/capabilities", capabilities, methods=["GET"]),
    Route("/api/health", health, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"]),
]


# ------------------------------------------------------------------ OpenAPI

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}},
}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_NUMBER = {"type": ["number", "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _plain(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def openapi_document() -> dict[str, Any]:
    """The API as OpenAPI 3.1 (what the tests fuzz)."""
    from musicd.music.genres import GENRE_NAMES

    generate_request = {
        "type": "object",
        "description": "A job spec with the original API's field names; any other spec field "
        "(title, bpm, key, seed, output, master, ...) is accepted as in a YAML spec.",
        "properties": {
            "musicPrompt": {"type": "string", "maxLength": 1000},
            "genres": {"type": "array", "items": {"type": "string", "examples": list(GENRE_NAMES)}},
            "durationSec": {"type": "number", "minimum": 5, "maximum": 600},
            "artistInspiration": {
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
            "lyrics": {"type": "string", "maxLength": 5000},
            "vocalLanguages": {"type": "array", "items": {"type": "string"}},
            "generateVideo": {"type": "boolean"},
            "videoStyles": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": True,
    }
    accepted = {
        "type": "object",
        "required": ["id", "submissionId", "jobId", "state", "statusUrl"],
        "properties": {
            "id": {"type": "string", "description": "the submission id: GET statusUrl answers with it"},
            "submissionId": {"type": "string"},
            "jobId": {"type": "null", "description": "unknown until the service queues the spec"},
            "state": {"type": "string"},
            "statusUrl": {"type": "string"},
            "waitUrl": {"type": "string"},
            "pageUrl": {"type": "string"},
        },
    }
    nullable_url = _NULLABLE_STRING
    job = {
        "type": "object",
        "required": ["id", "state", "statusUrl"],
        "properties": {
            "id": {
                "type": "string",
                "description": "the id asked with when it is a submission id (the 202's id), else the job id",
            },
            "jobId": _NULLABLE_STRING,
            "submissionId": _NULLABLE_STRING,
            "state": {
                "type": "string",
                "enum": ["submitted", "rejected", "queued", "running", "done", "failed", "cancelled"],
            },
            "stage": _NULLABLE_STRING,
            "percent": _NULLABLE_NUMBER,
            "title": _NULLABLE_STRING,
            "error": _NULLABLE_STRING,
            "bpm": _NULLABLE_NUMBER,
            "key": _NULLABLE_STRING,
            "scale": _NULLABLE_STRING,
            "durationSec": _NULLABLE_NUMBER,
            "genres": {"type": "array", "items": {"type": "string"}},
            "engines": {"type": "object"},
            "assets": {
                "type": "object",
                "properties": {
                    "mixUrl": nullable_url,
                    "videoUrl": nullable_url,
                    "coverUrl": nullable_url,
                    "midiUrl": nullable_url,
                    "lrcUrl": nullable_url,
                    "srtUrl": nullable_url,
                    "manifestUrl": nullable_url,
                    "mix": {"type": "object", "additionalProperties": {"type": "string"}},
                    "stems": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "statusUrl": {"type": "string"},
            "pageUrl": {"type": "string"},
        },
    }
    common = {
        "401": _plain("a password is set and none was given"),
        "413": _plain("the body is larger than the upload limit"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "musicd",
            "version": __version__,
            "description": "The offline music generation service's HTTP API. Jobs go through the inbox: "
            "the service ingests them, so a new job reports `submitted` until it is queued.",
        },
        "paths": {
            "/api/generate-opensource": {
                "post": {
                    "operationId": "generate",
                    "summary": "Submit one job (validated like a YAML spec; written into the inbox)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": generate_request}},
                    },
                    "responses": {
                        "202": _json(accepted, "accepted: written into the inbox"),
                        "400": _json(_ERROR, "the body is not a valid job; `problems` lists every problem"),
                        "403": _plain("a cross-origin request, or a body that is not application/json"),
                        **common,
                    },
                }
            },
            "/api/jobs/{job_id}": {
                "get": {
                    "operationId": "getJob",
                    "summary": "One job's state; when done, its musical facts and asset URLs",
                    "parameters": [
                        {
                            "name": "job_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "the id from the 202 answer, a job id, or a job's short id",
                        },
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": 600},
                            "description": "block up to this many seconds until the job ends",
                        },
                    ],
                    "responses": {
                        "200": _json(job, "the job"),
                        "400": _json(_ERROR, "a bad wait value"),
                        "404": _json(_ERROR, "no such job"),
                        **common,
                    },
                }
            },
            "/api/capabilities": {
                "get": {
                    "operationId": "capabilities",
                    "summary": "What this machine can do (`musicd doctor`) and the spec's choices",
                    "responses": {"200": _json({"type": "object"}, "capabilities"), **common},
                }
            },
            "/api/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness (never needs the password); the queue counts when signed in",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"type": "string"}, "queue": {"type": "object"}},
                            },
                            "alive",
                        )
                    },
                }
            },
        },
        "components": {"securitySchemes": {"password": {"type": "http", "scheme": "bearer"}}},
        "x-api-fields": list(API_FIELDS),
    }
