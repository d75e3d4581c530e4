"""Screenshots of the lab page for review: each beat of a step, projector mode, big
networks, huge numbers, /follow and /compare, at 800 × 1000 (a narrow window),
1024 × 768 (a projector), 1280 × 720 and 1920 × 1080.

    python3 scripts/page_shots.py                      # serves this checkout itself
    python3 scripts/page_shots.py --base http://127.0.0.1:8000 --out /tmp/shots

Writes PNGs (default: tests/artifacts/shots/, which git ignores) and prints any console
error, page error or horizontal scrolling it sees. Needs Playwright and Debian's
Chromium at /usr/bin/chromium.
"""

import argparse
import contextlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support import launch_chromium, running_server  # noqa: E402

SIZES = [(800, 1000), (1024, 768), (1280, 720), (1920, 1080)]
DEEP = "-".join(["2"] + ["10"] * 16 + ["1"])
WIDEST = "-".join(["2"] + ["64"] * 16 + ["1"])

# name → (query, what to do: "beats" = Forward, Backward, Update one by one; n = n steps)
SCENES = {
    "lecture": ("?speed=0", "beats"),
    "lecture-projector": ("?speed=0&present=1", "beats"),
    "softmax": ("?speed=0&layers=2-6-3&out=softmax&loss=cross_entropy&data=spiral&classes=3", 2),
    "vanishing": ("?speed=0&layers=2-8-8-8-8-8-8-1&act=sigmoid&out=sigmoid&init=normal", 3),
    # issue #16: features, a penalty, the view's toggles, what the output layer sees
    "teaching": (
        "?speed=0&layers=3-2-1&features=x1,x2,x1·x2&regularization.kind=l2"
        "&regularization.strength=0.01&testpts=1&discrete=1&maps=1",
        3,
    ),
    "deep-16x10": (f"?speed=0&layers={DEEP}", 1),
    "widest-16x64": (f"?speed=0&layers={WIDEST}", 1),
    # weights that explode: numbers like 1.6×10⁶⁵ on the drawing, in the formulas
    "huge": ("?speed=0&layers=2-4-1&act=identity&out=identity&eta=1000000&data=gaussians", 3),
    "follow": ("?speed=0", "follow"),
    "compare": ("/compare", "compare"),
}


def wait_idle(page) -> None:
    page.wait_for_function(
        "() => document.body.dataset.animating === 'false' && !backpropLab.page.busy",
        timeout=120_000,
    )
    page.wait_for_timeout(700)  # the chart redraws a little after a step (throttled)


def shoot(browser, base: str, out: Path, name: str, query: str, action, size) -> None:
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("console", lambda m: m.type == "error" and print(f"  {name}: console: {m.text}"))
    page.on("pageerror", lambda e: print(f"  {name}: page error: {e}"))
    page.goto(base + ("" if query.startswith("/") else "/") + query)
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)
    tag = f"{name}-{width}"
    if action == "follow":  # a student joining after the teacher's second step
        for _ in range(2):
            page.click("#btn-step")
            wait_idle(page)
        session_id = page.evaluate("backpropLab.page.session.id")
        url = page.request.post(f"{base}/api/sessions/{session_id}/share").json()["url"]
        page.goto(base + url)
        page.wait_for_selector('body[data-beat="update"]', timeout=120_000)
        page.wait_for_timeout(700)
        page.screenshot(path=out / f"{tag}.png")
    elif action == "compare":
        page.keyboard.press("Space")
        page.wait_for_function("() => backpropCompare.runs.every((r) => r.step === 1)")
        page.wait_for_timeout(700)
        page.screenshot(path=out / f"{tag}.png")
    elif action == "beats":
        for beat in ("forward", "backward", "update"):
            page.click(f"#btn-{beat}")
            page.wait_for_selector(f"body[data-beat={beat}]")
            wait_idle(page)
            page.screenshot(path=out / f"{tag}-{beat}.png")
        page.click("#unit-1-2")  # the formula panel for a hidden unit
        page.screenshot(path=out / f"{tag}-hidden-unit.png")
    else:
        for _ in range(action):
            page.click("#btn-step")
            wait_idle(page)
        page.screenshot(path=out / f"{tag}.png")
    page.screenshot(path=out / f"{tag}-full.png", full_page=True)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        print(f"  {name}: horizontal scrolling ({scroll} px wide at {width})")
    page.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="URL of a running Backprop Lab (default: serve one)")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "artifacts" / "shots")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENES), help="some scenes only")
    parser.add_argument("--widths", nargs="*", type=int, help="some window widths only")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    server = contextlib.nullcontext(args.base) if args.base else running_server()
    with server as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for name, (query, action) in SCENES.items():
            if args.only and name not in args.only:
                continue
            for size in SIZES:
                if args.widths and size[0] not in args.widths:
                    continue
                print(f"{name} at {size[0]}×{size[1]}")
                shoot(browser, base, args.out, name, query, action, size)
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
