"""Open a report page in headless Chromium, as a person would, and say what is wrong with it.

Usage: ``python .ci/browser_check.py PAGE.html [PAGE.html ...] [--screenshots DIR]``

For each page, at a desktop width (1280 px) and a phone width (390 px):

- every image has loaded (``naturalWidth > 0``) and fits in the window;
- nothing was logged to the console: no error or warning from the page's
  scripts, no failed resource, no uncaught exception;
- the page does not scroll sideways (``scrollWidth <= innerWidth``);
- the page declares a language (``<html lang=...>``), and a phone shows it at
  the phone's own width (``<meta name="viewport">``), not zoomed out.

A screenshot of the whole page at each width is saved (``--screenshots``,
default ``.ci/artifacts``) for a person to look at. Exit status: 0 when every
page passes, 1 when one fails (each problem on its own line), 3 when no
Chromium is installed.

Chromium is driven through its DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages on file descriptors 3 and 4), so
nothing but Chromium itself is needed: no driver, no Python package, no port.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# The flags that work in a container: no sandbox (root), no GPU, nothing from the network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio")
VIEWPORTS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}  # width, height, mobile
TIMEOUT_S = 60.0

PAGE_FACTS = """(() => ({
  lang: document.documentElement.lang,
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  images: Array.from(document.images).map(img => ({
    src: img.getAttribute("src"), alt: img.getAttribute("alt"), complete: img.complete,
    naturalWidth: img.naturalWidth, shownWidth: img.getBoundingClientRect().width})),
}))()"""


def find_browser() -> str | None:
    """The path of an installed Chromium (or Chrome), or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


class Chromium:
    """A headless Chromium and one tab, spoken to over the DevTools pipe."""

    def __init__(self, binary: str | None = None):
        binary = binary or find_browser()
        if binary is None:
            raise BrowserError("no Chromium found (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="gradlab-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # --remote-debugging-pipe reads fd 3 and writes fd 4. The pipes go in as stdin and
        # stdout and a shell moves them there: a preexec_fn would fork a process that has
        # JAX's threads (the tests run in one), which JAX warns is unsafe.
        self._process = subprocess.Popen(
            ["/bin/sh", "-c", 'exec 3<&0 4>&1 </dev/null >/dev/null; exec "$0" "$@"', binary,
             *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe",
             "about:blank"],
            stdin=to_browser_r, stdout=from_browser_w, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer, self._next_id, self.events = b"", 0, []
        try:
            pages = [t for t in self.call("Target.getTargets")["targetInfos"]
                     if t["type"] == "page"]
            target = pages[0]["targetId"] if pages else self.call(
                "Target.createTarget", url="about:blank")["targetId"]
            self._session = self.call("Target.attachToTarget", targetId=target,
                                      flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    # -- the protocol --------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (it crashed or quit)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, *, session: bool = False, **params) -> dict:
        """Send one command and wait for its answer; events meanwhile go to `events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str) -> dict:
        """The next event called ``method`` (one already received counts)."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"the page's script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._to_browser)  # Chromium quits when its pipe closes
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        with contextlib.suppress(OSError):
            os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the checks ----------------------------------------------------------------------------
@dataclass
class Visit:
    """What one page showed at one width: its facts, what the console said, the problems."""

    page: Path
    viewport: str
    facts: dict
    console: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def _console_lines(events: list[dict]) -> list[str]:
    """Errors and warnings from the page: console calls, failed loads, uncaught exceptions."""
    lines = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error", "warning", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in
                            params.get("args", []))
            lines.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            what = details.get("exception", {}).get("description") or details.get("text")
            lines.append(f"uncaught exception: {what}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                "error", "warning"):
            entry = params["entry"]
            lines.append(f"{entry['level']} ({entry.get('source')}): {entry.get('text')} "
                         f"{entry.get('url', '')}".strip())
    return lines


def visit(browser: Chromium, page: Path, viewport: str, screenshot: Path | None = None) -> Visit:
    """Load ``page`` at ``viewport``'s size and check it; save a full-page screenshot."""
    width, height, mobile = VIEWPORTS[viewport]
    browser.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                 deviceScaleFactor=1, mobile=mobile)
    browser.events.clear()
    browser.call("Page.navigate", session=True, url=Path(page).resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    facts = browser.evaluate(PAGE_FACTS)
    browser.call("Runtime.evaluate", session=True, expression="0")  # flush late console events
    result = Visit(Path(page), viewport, facts, console=_console_lines(browser.events))
    problems = result.problems
    problems += result.console
    if mobile and facts["innerWidth"] > width:
        problems.append(f"a phone shows the page zoomed out, {facts['innerWidth']} px wide in "
                        f"a {width} px screen (no <meta name=viewport>)")
    if not facts["lang"]:
        problems.append("the page declares no language (<html lang=...>)")
    if facts["scrollWidth"] > facts["innerWidth"]:
        problems.append(f"the page scrolls sideways: {facts['scrollWidth']} px of content in a "
                        f"{facts['innerWidth']} px window")
    if not facts["images"]:
        problems.append("no image on the page")
    for image in facts["images"]:
        if not image["complete"] or image["naturalWidth"] == 0:
            problems.append(f"image {image['src']} did not load")
        elif image["shownWidth"] > facts["innerWidth"]:
            problems.append(f"image {image['src']} is wider than the window "
                            f"({image['shownWidth']:.0f} > {facts['innerWidth']} px)")
        if not image["alt"]:
            problems.append(f"image {image['src']} has no alt text")
    if screenshot is not None:
        size = browser.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        shot = browser.call("Page.captureScreenshot", session=True, format="png",
                            captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": width,
                                  "height": min(size["height"], 16000), "scale": 1})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        result.screenshot = screenshot
    return result


def check_pages(pages, screenshots: Path | None = None, *, binary: str | None = None):
    """Every page at every width; returns the `Visit` records."""
    visits = []
    with Chromium(binary) as browser:
        for page in pages:
            for viewport in VIEWPORTS:
                shot = None
                if screenshots is not None:
                    stem = f"{Path(page).parent.name}-{Path(page).stem}-{viewport}.png"
                    shot = Path(screenshots) / stem
                visits.append(visit(browser, Path(page), viewport, shot))
    return visits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--screenshots", type=Path, default=Path(".ci/artifacts"))
    args = parser.parse_args(argv)
    if find_browser() is None:
        print("browser check: no Chromium installed (apt-get install chromium)", file=sys.stderr)
        return 3
    missing = [p for p in args.pages if not p.is_file()]
    if missing:
        print(f"browser check: no such page: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    failed = False
    for v in check_pages(args.pages, args.screenshots):
        verdict = "FAILED" if v.problems else "ok"
        print(f"{verdict}: {v.page} at {v.viewport} width ({v.facts['innerWidth']} px): "
              f"{len(v.facts['images'])} images, lang={v.facts['lang']!r}"
              + (f", screenshot {v.screenshot}" if v.screenshot else ""))
        for problem in v.problems:
            print(f"    {problem}")
        failed |= bool(v.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
