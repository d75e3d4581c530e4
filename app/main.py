"""The FastAPI app factory: settings, middleware, the page, vendored JavaScript, health.

Run it with uvicorn's factory mode (``uvicorn --factory app.main:create_app``) or the
``backprop-lab`` command (app/cli.py).
"""

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Literal

import plotly
from anyio import CapacityLimiter
from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.errors import install_error_handlers
from app.follow import open_hub
from app.middleware import GZIP_MIN_BYTES, BodyLimitsMiddleware, SecurityHeadersMiddleware
from app.routes import evaluation, exports, follow, meta, representation, sessions
from app.settings import Settings, get_settings
from app.store import SessionStore, Store

# `static` sits next to `app`, both in the repository and in site-packages.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"
DOCS_HTML = STATIC_DIR / "docs.html"
FOLLOW_HTML = STATIC_DIR / "follow.html"
COMPARE_HTML = STATIC_DIR / "compare.html"
# What every page's <head> starts with (charset, viewport, icon, base.css, plotly.js):
# written once, in place of each page's {{head}}.
HEAD_HTML = STATIC_DIR / "head.html"
HEAD_PLACEHOLDER = "{{head}}"

# plotly.js ships inside the plotly Python package, so the page needs no CDN. The
# version in the URL lets browsers cache the 4.8 MB file for good.
PLOTLY_JS_FILE = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_JS_URL = f"/vendor/plotly-{plotly.__version__}.min.js"
# head.html names plotly.js by this placeholder; it is replaced with PLOTLY_JS_URL.
PLOTLY_JS_PLACEHOLDER = "{{plotly_js}}"
IMMUTABLE = "public, max-age=31536000, immutable"


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@cache
def _plotly_js_gzip() -> bytes:
    """plotly.js compressed once per process (4.8 MB -> about 1.4 MB per student)."""
    return gzip.compress(PLOTLY_JS_FILE.read_bytes(), compresslevel=6)


async def _sweep_forever(store: Store, every_seconds: float = 60.0) -> None:
    """Forget idle sessions once a minute, so memory is freed even if nobody asks."""
    while True:
        await asyncio.sleep(every_seconds)
        await store.expire()


async def open_store(settings: Settings) -> Store:
    """Sessions in this process, or in Redis when BACKPROP_REDIS_URL is set."""
    if settings.redis_url is None:
        return SessionStore(settings)
    from app.redis_store import RedisStore  # only a server that uses Redis needs its client

    return await RedisStore.connect(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without ``settings`` they are read from BACKPROP_* variables."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.store = await open_store(settings)
        app.state.compute_limiter = CapacityLimiter(settings.compute_threads)
        app.state.follow = open_hub(app.state.store, settings)  # follow mode (app/follow.py)
        app.state.follow.start()
        sweeper = asyncio.create_task(_sweep_forever(app.state.store))
        yield
        sweeper.cancel()
        app.state.follow.close()
        await app.state.store.close()

    app = FastAPI(
        title="Backprop Lab",
        version=__version__,
        summary="Every number of one SGD iteration: forward, backward, update.",
        lifespan=lifespan,
        # /docs is our own page (static/docs.html) with Swagger UI served from this
        # server; FastAPI's default pulls it from a CDN and runs an inline script.
        docs_url=None,
        redoc_url=None,
    )
    # Outermost last: security headers also cover the 413 from the size limit.
    # Full-precision floats (~19 characters each): gzip halves them. Level 1: 8.4 KB ->
    # 3.7 KB in ~50 µs; level 5 saves 0.2 KB more for ~145 µs.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=1)
    app.add_middleware(
        BodyLimitsMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_seconds=settings.body_timeout_seconds,
    )
    app.add_middleware(SecurityHeadersMiddleware)

    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness probe: the process is up and answering."""
        return Health()

    app.include_router(sessions.router)
    app.include_router(evaluation.router)
    app.include_router(representation.router)
    app.include_router(follow.share_router)
    app.include_router(follow.follow_router)
    app.include_router(exports.router)
    app.include_router(meta.router)

    def page(path: Path) -> HTMLResponse:
        # Read on each request so that edits to the page show without a restart.
        html = path.read_text(encoding="utf-8")
        head = "\n  ".join(HEAD_HTML.read_text(encoding="utf-8").strip().splitlines())
        html = html.replace(HEAD_PLACEHOLDER, head)
        return HTMLResponse(
            html.replace(PLOTLY_JS_PLACEHOLDER, PLOTLY_JS_URL),
            headers={"Cache-Control": "no-cache"},
        )

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> HTMLResponse:
        return page(INDEX_HTML)

    @app.api_route("/follow", methods=["GET", "HEAD"], include_in_schema=False)
    async def follow_page() -> HTMLResponse:
        """A read-only view of a teacher's run: /follow?token=… (app/follow.py)."""
        return page(FOLLOW_HTML)

    @app.api_route("/compare", methods=["GET", "HEAD"], include_in_schema=False)
    async def compare_page() -> HTMLResponse:
        """Two runs side by side, stepped together: /compare?pair=… (static/compare.js)."""
        return page(COMPARE_HTML)

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(DOCS_HTML, headers={"Cache-Control": "no-cache"})

    @app.api_route(PLOTLY_JS_URL, methods=["GET", "HEAD"], include_in_schema=False)
    async def plotly_js(request: Request) -> Response:
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = await run_in_threadpool(_plotly_js_gzip)
            headers["Content-Encoding"] = "gzip"
            return Response(body, media_type="text/javascript", headers=headers)
        return FileResponse(PLOTLY_JS_FILE, media_type="text/javascript", headers=headers)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
