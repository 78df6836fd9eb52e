"""The HTTP layer ``irodori serve`` runs (irodori.web.server) against a real server on 127.0.0.1: connections
that send nothing, trickle their headers or their body, or idle after an answer are closed within the
documented timeouts while others are answered; the server layer's own 400s carry the security headers; and a
request with both Transfer-Encoding and Content-Length is refused. Bounded: a few connections, short
timeouts (the header deadline is lowered to 1 s here)."""

import socket
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")

from conftest import serving  # noqa: E402

from irodori.web import server as web_server  # noqa: E402
from irodori.web.limits import PAGE_CSP  # noqa: E402
from test_web_api import colorizer, make_app, model_file  # noqa: E402

__all__ = ["colorizer", "model_file"]
HEADER_TIMEOUT, KEEP_ALIVE, READ_TIMEOUT = 1.0, 1.0, 1.0
SLACK = 2.0  # scheduling on a shared machine; far below what an unguarded server holds (forever)


@pytest.fixture(scope="module")
def address(colorizer):
    app = make_app(colorizer, read_timeout=READ_TIMEOUT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(web_server.GuardedH11Protocol, "header_timeout", HEADER_TIMEOUT)
        mp.setattr(web_server, "KEEP_ALIVE_TIMEOUT", KEEP_ALIVE)
        config = web_server.server_config(app, "127.0.0.1", 0, log_level="warning", lifespan="on")
        with serving(config) as address:
            yield address


def _connect(address) -> socket.socket:
    conn = socket.create_connection(address, timeout=10)
    return conn


def _closed_after(conn: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closes ``conn`` (reading whatever it answers), at most ``limit``."""
    start, data = time.monotonic(), b""
    conn.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            continue
        except ConnectionError:
            break
        if not chunk:
            break
        data += chunk
    return time.monotonic() - start, data


def _health(address) -> bytes:
    with _connect(address) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return _closed_after(conn, 10)[1]


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(address):
    with _connect(address) as conn:
        seconds, data = _closed_after(conn, HEADER_TIMEOUT + SLACK + 5)
    assert data == b"" and HEADER_TIMEOUT - 0.2 <= seconds <= HEADER_TIMEOUT + SLACK


def test_a_connection_trickling_its_headers_is_closed_after_the_header_timeout(address):
    with _connect(address) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\n")
        start = time.monotonic()
        try:
            while time.monotonic() - start < HEADER_TIMEOUT + SLACK + 5:
                conn.sendall(b"X")  # one byte of a header at a time, never done
                time.sleep(0.2)
        except ConnectionError:
            pass
        assert time.monotonic() - start <= HEADER_TIMEOUT + SLACK


def test_an_idle_keep_alive_connection_is_closed_after_an_answer(address):
    with _connect(address) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n")
        seconds, data = _closed_after(conn, KEEP_ALIVE + SLACK + 5)
    assert data.startswith(b"HTTP/1.1 200") and seconds <= KEEP_ALIVE + SLACK


def test_a_trickled_body_gets_408_and_is_closed(address):
    with _connect(address) as conn:
        conn.sendall(b"POST /api/colorize HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n")
        start, answer = time.monotonic(), b""
        conn.settimeout(0.3)
        while time.monotonic() - start < READ_TIMEOUT + SLACK + 5 and not answer:
            try:
                conn.sendall(b"-")  # one byte every 0.3 s: never a stall, far under the minimum rate
                answer = conn.recv(65536)
            except socket.timeout:
                continue
            except ConnectionError:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - start <= READ_TIMEOUT + SLACK + 1


def test_health_answers_while_idle_connections_are_held(address):
    idle = [_connect(address) for _ in range(30)]
    try:
        assert _health(address).startswith(b"HTTP/1.1 200")
    finally:
        for conn in idle:
            conn.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"POST /api/colorize HTTP/1.1\r\nHost: t\r\nContent-Length: x1\r\n\r\n",
    b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
])
def test_the_server_layers_own_400s_carry_the_security_headers(address, request_bytes):
    with _connect(address) as conn:
        conn.sendall(request_bytes)
        _, data = _closed_after(conn, 5)
    head = data.split(b"\r\n\r\n")[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 400"), head
    assert f"content-security-policy: {PAGE_CSP}".lower() in head and "x-content-type-options: nosniff" in head


def test_chunked_encoding_with_a_content_length_is_refused(address):
    with _connect(address) as conn:
        conn.sendall(b"POST /api/colorize HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                     b"\r\n0\r\n\r\n")
        _, data = _closed_after(conn, 5)
    assert data.startswith(b"HTTP/1.1 400") and b"content-security-policy" in data.lower()


@pytest.mark.parametrize("host", [b"localhost:80@evil.example", b"t:80@evil.example", b"t x"])
def test_a_host_with_user_info_or_junk_is_refused(address, host):
    with _connect(address) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        _, data = _closed_after(conn, 5)
    assert data.startswith((b"HTTP/1.1 400", b"HTTP/1.1 421")), data[:100]


def test_two_host_headers_are_refused(address):
    with _connect(address) as conn:
        conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: t\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        _, data = _closed_after(conn, 5)
    assert data.startswith(b"HTTP/1.1 400"), data[:100]
