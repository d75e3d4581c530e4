"""Fixtures: an in-process client, a live server, a Redis server, and a Chromium page
that fails a test on any console error, page error or request that leaves the live
server.

A test module that sets ``BOTH_STORES = True`` runs each test that uses ``settings``
(``client`` does) twice: with sessions in the process and with sessions in Redis.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.support import CHROMIUM_PATH, launch_chromium, redis_server, running_server

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_STORES", False):
        metafunc.parametrize("store", ["memory", "redis"], indirect=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of the test run's own, on a free 127.0.0.1 port."""
    with redis_server() as url:
        yield url


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """Where the test's app keeps sessions: "memory" unless the module asks for both."""
    return getattr(request, "param", "memory")


@pytest.fixture
def settings(store: str, request: pytest.FixtureRequest) -> Settings:
    """The settings a test's app gets; override this fixture to test other limits."""
    if store == "redis":
        return redis_settings(request.getfixturevalue("redis_url"))
    return Settings()


def redis_settings(url: str, **limits) -> Settings:
    """Settings on an emptied Redis: each test starts with no sessions."""
    import redis

    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return Settings(redis_url=url, **limits)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # The `with` block runs the lifespan, as a real server would.
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Base URL (no trailing slash) of the app served by uvicorn on 127.0.0.1."""
    with running_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM_PATH.exists():
        message = f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def guarded_page(browser, live_server: str, request, ignore_console: re.Pattern | None = None):
    """A fresh page; the test fails on console errors, page errors or foreign requests.

    Every request is routed: those to the live server go on, any other host is aborted
    and recorded (the page must work offline). Console errors matching
    ``ignore_console`` are allowed. A screenshot of the final state goes to
    tests/artifacts/<test name>.png.
    """
    origin = urlsplit(live_server).netloc
    problems: list[str] = []
    context = browser.new_context(base_url=live_server)

    def guard(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == origin:
            route.continue_()
        else:
            problems.append(f"request to another host: {route.request.url}")
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()

    def on_console(message):
        if message.type == "error" and not (ignore_console and ignore_console.search(message.text)):
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield page

    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    finally:
        context.close()
    if problems:
        pytest.fail("the page misbehaved:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(browser, live_server: str, request: pytest.FixtureRequest):
    """A fresh page that fails the test on any console error or foreign request."""
    yield from guarded_page(browser, live_server, request)
