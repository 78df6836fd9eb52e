"""How ``irodori serve`` runs the app: uvicorn over h11, with what the app itself cannot set.

* **Header timeout** (:data:`HEADER_TIMEOUT`): a connection must deliver a request's line and headers within
  this many seconds of opening, or of the end of the previous answer; otherwise it is closed (uvicorn alone
  waits forever for a connection that sends nothing or trickles its headers).
* **Idle keep-alive** (:data:`KEEP_ALIVE_TIMEOUT`): an idle connection after an answer is closed (uvicorn's).
* **Body**: stalls and trickles are :class:`~irodori.web.limits.BodyLimit`'s (408).
* **The server layer's own answers**: what h11 refuses before the app sees a request (a malformed request
  line or header, a bad Content-Length, no Host) gets a 400 that carries
  :data:`~irodori.web.limits.SECURITY_HEADERS`, like every answer of the app.

The protocol hooks used (``connection_made``, ``data_received``, ``connection_lost``, ``on_response_complete``,
``send_400_response``, the ``cycle`` of the request being answered) are uvicorn's h11 protocol's;
``tests/test_web_server.py`` checks each against a real server, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import json

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from irodori.web.limits import SECURITY_HEADERS

HEADER_TIMEOUT = 10.0
KEEP_ALIVE_TIMEOUT = 5.0


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers, and security headers on its 400s."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport) -> None:
        self._header_timer = None
        super().connection_made(transport)
        self._await_headers()

    def _await_headers(self) -> None:
        """Start the clock for the next request's headers (the request now answered, if any, is ``_answered``)."""
        self._stop_clock()
        self._answered = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        waiting = self.cycle is None or self.cycle.response_complete  # not a pipelined request being answered
        if waiting and self.cycle is self._answered and not self.transport.is_closing():
            self.transport.close()  # no complete request in time: an idle or slow-header connection

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._answered:
            self._stop_clock()  # a request's headers are complete; its body has BodyLimit's own clock

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._header_timer is None:
            self._await_headers()

    def connection_lost(self, exc) -> None:
        self._stop_clock()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"detail": f"malformed HTTP request ({msg.rstrip('.')})"}).encode()
        head = [b"HTTP/1.1 400 Bad Request", b"content-type: application/json", b"connection: close",
                b"content-length: " + str(len(body)).encode(), *(k + b": " + v for k, v in SECURITY_HEADERS)]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


def server_config(app, host: str, port: int, **options) -> uvicorn.Config:
    """The uvicorn configuration ``irodori serve`` runs ``app`` with (``options``: more ``uvicorn.Config``)."""
    return uvicorn.Config(app, host=host, port=port, http=GuardedH11Protocol, timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
                          **options)
