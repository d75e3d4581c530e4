"""The HTTP half of scripts/container_check.sh: ask a running container what a browser would.

    python3 scripts/container_probe.py --url http://127.0.0.1:8000 \
        --max-units 4 --max-hidden-layers 1

Standard library only, so that it runs on the host without the app installed. The
container must have been started with BACKPROP_MAX_UNITS and BACKPROP_MAX_HIDDEN_LAYERS
set to the values given here: the probe checks that those settings took effect.
Prints one line per check and exits non-zero at the first that fails.
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,}$")


def request(url: str, body: object = None, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, or of a JSON POST when ``body`` is given."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def ok(what: str) -> None:
    print(f"ok: {what}", flush=True)


def fail(what: str) -> None:
    print(f"FAILED: {what}", flush=True)
    sys.exit(1)


def expect(cond: bool, what: str, detail: object = "") -> None:
    if not cond:
        fail(f"{what} {detail}".rstrip())


def wait_for_healthz(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, ctype, body = request(base + "/healthz", timeout=2)
        except OSError as e:  # not listening yet
            last = e
            time.sleep(0.25)
            continue
        expect(status == 200, "GET /healthz answers 200:", status)
        expect(json.loads(body) == {"status": "ok"}, "GET /healthz says ok:", body[:200])
        ok(f"GET /healthz -> 200 {body.decode()}")
        return
    fail(f"GET /healthz: no answer within {timeout:.0f} s ({last})")


def check_page(base: str) -> None:
    status, ctype, body = request(base + "/")
    expect(status == 200 and ctype.startswith("text/html"), "GET / is an HTML page:", status)
    html = body.decode()
    expect("<title>Backprop Lab</title>" in html, "GET / has the app's title")
    # The page's own scripts and styles come from the installed package (static/ and
    # plotly's bundle next to site-packages): a packaging slip shows here as a 404.
    assets = sorted(set(re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html)))
    expect(any(a.startswith("/vendor/plotly-") for a in assets), "GET / links plotly.js", assets)
    for asset in assets:
        status, _, data = request(base + asset)
        expect(status == 200 and data, f"GET {asset} answers 200 with a body:", status)
    ok(f"GET / -> 200, the page and its {len(assets)} assets ({', '.join(assets)})")


def check_step(base: str) -> None:
    status, _, body = request(base + "/api/sessions", {})
    expect(status == 201, "POST /api/sessions {} -> 201:", f"{status} {body[:300]!r}")
    session = json.loads(body)
    sid = session.get("id", "")
    expect(bool(SESSION_ID.match(sid)), "the new session has an id:", sid)
    layers = session["config"]["layers"]
    status, _, body = request(f"{base}/api/sessions/{sid}/step", {})
    expect(status == 200, "POST /api/sessions/ID/step -> 200:", f"{status} {body[:300]!r}")
    step = json.loads(body)
    expect(step["step"] == 1, "the first step is step 1:", step["step"])
    expect(step["diverged"] is False, "the step did not diverge:", step.get("message"))
    expect(len(step["layers"]) == len(layers) - 1, "the step reports every layer:", layers)
    expect(isinstance(step["error"], float), "the step has a numeric error:", step["error"])
    ok(
        f"POST /api/sessions {{}} -> 201 (layers {layers}); "
        f"POST /api/sessions/ID/step -> 200, step 1, error {step['error']:.4f}"
    )


def check_limit(base: str, config: dict, setting: str, phrase: str) -> None:
    status, _, body = request(base + "/api/sessions", config)
    detail = json.loads(body).get("detail", "") if body else ""
    expect(
        status == 422 and phrase in detail,
        f"{setting} from -e takes effect: {config} -> 422 with {phrase!r}; got",
        f"{status} {detail!r}",
    )
    ok(f"-e {setting}: POST /api/sessions {json.dumps(config)} -> 422 {detail!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--max-units", type=int, required=True)
    parser.add_argument("--max-hidden-layers", type=int, required=True)
    parser.add_argument("--start-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")

    wait_for_healthz(base, args.start_timeout)
    check_page(base)
    check_step(base)
    units = args.max_units
    check_limit(
        base,
        {"layers": [2, units + 1, 1]},
        f"BACKPROP_MAX_UNITS={units}",
        f"the limit is {units} per layer (BACKPROP_MAX_UNITS)",
    )
    hidden = args.max_hidden_layers
    check_limit(
        base,
        {"layers": [2] + [2] * (hidden + 1) + [1]},
        f"BACKPROP_MAX_HIDDEN_LAYERS={hidden}",
        f"the limit is {hidden} (BACKPROP_MAX_HIDDEN_LAYERS)",
    )


if __name__ == "__main__":
    main()
