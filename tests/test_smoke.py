"""The floor of the service: health, security headers, the page and vendored files."""

import plotly
import pytest
from fastapi.testclient import TestClient

from app.main import PLOTLY_JS_FILE, PLOTLY_JS_URL, create_app
from app.middleware import CONTENT_SECURITY_POLICY
from app.settings import Settings


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_lifespan_stores_settings(client, settings):
    assert client.app.state.settings is settings


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/docs", "/openapi.json", "/static/app.css", "/no-such-page"]
)
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_csp_allows_scripts_from_this_server_only():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'self'"


def test_page_names_the_versioned_plotly(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Backprop Lab</title>" in response.text
    assert f'<script src="{PLOTLY_JS_URL}"></script>' in response.text
    assert "{{" not in response.text
    assert f"/vendor/plotly-{plotly.__version__}.min.js" == PLOTLY_JS_URL


def test_plotly_served_from_the_installed_package(client):
    response = client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "immutable" in response.headers["cache-control"]
    assert response.content == PLOTLY_JS_FILE.read_bytes()


def test_plotly_sent_compressed_when_the_browser_accepts_gzip(client):
    response = client.get(PLOTLY_JS_URL, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert int(response.headers["content-length"]) < PLOTLY_JS_FILE.stat().st_size / 2
    # httpx already decoded it; the bytes must be the file's.
    assert response.content == PLOTLY_JS_FILE.read_bytes()


@pytest.mark.parametrize("path", ["/", "/docs", PLOTLY_JS_URL, "/static/main.js"])
def test_head_is_answered_like_get(client, path):
    assert client.head(path).status_code == 200


def test_other_plotly_versions_are_not_found(client):
    assert client.get("/vendor/plotly-0.0.0.min.js").status_code == 404


def test_docs_page_is_local(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert "http" not in response.text  # no CDN: every asset from this server
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        path = f"/static/vendor/swagger-ui-5.35.0/{asset}"
        assert path in response.text
        assert client.get(path).status_code == 200


def test_request_body_over_the_limit_is_refused_with_the_limit_named():
    with TestClient(create_app(Settings(max_body_bytes=100))) as small:
        response = small.post("/healthz", content=b"x" * 101)
        assert response.status_code == 413
        assert "100 bytes" in response.json()["detail"]
        assert response.headers["x-frame-options"] == "DENY"

        def chunks():
            yield b"x" * 60
            yield b"x" * 60

        response = small.post("/healthz", content=chunks())
        assert response.status_code == 413


def test_request_body_within_the_limit_reaches_the_app():
    with TestClient(create_app(Settings(max_body_bytes=100))) as small:
        # /healthz is GET only: 405 shows the request got past the size check.
        assert small.post("/healthz", content=b"x" * 100).status_code == 405

        def chunks():
            yield b"x" * 50
            yield b"x" * 50

        assert small.post("/healthz", content=chunks()).status_code == 405
