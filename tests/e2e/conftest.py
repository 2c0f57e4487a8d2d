"""Browser fixtures for the end-to-end journeys: Debian's Chromium driven by Playwright.

One browser per e2e run (package scope), one fresh context per test. Every page a test
lands on is checked with axe-core (WCAG 2.0/2.1 A and AA): `Tab` counts the navigations of
its page and refuses to go on if one was not audited, so no page escapes the check.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(axe_playwright_python.__file__).parent / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The pages forbid inline scripts (Content-Security-Policy "script-src 'self'"): axe-core is
# served by the browser context itself at this same-origin address (no .js suffix: the no-JS
# auditor aborts scripts by that suffix), so the pages are audited under their real policy.
AXE_PATH = "/__e2e__/axe-core"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=fr-FR",  # the browser's own words (file button, date fields) in French
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000

AXE_RUN = """(tags) => axe.run(document, {
  runOnly: {type: "tag", values: tags},
  resultTypes: ["violations"],
}).then((result) => result.violations.map((v) => ({
  id: v.id,
  impact: v.impact,
  help: v.help,
  nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
})))"""


# In-page links (error summaries, skip link) must lead somewhere.
BROKEN_ANCHORS = """() => [...document.querySelectorAll('a[href^="#"]')]
  .map((a) => a.getAttribute("href").slice(1))
  .filter((id) => id && !document.getElementById(decodeURIComponent(id)))"""


def format_violations(url: str, violations: list[dict]) -> str:
    lines = [f"axe-core: {len(violations)} violation(s) on {url}"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['summary']}")
    return "\n".join(lines)


class Tab:
    """One browser tab; every navigation must be followed by `audit()` (the helpers do it)."""

    def __init__(self, page: Page, base_url: str, name: str, auditor=None):
        self.page = page
        self.base_url = base_url
        self.name = name
        self.auditor = auditor  # a JS-enabled page, when this one runs without JavaScript
        self.unaudited: list[str] = []
        self.audits = 0
        self.shots = 0
        page.set_default_timeout(TIMEOUT_MS)
        page.on("framenavigated", self._navigated)

    def _navigated(self, frame) -> None:
        if frame.parent_frame is None:
            self.unaudited.append(frame.url)

    # --- accessibility -------------------------------------------------------------------

    def audit(self) -> None:
        """Run axe-core on the current page and fail on any WCAG A/AA violation."""
        page = self.page
        page.wait_for_load_state("load")
        assert len(self.unaudited) <= 1, f"pages left without an axe check: {self.unaudited[:-1]}"
        if self.auditor is None:
            page.add_script_tag(url=AXE_PATH)
            violations = page.evaluate(AXE_RUN, AXE_TAGS)
        else:
            violations = self._audit_elsewhere()
        self.unaudited.clear()
        self.audits += 1
        if violations:
            report = format_violations(page.url, violations)
            print(report)
            pytest.fail(report, pytrace=False)
        broken = page.evaluate(BROKEN_ANCHORS)
        assert not broken, f"links to nothing on {page.url}: {broken}"

    def _audit_elsewhere(self) -> list[dict]:
        """Without JavaScript axe cannot run in the page itself: serve the very DOM it shows,
        at the same address (so the same stylesheet applies), in a JS-enabled page."""
        html, url, auditor = self.page.content(), self.page.url, self.auditor

        def serve(route):
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

        auditor.route(url, serve)
        try:
            auditor.goto(url)
        finally:
            auditor.unroute(url, serve)
        auditor.add_script_tag(url=AXE_PATH)
        return auditor.evaluate(AXE_RUN, AXE_TAGS)

    # --- navigation ----------------------------------------------------------------------

    def visit(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        self.audit()
        return self.page

    def _navigate_by(self, locator) -> Page:
        with self.page.expect_navigation():
            locator.click()
        self.audit()
        return self.page

    def submit(self, name: str) -> Page:
        """Click the button with this visible name and check the page that comes back."""
        return self._navigate_by(self.page.get_by_role("button", name=name, exact=True))

    def follow(self, name: str, *, within: str | None = None) -> Page:
        """Follow the link with this visible name (inside the landmark `within`, e.g. "main",
        when the page has several) and check the page it leads to."""
        scope = self.page if within is None else self.page.get_by_role(within)
        return self._navigate_by(scope.get_by_role("link", name=name, exact=True))

    def expect_heading(self, text: str) -> None:
        expect(self.page.get_by_role("heading", level=1)).to_have_text(text)

    # --- screenshots ---------------------------------------------------------------------

    def snap(self, label: str) -> None:
        """Save the page at phone and desktop sizes under artifacts/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        current = self.page.viewport_size
        for size in (PHONE, DESKTOP):
            self.page.set_viewport_size(size)
            path = (
                SCREENSHOTS
                / f"{self.name}-{self.shots:02d}-{slug}-{size['width']}x{size['height']}.png"
            )
            self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(current)


def _serve_axe(route) -> None:
    route.fulfill(status=200, content_type="text/javascript; charset=utf-8", path=AXE_JS)


class UI:
    """The browser as one person uses it: a context with a main tab, and more tabs on demand."""

    def __init__(self, browser: Browser, base_url: str, name: str, javascript: bool = True):
        self.base_url, self.name = base_url, name
        self.context = browser.new_context(
            viewport=PHONE,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            accept_downloads=True,
            java_script_enabled=javascript,
        )
        self.context.route(base_url + AXE_PATH, _serve_axe)
        self._auditor_context = None
        auditor = None
        if not javascript:
            self._auditor_context = browser.new_context(viewport=PHONE, locale="fr-FR")
            self._auditor_context.route(base_url + AXE_PATH, _serve_axe)
            auditor = self._auditor_context.new_page()
            auditor.set_default_timeout(TIMEOUT_MS)
            # the audited DOM is the no-JS one: do not let page scripts change it
            auditor.route(re.compile(r".*\.js(\?.*)?$"), lambda route: route.abort())
        self._auditor = auditor
        self.tabs: list[Tab] = []
        self.tab = self.new_tab()

    def new_tab(self) -> Tab:
        suffix = f"-tab{len(self.tabs) + 1}" if self.tabs else ""
        tab = Tab(self.context.new_page(), self.base_url, self.name + suffix, self._auditor)
        self.tabs.append(tab)
        return tab

    @property
    def page(self) -> Page:
        return self.tab.page

    def read_outbox(self, *, to: str, subject: str | None, pattern: str) -> str:
        """Open the demo outbox in another tab, as one opens one's mailbox, and read the newest
        message to `to` whose subject contains `subject` (None: an SMS, which has none);
        returns the first group of `pattern` found in its body."""
        mailbox = self.new_tab()
        try:
            mailbox.visit("/outbox/")
            heading = mailbox.page.get_by_role("heading", level=2)
            if subject is None:
                heading = heading.filter(has_text=re.compile(rf"^\s*SMS à {re.escape(to)}\s*$"))
            else:
                heading = heading.filter(has_text=f"à {to} — ").filter(has_text=subject)
            newest = mailbox.page.get_by_role("article").filter(has=heading).first
            expect(newest).to_be_visible()
            text = newest.locator("pre").inner_text()
            found = re.search(pattern, text)
            assert found, f"{pattern!r} not found in the message to {to}:\n{text}"
            return found.group(1)
        finally:
            mailbox.page.close()

    def close(self) -> None:
        self.context.close()
        if self._auditor_context is not None:
            self._auditor_context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_call_failed = report.failed
    return report


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium package is needed: apt-get install chromium")
    # Playwright's sync API keeps an asyncio loop in this thread; Django would otherwise
    # refuse the ORM calls of the tests (the server itself runs in its own thread).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _ui(browser, live_server, request, javascript: bool, suffix: str = "") -> Iterator[UI]:
    name = re.sub(r"[^\w-]+", "-", re.sub(r"^test_", "", request.node.name)).strip("-")
    ui = UI(browser, live_server.url, name + suffix, javascript=javascript)
    yield ui
    try:
        if not getattr(request.node, "e2e_call_failed", True):
            for tab in ui.tabs:
                if not tab.page.is_closed():
                    assert not tab.unaudited, f"pages left without an axe check: {tab.unaudited}"
    finally:
        ui.close()


@pytest.fixture
def ui(browser, live_server, transactional_db, request) -> Iterator[UI]:
    """A fresh browser context (phone-sized) on the live server, JavaScript on."""
    yield from _ui(browser, live_server, request, javascript=True)


@pytest.fixture
def ui_without_js(browser, live_server, transactional_db, request) -> Iterator[UI]:
    """A fresh browser context with JavaScript disabled."""
    yield from _ui(browser, live_server, request, javascript=False)


@pytest.fixture
def other_ui(browser, live_server, transactional_db, request) -> Iterator[UI]:
    """A second browser (another person, or the same person on another device): its own
    context and cookies, checked like `ui`."""
    yield from _ui(browser, live_server, request, javascript=True, suffix="-autre")
