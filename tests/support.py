"""Helpers shared by the tests and scripts/screenshot.py: a live server, Chromium, a
Redis server, and a coroutine run on an event loop of its own."""

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from app.main import create_app
from app.settings import Settings

# A session config whose steps diverge within a few steps (η = 1e6 on a linear net).
DIVERGING = {
    "layers": [2, 4, 1],
    "activation": "identity",
    "output": "identity",
    "learning_rate": 1e6,
    "dataset": {"name": "gaussians", "n": 40},
}

# Debian's Chromium: Playwright's own browser download is not available here.
CHROMIUM_PATH = Path("/usr/bin/chromium")
# Without the networking flags Chromium phones home at start, which an offline
# machine refuses (and which the tests must not see as page traffic anyway).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_chromium(playwright):
    """Headless Debian Chromium through Playwright's sync API."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS
    )


@contextmanager
def running_server(settings: Settings | None = None) -> Iterator[str]:
    """Serve the app from a background thread on a free 127.0.0.1 port; yield its URL.

    The socket is bound here and handed to uvicorn, so no other process can take the
    port between choosing and listening.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        lambda: create_app(settings), factory=True, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server(appendonly: bool = False) -> Iterator[str]:
    """Debian's redis-server on a free 127.0.0.1 port, in a temporary directory; yield
    its URL, stop it after."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp]
        args += ["--save", "", "--appendonly", "yes" if appendonly else "no"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with redis.Redis.from_url(url, socket_timeout=1) as r:
                        r.ping()
                    break
                except redis.ConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def run_in_own_loop(coroutine, timeout: float = 10.0) -> None:
    """asyncio.run in a thread: the browser tests' Playwright keeps a loop in this one."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as e:  # re-raised in the test's thread
            failure.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the coroutine did not finish within {timeout:g} s")
    if failure:
        raise failure[0]
