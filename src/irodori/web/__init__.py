"""The web app: an HTTP API over :class:`irodori.colorize.pipeline.Colorizer` and a page to paint hints on.

Needs the ``web`` extra (FastAPI, uvicorn, python-multipart). Build it with
:func:`irodori.web.app.create_app`; run it with ``irodori serve``.
"""
