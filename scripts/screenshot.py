"""Take the README's screenshot: serve the app, open it in headless Chromium, save a PNG.

    python3 scripts/screenshot.py            # writes docs/screenshot.png
    python3 scripts/screenshot.py --path /docs --out /tmp/docs.png

Needs the test extras (playwright) and Debian's Chromium at /usr/bin/chromium.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support when run as a plain script

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support import launch_chromium, running_server  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/", help="page to open (default: /)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument(
        "--steps", type=int, default=3, help="SGD steps to take on the main page first (Space)"
    )
    args = parser.parse_args(argv)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with running_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(url + args.path, wait_until="networkidle")
        if args.path == "/":
            # The README shows a step in progress: the numbers on every unit and edge.
            page.wait_for_selector('body[data-ready="true"]')
            for _ in range(args.steps):
                page.keyboard.press("Space")
                page.wait_for_function("() => !window.backpropLab.page.busy")
            page.click("#unit-1-2")  # a hidden unit's formula in the side panel
            page.wait_for_timeout(1500)  # let the update beat and the charts settle
        page.screenshot(path=args.out)
        browser.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
