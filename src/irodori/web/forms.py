"""The colorize form as this server reads it: Starlette's multipart parser, with three things it refuses put right.

* A preamble before the first boundary (RFC 2046 5.1.1 allows one; the parser answers 400) is dropped.
* A file part named only by ``filename*=`` (RFC 5987; no plain ``filename``) is a file, not a text field.
* A text field may be as large as the upload limit (the parser's default is 1 MB), so ``hints`` as text
  works at any size that works as a file.
Anything else the parser refuses is a :class:`FormError`, answered 400 with the parser's reason.
"""

from __future__ import annotations

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request


class FormError(Exception):
    """The body is not multipart form data this server can read (400)."""


class _Parser(MultiPartParser):
    def on_headers_finished(self) -> None:
        part = self._current_part
        _, options = parse_options_header(part.content_disposition)
        if b"filename" not in options and b"filename*=" in part.content_disposition.lower():  # the parser drops it
            part.content_disposition += b'; filename="upload"'  # the name itself is never used
        super().on_headers_finished()


async def _from_first_boundary(stream, boundary: bytes):
    """``stream`` from its first ``--boundary`` on (a preamble before it dropped); unchanged when none comes."""
    delimiter, pending = b"--" + boundary, b""
    async for chunk in stream:
        if pending is None:
            yield chunk
            continue
        pending += chunk
        at = pending.find(delimiter)
        if at >= 0:
            yield pending[at:]
            pending = None
        else:  # keep only what could be the start of a delimiter cut between chunks
            pending = pending[-(len(delimiter) - 1):]
    if pending:
        yield pending


async def read_form(request: Request, max_part_size: int, max_files: int = 4, max_fields: int = 8) -> FormData:
    """The request's multipart form (the caller closes it). :class:`FormError` for a body the parser refuses."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise FormError("the multipart Content-Type has no boundary")
    parser = _Parser(request.headers, _from_first_boundary(request.stream(), boundary), max_files=max_files,
                     max_fields=max_fields, max_part_size=max_part_size)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise FormError(f"malformed multipart form: {exc.message}") from None
