"""The API's interactive docs, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served from this server alone.

FastAPI's own pages load their scripts from a CDN and start them with an inline script, which the page's
Content-Security-Policy blocks (a blank page). Here the scripts come from the ``fastapi-offline`` package
(MIT; it ships Swagger UI, Apache-2.0, and ReDoc, MIT) under ``/static/docs/vendor/``, and are started by our
own files. ``/docs`` runs under the page's own strict policy; ``/redoc`` gets :data:`REDOC_CSP`, the same but for
inline styles (ReDoc injects its stylesheet and fails without them: checked in headless Chromium) and its
search worker from a ``blob:``. Scripts and fetches stay on this origin for both.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

DOCS_DIR = Path(__file__).parent / "static" / "docs"
VENDOR_DIR = Path(fastapi_offline.__file__).parent / "static"
REDOC_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
             "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
             "frame-ancestors 'none'")


def add_docs(app: FastAPI) -> None:
    """``GET /docs`` and ``/redoc`` (HEAD too), and the vendored scripts under ``/static/docs/vendor``."""
    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def swagger_ui():
        return FileResponse(DOCS_DIR / "swagger.html", headers={"Cache-Control": "no-cache"})  # + the page's CSP

    @app.api_route("/redoc", methods=["GET", "HEAD"], include_in_schema=False)
    async def redoc():
        return FileResponse(DOCS_DIR / "redoc.html",
                            headers={"Content-Security-Policy": REDOC_CSP, "Cache-Control": "no-cache"})

    # mounted before /static, which would otherwise answer 404 for these paths
    app.mount("/static/docs/vendor", StaticFiles(directory=VENDOR_DIR), name="docs-vendor")
