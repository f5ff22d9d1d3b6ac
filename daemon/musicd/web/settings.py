"""The web server's settings and its password: where it listens, who may use it, how much it takes.

Settings come from the config's `web:` section when there is one, then the command line.
The password is kept only as a salted PBKDF2-SHA256 hash (`musicd web --hash-password`
prints one); a password file (e.g. a systemd credential) may hold a hash or the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from musicd.errors import MusicdError

HASH_SCHEME = "pbkdf2_sha256"
HASH_ITERATIONS = 200_000
CREDENTIAL_NAME = "web-password"  # $CREDENTIALS_DIRECTORY/web-password (systemd LoadCredential=)


class WebError(MusicdError):
    """The web server cannot start as configured (e.g. a public address without a password)."""


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """`pbkdf2_sha256$ITERATIONS$SALT$HASH` (base64) for `password`."""
    if not password:
        raise WebError("the password is empty; choose one")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    b64 = base64.urlsafe_b64encode
    return f"{HASH_SCHEME}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def is_password_hash(text: str) -> bool:
    return text.startswith(HASH_SCHEME + "$") and text.count("$") == 3


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches `password_hash` (constant time; False for a malformed hash)."""
    try:
        scheme, iterations, salt, digest = password_hash.split("$")
        if scheme != HASH_SCHEME:
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), base64.urlsafe_b64decode(salt), int(iterations)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_password_file(path: Path) -> str:
    """The hash in `path`; a plain password there is hashed in memory."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise WebError(f"cannot read the password file {path}: {exc.strerror or exc}") from None
    if not text:
        raise WebError(f"the password file {path} is empty; put a password or a hash in it")
    return text if is_password_hash(text) else hash_password(text)


@dataclass(frozen=True)
class WebSettings:
    """How `musicd web` serves: address, password hash, limits."""

    host: str = "127.0.0.1"
    port: int = 8080
    password_hash: str | None = None
    max_upload_bytes: int = (
        262144  # a whole request; the spec inside is held to MAX_SPEC_BYTES as in the inbox
    )
    page_size: int = 24
    poll_interval_s: float = 2.0  # how often the queue page refreshes itself
    max_wait_s: float = 600.0  # the longest `?wait=SECONDS` honoured

    @property
    def needs_password(self) -> bool:
        return self.password_hash is not None

    def checked(self) -> WebSettings:
        """Self, or WebError when it would serve a non-loopback address without a password."""
        if self.password_hash is not None and not is_password_hash(self.password_hash):
            raise WebError(
                "web.password_hash is not a musicd password hash; make one with `musicd web --hash-password`"
            )
        if not is_loopback(self.host) and self.password_hash is None:
            raise WebError(
                f"refusing to listen on {self.host} without a password: set web.password_hash "
                "(`musicd web --hash-password` prints one), MUSICD_WEB__PASSWORD_HASH, or "
                "--password-file, or listen on 127.0.0.1"
            )
        if not 0 < self.port < 65536:
            raise WebError(f"port {self.port} is out of range; use 1..65535")
        return self

    def with_overrides(self, **values: Any) -> WebSettings:
        """A copy with the values that are not None."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def settings_from(section: Any, *, password_file: Path | None = None, **overrides: Any) -> WebSettings:
    """WebSettings from a config `web:` section (any object with those attributes, or None),
    then `password_file` (else $CREDENTIALS_DIRECTORY/web-password when present), then overrides."""
    base = WebSettings()
    if section is not None:
        fields = ("host", "port", "password_hash", "max_upload_bytes", "page_size", "poll_interval_s")
        base = base.with_overrides(**{name: getattr(section, name, None) for name in fields})
        if password_file is None and getattr(section, "password_file", None) is not None:
            password_file = Path(section.password_file)
    if password_file is None and os.environ.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(os.environ["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
        if candidate.is_file():
            password_file = candidate
    if password_file is not None:
        base = replace(base, password_hash=read_password_file(password_file))
    return base.with_overrides(**overrides).checked()
