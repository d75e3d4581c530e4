"""`python -m app` starts a real server and says where it is."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.read()
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout} s")


def test_python_m_app_serves_and_prints_its_url():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert body == b'{"status":"ok"}'
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert f"Backprop Lab serving on http://127.0.0.1:{port}/" in output
    # SIGTERM ends it gracefully (uvicorn then re-raises the signal: exit code -15).
    assert "Application shutdown complete" in output


def refusal(args: list[str], env: dict[str, str]) -> str:
    """Start the server with ``args`` and ``env``: it must refuse (exit code 2) with a
    plain sentence, no traceback. Returns what it wrote to stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={"PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    return result.stderr


def test_bad_setting_is_reported_plainly():
    stderr = refusal([], {"BACKPROP_MAX_UNITS": "-3"})
    assert "invalid setting" in stderr
    assert "max_units" in stderr


def test_several_workers_without_redis_are_refused_with_the_reason():
    stderr = refusal(["--workers", "2"], {})
    assert "--workers 2 needs BACKPROP_REDIS_URL" in stderr
    assert "would not find their run" in stderr
