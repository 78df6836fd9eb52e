"""What the web app checks before a request reaches its route (ASGI middleware), and the headers every
answer carries.

* :class:`BodyLimit`: request bodies are counted as they arrive: past ``max_bytes`` the answer is 413
  before anything is parsed (a declared Content-Length over the limit is refused before a byte is read);
  a client that stops sending its body for ``read_timeout`` seconds gets 408 and its connection back.
* :class:`HostGuard`: the ``Host`` header must name this server (an allow-list: a page on another site
  that points its own DNS name at 127.0.0.1 must not reach the API, "DNS rebinding"), and a request that
  changes something (POST) from a browser must come from this server's own origin; 421 and 403 otherwise.
* :class:`SecurityHeaders`: the page's Content-Security-Policy, ``nosniff`` and friends on every answer,
  static files included.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

#: Host names served by default: the loopback addresses (``irodori serve --allow-host`` adds more).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The page is self-contained: scripts, styles and fetches from this origin only.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = ((b"content-security-policy", PAGE_CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"))


async def send_json(send, status: int, detail: str, headers: tuple = ()) -> None:
    """A whole ``{"detail": ...}`` answer from middleware (the connection is closed after it)."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})  # SecurityHeaders, outermost, adds the rest
    await send({"type": "http.response.body", "body": body})


async def drain(receive, limit: int = 1 << 20, seconds: float = 2.0) -> None:
    """Read and drop up to ``limit`` bytes of a refused request's body, unparsed, for at most ``seconds``:
    clients that send their whole body before reading the answer (most do) then get the answer instead
    of a reset connection. Past either bound the answer goes out anyway and the connection is closed."""
    loop = asyncio.get_running_loop()
    deadline, received = loop.time() + seconds, 0
    while received <= limit:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except Exception:  # noqa: BLE001 - a timeout, or a refused body ending any way it likes
            return
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class _BodyRefused(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and stalled ones with 408, without buffering them.

    A declared Content-Length over the limit is refused before a byte is read. Otherwise the body is
    counted as it streams in; at the first chunk past the limit (or after ``read_timeout`` seconds
    without one) ``receive`` raises, so the app stops reading, and whatever the app would answer to
    that is replaced by the 413 (408).
    """

    def __init__(self, app, max_bytes: int, read_timeout: float = 20.0):
        self.app, self.max_bytes, self.read_timeout = app, max_bytes, read_timeout

    def _detail(self, size: int | None) -> str:
        what = f" {size / 2**20:.1f} MB," if size is not None else ""
        return f"the upload is{what} over this server's limit of {self.max_bytes / 2**20:g} MB"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            try:
                size = int(declared[0])
            except ValueError:
                return await send_json(send, 400, "the Content-Length header is not a number")
            if size > self.max_bytes:
                return await send_json(send, 413, self._detail(size))
        received, refused, started, body_done = 0, None, False, False

        async def counting_receive():
            nonlocal received, refused, body_done
            if refused:
                raise _BodyRefused()
            if body_done:  # after the body only a disconnect can come: wait for it as long as it takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except asyncio.TimeoutError:
                refused = (408, f"the upload stalled: nothing arrived for {self.read_timeout:g} s")
                raise _BodyRefused() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_bytes:
                    refused = (413, self._detail(None))
                    raise _BodyRefused()
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return  # the app's answer to a body cut short; the 413/408 below replaces it
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await send_json(send, *refused)


def _host_name(value: str) -> str:
    """``example.org:7860`` -> ``example.org``; ``[::1]:7860`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostGuard:
    """Answer only for the allowed host names (``"*"``: any) and only same-origin browser POSTs."""

    def __init__(self, app, allowed_hosts=LOCAL_HOSTS):
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {h.strip().lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in (b"host", b"origin")}
        host = headers.get("host")  # browsers always send one; a client without it cannot be a rebound page
        if host is not None and not self.any_host and _host_name(host) not in self.allowed:
            await drain(receive)
            return await send_json(send, 421, f"this server does not answer for host {host[:100]!r}; "
                                              "start it with --allow-host NAME to allow it")
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or parts.netloc.lower() != (host or "").lower():
                await drain(receive)
                return await send_json(send, 403, f"cross-origin request from {origin[:100]!r} refused: "
                                                  "use the page this server serves, or a client without Origin")
        return await self.app(scope, receive, send)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every answer that does not set them itself."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"] == "/" or scope["path"].startswith("/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if static and b"cache-control" not in names:  # an upgrade must not mix old and new page modules
                    extra.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            try:
                await send(message)
            except Exception as exc:  # noqa: BLE001 - see below
                raise _ConnectionOver() from exc

        try:
            await self.app(scope, receive, with_headers)
        except _ConnectionOver:
            # The server already answered and closed this connection itself (uvicorn sends 400 for a
            # malformed body and closes): nobody is left to answer, and nothing went wrong in the app.
            return


class _ConnectionOver(Exception):
    pass
