"""``backprop-lab`` / ``python -m app``: serve the app with uvicorn."""

import argparse
import threading
import time
import urllib.request
import webbrowser

import uvicorn
from pydantic import ValidationError

from app.settings import get_settings

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def _open_when_ready(url: str, timeout: float = 30.0) -> None:
    """Open ``url`` in a browser as soon as /healthz answers (gives up after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="backprop-lab",
        description="Serve Backprop Lab. Settings come from BACKPROP_* environment variables.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0 lets other machines, e.g. students, connect)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on the one port, e.g. one per core (more than 1 needs "
        "BACKPROP_REDIS_URL)",
    )
    args = parser.parse_args(argv)

    try:  # A bad BACKPROP_* value should read as a message, not a traceback.
        settings = get_settings()
    except ValidationError as error:
        parser.exit(2, f"backprop-lab: invalid setting in the environment:\n{error}\n")
    if args.workers < 1:
        parser.exit(2, "backprop-lab: --workers must be 1 or more.\n")
    if args.workers > 1 and settings.redis_url is None:
        parser.exit(
            2,
            f"backprop-lab: --workers {args.workers} needs BACKPROP_REDIS_URL: without Redis "
            "each worker process keeps its own sessions, so a student's next request, "
            "answered by another worker, would not find their run.\n",
        )

    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host_in_url}:{args.port}/"
    print(f"Backprop Lab serving on {url}", flush=True)
    local_url = url
    if args.host in WILDCARD_HOSTS:
        local_url = f"http://127.0.0.1:{args.port}/"
        print(
            f"Open {local_url} here, or http://<this machine's address>:{args.port}/ "
            "from another machine.",
            flush=True,
        )
    if args.open:
        threading.Thread(target=_open_when_ready, args=(local_url,), daemon=True).start()

    # loop/http "auto" pick uvloop and httptools, which uvicorn[standard] installs.
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="auto",
        http="auto",
        # Slow or idle clients cannot hold the server: connections past the limit get
        # 503, idle ones close; slow bodies time out in app/middleware.py.
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,
    )
