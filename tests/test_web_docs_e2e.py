"""/docs and /redoc in headless Chromium under the server's CSP: each renders the API's operations, loads
nothing from another origin, and no script is blocked (they were blank pages while their CDN scripts were)."""

import pytest

from test_web_e2e import browser, server_url  # noqa: F401 - the fixtures

OPERATIONS = ("/api/colorize", "/api/health", "/api/model")


@pytest.mark.parametrize("page_path,operation_text", [("docs", OPERATIONS), ("redoc", ("Colorize a line art",))])
def test_the_api_docs_render_under_the_csp_from_this_server_alone(browser, server_url, page_path, operation_text):
    page = browser.new_page()
    foreign, blocked = [], []
    page.on("request", lambda r: None if r.url.startswith(server_url) or r.url.startswith(("data:", "blob:"))
            else foreign.append(r.url))
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text
            and "script" in m.text.lower() else None)
    page.on("pageerror", lambda e: blocked.append(str(e)))
    page.goto(server_url + page_path)
    page.get_by_text(operation_text[0]).first.wait_for(timeout=20_000)
    text = page.inner_text("body")
    for expected in operation_text:
        assert expected in text
    assert not blocked, blocked
    assert all("redoc.ly" in url for url in foreign), foreign  # ReDoc's own logo image, refused by img-src
    page.close()
