"""One ASGI middleware in front of everything: body size limit, password, CSRF, security headers.

- Bodies over the limit get 413 before anything reads them.
- With a password set, every path except /login, /static/ and /api/health (which then
  answers liveness only) needs the session cookie (set by the login form) or
  `Authorization: Bearer <password>`; pages redirect to the login form, everything else
  answers 401. Wrong passwords are rate-limited per client address (429 with Retry-After).
- Every POST from another origin (Origin header) is refused. A form POST must carry the
  `csrf` field equal to the `musicd_csrf` cookie (double submit; the cookie is SameSite=Strict);
  an API POST must be `application/json`, which no cross-site form can send and which
  a cross-site script may only send after a CORS preflight this server never approves.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread

from musicd.web.settings import WebSettings, verify_password

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_COOKIE = "musicd_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "musicd_session"
SESSION_MAX_AGE_S = 30 * 86400
BAD_TOKEN_TTL_S = 300.0  # a wrong password is remembered (not hashed again) this long
FAILURES_PER_CLIENT = 10  # wrong passwords a client may send per FAILURE_WINDOW_S
FAILURE_WINDOW_S = 60.0
MAX_BAD_TOKENS = 4096
PUBLIC_PREFIXES = ("/static/", "/login", "/api/health")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        b"script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class BodyTooLarge(Exception):
    pass


class Sessions:
    """Signed session cookies: `ISSUED.HMAC`; the key changes with the password and the process."""

    def __init__(self, password_hash: str | None) -> None:
        self.password_hash = password_hash
        self._key = hashlib.sha256(secrets.token_bytes(32) + (password_hash or "").encode()).digest()
        self._good_tokens: set[bytes] = set()
        self._bad_tokens: dict[bytes, float] = {}  # wrong password digest -> forget at (monotonic s)
        self._failures: dict[str, deque[float]] = {}  # client -> times of its recent wrong passwords
        self._limiter: anyio.CapacityLimiter | None = None

    def issue(self, now: float | None = None) -> str:
        issued = str(int(now if now is not None else time.time()))
        return f"{issued}.{self._sign(issued)}"

    def _sign(self, issued: str) -> str:
        return hmac.new(self._key, b"session:" + issued.encode(), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or "." not in cookie:
            return False
        issued, _, signature = cookie.partition(".")
        if not issued.isdigit() or not hmac.compare_digest(signature, self._sign(issued)):
            return False
        return (now if now is not None else time.time()) - int(issued) < SESSION_MAX_AGE_S

    async def check_password(self, password: str, client: str) -> bool:
        """Whether `password` is right, without letting wrong guesses pin the CPU.

        PBKDF2 runs in a worker thread, one at a time (the event loop keeps serving). A wrong
        password is remembered for BAD_TOKEN_TTL_S (the same wrong token costs nothing again),
        and a `client` (address) with FAILURES_PER_CLIENT wrong ones in FAILURE_WINDOW_S is
        refused without hashing until the window has passed (see `retry_after_s`).
        """
        if self.password_hash is None:
            return True
        digest = hashlib.sha256(password.encode("utf-8", "replace")).digest()
        if digest in self._good_tokens:
            return True
        now = time.monotonic()
        if self._bad_tokens.get(digest, 0.0) > now or self.retry_after_s(client, now) > 0:
            self._note_failure(client, now)
            return False
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        ok = await anyio.to_thread.run_sync(
            verify_password, password, self.password_hash, limiter=self._limiter
        )
        if ok:
            self._good_tokens.add(digest)
            return True
        if len(self._bad_tokens) >= MAX_BAD_TOKENS:
            self._bad_tokens = {d: t for d, t in self._bad_tokens.items() if t > now}
            while len(self._bad_tokens) >= MAX_BAD_TOKENS:
                self._bad_tokens.pop(next(iter(self._bad_tokens)))
        self._bad_tokens[digest] = now + BAD_TOKEN_TTL_S
        self._note_failure(client, now)
        return False

    def _note_failure(self, client: str, now: float) -> None:
        times = self._failures.setdefault(client, deque())
        times.append(now)
        while times and times[0] <= now - FAILURE_WINDOW_S:
            times.popleft()
        if len(self._failures) > MAX_BAD_TOKENS:  # forget the quietest clients first
            for stale in [c for c, t in self._failures.items() if not t or t[-1] <= now - FAILURE_WINDOW_S]:
                del self._failures[stale]

    def retry_after_s(self, client: str, now: float | None = None) -> float:
        """Seconds until `client` may try a password again (0 when it may now)."""
        times = self._failures.get(client)
        now = time.monotonic() if now is None else now
        if not times:
            return 0.0
        recent = [t for t in times if t > now - FAILURE_WINDOW_S]
        if len(recent) < FAILURES_PER_CLIENT:
            return 0.0
        return recent[-FAILURES_PER_CLIENT] + FAILURE_WINDOW_S - now


def client_of(scope: Scope) -> str:
    """The client's address (what failed passwords are counted by)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def cookies_of(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header counts as no cookies
                continue
    return {key: morsel.value for key, morsel in jar.items()}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """The middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: WebSettings, sessions: Sessions) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = cookies_of(scope)
        csrf = cookies.get(CSRF_COOKIE)
        new_csrf = None
        if not csrf or len(csrf) < 20:
            csrf = new_csrf = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = csrf
        send = self._decorated(send, new_csrf)
        path: str = scope["path"]
        method: str = scope["method"]

        wait_s = self.sessions.retry_after_s(client_of(scope)) if self.settings.needs_password else 0.0
        signed_in = not self.settings.needs_password or await self._authenticated(scope, cookies)
        if not signed_in and not path.startswith(PUBLIC_PREFIXES):
            if wait_s > 0:  # this client was already over its limit of wrong passwords
                await _plain(
                    send,
                    429,
                    f"too many wrong passwords from this address; try again in {wait_s:.0f} s",
                    [(b"retry-after", str(int(wait_s) + 1).encode())],
                )
                return
            await self._ask_for_password(scope, send, path)
            return
        scope["state"]["signed_in"] = signed_in

        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(scope, receive, self.settings.max_upload_bytes)
        except BodyTooLarge:
            await _plain(send, 413, f"the request is larger than {self.settings.max_upload_bytes} bytes")
            return
        problem = await self._csrf_problem(scope, body, cookies.get(CSRF_COOKIE))
        if problem:
            await _plain(send, 403, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _authenticated(self, scope: Scope, cookies: dict[str, str]) -> bool:
        if self.sessions.valid(cookies.get(SESSION_COOKIE)):
            return True
        authorization = header(scope, b"authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return await self.sessions.check_password(token.strip(), client_of(scope))

    async def _ask_for_password(self, scope: Scope, send: Send, path: str) -> None:
        accept = header(scope, b"accept") or ""
        is_page = scope["method"] == "GET" and not path.startswith(("/api/", "/files/")) and "html" in accept
        if is_page:
            target = path + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            location = "/login?next=" + quote(target, safe="")
            await send(
                {"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode())]}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _plain(
            send,
            401,
            "a password is required: log in at /login or send Authorization: Bearer <password>",
            [(b"www-authenticate", b'Bearer realm="musicd"')],
        )

    async def _csrf_problem(self, scope: Scope, body: bytes, cookie: str | None) -> str | None:
        origin = header(scope, b"origin")
        host = header(scope, b"host")
        if origin and origin != "null" and (urlsplit(origin).netloc or "") != (host or ""):
            return "cross-origin request refused"
        if origin == "null":
            return "cross-origin request refused"
        content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if scope["path"].startswith("/api/"):
            if content_type != "application/json":
                return "the API takes application/json bodies only"
            return None
        token = header(scope, CSRF_HEADER.encode())
        if token is None and content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            from starlette.requests import Request

            try:
                form = await Request(scope, _replay(body, None)).form(max_files=1, max_fields=200)
            except Exception:  # an unparsable form has no token
                return "the form could not be read"
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        if not cookie or not token or not hmac.compare_digest(token, cookie):
            return "the form's CSRF token is missing or wrong; reload the page and try again"
        return None

    def _decorated(self, send: Send, new_csrf: str | None) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in names)
                if new_csrf:
                    headers.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Strict".encode(),
                        )
                    )
                message["headers"] = headers
            await send(message)

        return wrapped


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive | None) -> Receive:
    """A receive that hands out `body` once, then waits on `then` (the client's disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
