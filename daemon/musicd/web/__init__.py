"""The web UI and the original HTTP API (`musicd web`): gallery, job pages, queue, submit form.

Server-rendered pages (Starlette + Jinja2) beside the service: the web process reads
the job store and the outbox, writes valid specs into the inbox (the service stays the
only thing that ingests) and changes the queue only through the store's retry/cancel.
Importing this package stays light; `musicd.web.app.create_app` pulls in Starlette.
"""

from __future__ import annotations

from musicd.web.settings import WebError, WebSettings, hash_password, verify_password

__all__ = ["WebError", "WebSettings", "hash_password", "verify_password"]
