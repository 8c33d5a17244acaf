"""The interactive docs work offline: the page and every file it loads come from LogSight."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from logsight.config import Settings
from tests.support.api import ApiCaller


class References(HTMLParser):
    """Every URL the page makes the browser fetch: scripts, style sheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            url = values.get(name)
            if url and (tag != "a"):
                self.urls.append(url)


def test_the_docs_page_and_its_files_are_served_by_the_app() -> None:
    # No database, no network: the ASGI app through Mangum, as on Lambda.
    api = ApiCaller(Settings())
    page = api("GET", "/api/docs")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = References()
    refs.feed(page.body)
    fetched = [u for u in refs.urls if not u.startswith("data:")]
    assert {urlsplit(u).path for u in fetched} >= {
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
    }
    # The script names the OpenAPI document by path, on the same origin.
    assert "url: '/api/openapi.json'" in page.body
    assert "http://" not in page.body and "https://" not in page.body.replace(
        "https://swagger.io", ""
    )
    for url in fetched:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        reply = api("GET", parts.path)
        assert reply.status == 200, url
        assert len(reply.body) > 100_000, url  # the real bundle, not a stub
        assert "max-age" in reply.headers["cache-control"]
    bundle = api("GET", "/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in bundle.body
    assert api("GET", "/api/docs/assets/other.js").status == 404
