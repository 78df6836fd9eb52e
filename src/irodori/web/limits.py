"""What the web app checks before a request reaches its route (ASGI middleware), and the headers every
answer carries.

* :class:`BodyLimit`: request bodies are counted as they arrive: past ``max_bytes`` the answer is 413
  before anything is parsed (a declared Content-Length over the limit is refused before a byte is read);
  a client that stops sending its body for ``read_timeout`` seconds, or sends it slower than
  :data:`MIN_UPLOAD_RATE` on average after that, gets 408 and its connection back; a request with both
  ``Transfer-Encoding`` and ``Content-Length``, or two Content-Lengths, gets 400.
* :class:`HostGuard`: the ``Host`` header must name this server (an allow-list: a page on another site
  that points its own DNS name at 127.0.0.1 must not reach the API, "DNS rebinding"), and a request that
  changes something (POST) from a browser must come from this server's own origin; 421 and 403 otherwise.
* :class:`SecurityHeaders`: the page's Content-Security-Policy, ``nosniff`` and friends on every answer,
  static files included.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

#: The server's defaults, for ``irodori serve`` and :func:`irodori.web.app.create_app` alike: the largest request
#: body, the largest line art (below the pipeline's MAX_PIXELS: one 16 MP request needs about 1 GB while it
#: runs), the largest working resolution a client may ask for, inferences at once and requests that may wait.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_RESOLUTION = 1024
DEFAULT_WORKERS = 1
DEFAULT_QUEUE = 8

#: Host names served by default: the loopback addresses (``irodori serve --allow-host`` adds more).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The page is self-contained: scripts, styles and fetches from this origin only.
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
log = logging.getLogger("irodori.web")
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


#: Bytes per second an upload must average once it has run ``read_timeout`` seconds (a 20 MB upload at this
#: rate takes 5.5 hours: only a client trickling its body to hold the connection falls under it).
MIN_UPLOAD_RATE = 1024


class _BodyRefused(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and stalled ones with 408, without buffering them.

    A declared Content-Length over the limit is refused before a byte is read. Otherwise the body is
    counted as it streams in; at the first chunk past the limit (or after ``read_timeout`` seconds
    without one) ``receive`` raises, so the app stops reading, and whatever the app would answer to
    that is replaced by the 413 (408).
    """

    def __init__(self, app, max_bytes: int, read_timeout: float = 20.0, min_rate: float = MIN_UPLOAD_RATE):
        self.app, self.max_bytes, self.read_timeout, self.min_rate = app, max_bytes, read_timeout, min_rate

    def _detail(self, size: int | None) -> str:
        what = f" {size / 2**20:.1f} MB," if size is not None else ""
        return f"the upload is{what} over this server's limit of {self.max_bytes / 2**20:g} MB"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared and any(k == b"transfer-encoding" for k, _ in scope["headers"]):
            # which one frames the body is where request smuggling starts: refuse both (RFC 9112, 6.3)
            return await send_json(send, 400, "a request may not have both Transfer-Encoding and Content-Length")
        if declared:
            if len(declared) > 1 or not declared[0].isdigit():
                return await send_json(send, 400, "the Content-Length header must be one number")
            size = int(declared[0])
            if size > self.max_bytes:
                return await send_json(send, 413, self._detail(size))
        loop = asyncio.get_running_loop()
        received, refused, started, body_done, began = 0, None, False, False, loop.time()

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
                elapsed = loop.time() - began
                if not body_done and elapsed > self.read_timeout and received < self.min_rate * elapsed:
                    refused = (408, f"the upload is too slow: {received} bytes in {elapsed:.0f} s (at least "
                                    f"{self.min_rate / 1024:g} KiB/s after the first {self.read_timeout:g} s)")
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


#: A Host header: a DNS name or IPv4 address, or an IPv6 address in brackets, and an optional port; nothing else
#: (no user info, path or spaces: ``localhost:7860@evil.example`` is not a name of this server).
_HOST = re.compile(r"(?P<name>[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[(?P<ip6>[0-9a-f:.]{2,45})\])(?::[0-9]{1,5})?")


def _host_name(value: str) -> str | None:
    """``example.org:7860`` -> ``example.org``; ``[::1]:7860`` -> ``::1``; None when ``value`` is not a host."""
    match = _HOST.fullmatch(value.lower())
    return None if match is None else (match["ip6"] or match["name"])


class HostGuard:
    """Answer only for the allowed host names (``"*"``: any) and only same-origin browser POSTs.

    One ``Host`` of the strict form :data:`_HOST` (400 for two or a malformed one, 421 for a name not allowed);
    a POST's ``Origin``, when sent, must be exactly this server's ``scheme://host[:port]`` (403 otherwise, and
    for two Origin headers: which one a browser meant cannot be known)."""

    def __init__(self, app, allowed_hosts=LOCAL_HOSTS):
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {h.strip().lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
        origins = [v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"]
        host = hosts[0] if hosts else None  # browsers always send one; a client without it cannot be a rebound page
        refusal = None
        if len(hosts) > 1 or (host is not None and _host_name(host) is None):
            refusal = 400, f"the Host header must be one host name with an optional port, got {hosts!r:.100}"
        elif host is not None and not self.any_host and _host_name(host) not in self.allowed:
            refusal = 421, (f"this server does not answer for host {host[:100]!r}; start it with --allow-host NAME "
                            "to allow it")
        elif scope["method"] not in ("GET", "HEAD", "OPTIONS") and origins and (
                len(origins) > 1 or origins[0].lower() != f"{scope.get('scheme', 'http')}://{host or ''}".lower()):
            refusal = 403, (f"cross-origin request from {', '.join(origins)[:100]!r} refused: use the page this "
                            "server serves, or a client without Origin")
        if refusal:
            await drain(receive)
            return await send_json(send, *refusal)
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

        started = False

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await with_headers(message)

        try:
            await self.app(scope, receive, tracked)
        except _ConnectionOver:
            # The server already answered and closed this connection itself (uvicorn sends 400 for a
            # malformed body and closes): nobody is left to answer, and nothing went wrong in the app.
            return
        except Exception:
            if started:
                raise
            # answered here rather than by the server layer, whose own 500 would carry none of the headers
            log.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            await send_json(with_headers, 500, "internal error (the server log has the details)")


class _ConnectionOver(Exception):
    pass
