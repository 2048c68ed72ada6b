"""Every Paved page, as alice, bob and admin, in the light and the dark theme, in a real browser: each is built on
the one Paved layout with the one stylesheet and navigation bar, logs no console error, has no failed request and
loads nothing from outside the Paved host. Screenshots land in test-artifacts/pages/."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode, urlparse

import pytest
from browser import browser_page, login

pytestmark = pytest.mark.browser

OWN = {"alice": "imbalance-price-forecast", "bob": "leads", "admin": None}
OTHER = {"alice": "leads", "bob": "imbalance-price-forecast"}


def lineage_path(data_dir: Path) -> str:
    """The catalog's Lineage page of the demo's (crawled) imbalance prices dataset, alice's project's."""
    lake = Path(data_dir).resolve() / "lake" / OWN["alice"] / "dev"
    return "/services/catalog/lineage?" + urlencode({"nodeId": f"dataset:file:{lake}/imbalance_prices.parquet"})


def pages_of(user: str, data_dir: Path) -> list[tuple[str, str, int]]:
    """(page name, path, expected status of the page itself) for ``user`` of the hub in ``data_dir``."""
    pages = [
        ("home", "/hub/home", 200),
        ("new-notebook", f"/hub/spawn/{user}/page-tour", 200),
        ("token", "/hub/token", 200),
        ("costs", "/services/costs/", 200),
        ("pipelines", "/services/pipelines/", 200),
        ("requests", "/services/catalog/requests", 200),  # in the navigation bar like the others
        # alice's project's dataset: drawn for her and the admin, a 404 page for bob
        ("lineage", lineage_path(data_dir), 404 if user == "bob" else 200),
        ("lineage-bad-node", "/services/catalog/lineage?nodeId=nonsense", 400),
        ("not-found", "/hub/no-such-page", 404),
        ("costs-bad-month", "/services/costs/?month=2026-13", 400),
    ]
    if OWN[user]:
        pages.append(("costs-project", f"/services/costs/?project={OWN[user]}", 200))
    if user in OTHER:
        pages.append(("costs-not-member", f"/services/costs/?project={OTHER[user]}", 404))
    if user == "admin":
        pages.append(("admin", "/hub/admin", 200))
    return pages


def visit(page, hub, path: str) -> dict:
    """Load ``path``; what the browser saw: main status, console errors, failed and non-local requests."""
    page.wait_for_load_state("networkidle")  # the previous page's requests end before this one is watched
    seen = {"console": [], "failed": [], "foreign": []}
    local = urlparse(hub.url).netloc

    def on_console(msg):
        if msg.type == "error":
            seen["console"].append(msg.text)

    def on_request(req):
        url = urlparse(req.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != local:
            seen["foreign"].append(req.url)

    def on_failed(req):
        seen["failed"].append(f"{req.url} {req.failure}")

    def on_response(resp):
        if resp.status >= 400 and resp.request.resource_type != "document":
            seen["failed"].append(f"{resp.url} {resp.status}")

    page.on("console", on_console)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    try:
        resp = page.goto(hub.url + path)
        page.wait_for_load_state("networkidle")
        seen["status"] = resp.status
    finally:
        for event, fn in (
            ("console", on_console),
            ("request", on_request),
            ("requestfailed", on_failed),
            ("response", on_response),
        ):
            page.remove_listener(event, fn)
    # the page's own error status is expected (404, 403, 400 pages); chromium logs it as a console error
    seen["console"] = [m for m in seen["console"] if not (seen["status"] >= 400 and f"status of {seen['status']}" in m)]
    return seen


# Visible <th> whose text has a WCAG contrast ratio under 3 against the first opaque background behind it.
ILLEGIBLE_HEADERS = """(() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || c[3] > 0.5) return c.slice(0, 3); } return [255, 255, 255]; };
  return [...document.querySelectorAll('th')].filter(th => th.getBoundingClientRect().width > 0 && th.textContent.trim())
    .map(th => { const a = lum(rgb(getComputedStyle(th).color)), b = lum(bgOf(th));
      return [th.textContent.trim(), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; })
    .filter(([, ratio]) => ratio < 3).map(([text, ratio]) => `${text} ${ratio.toFixed(1)}`);
})()"""


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("user", ["alice", "bob", "admin"])
def test_every_page_has_the_one_layout_and_nothing_foreign(paved_hub, artifacts, user, theme):
    shots = artifacts / "pages"
    shots.mkdir(exist_ok=True)
    problems = []
    with browser_page(color_scheme=theme) as page:
        login(page, paved_hub, user)
        for name, path, status in pages_of(user, paved_hub.data_dir):
            seen = visit(page, paved_hub, path)
            page.screenshot(path=str(shots / f"{name}-{user}-{theme}.png"), full_page=True)
            where = f"{name} ({path}) as {user}, {theme}"
            if seen["status"] != status:
                problems.append(f"{where}: status {seen['status']}, expected {status}")
            layout = page.locator('meta[name="paved-layout"]').count()
            sheets = page.eval_on_selector_all('link[rel="stylesheet"]', "ls => ls.map(l => l.href)")
            paved_sheets = [s for s in sheets if "/hub/static/paved/paved.css" in s]
            if layout != 1 or len(paved_sheets) != 1:
                problems.append(f"{where}: not on the Paved layout (layout meta {layout}, stylesheets {sheets})")
            # one look: the page's heading is inset from the window's edge like the navigation bar's content
            # (the first heading shown: hidden ones, e.g. in a closed dialog, have an empty box at 0)
            left = page.evaluate(
                "(() => { const h = [...document.querySelectorAll('h1, h2')]"
                ".find(e => e.getBoundingClientRect().width > 0);"
                " return h ? h.getBoundingClientRect().left : null; })()"
            )
            if left is not None and left < 8:
                problems.append(f"{where}: content flush against the window's edge (heading at {left}px)")
            if page.locator("#paved-nav").count() != 1:
                problems.append(f"{where}: no Paved navigation bar")
            elif user != "admin" and page.locator("#paved-nav-admin").count():
                problems.append(f"{where}: Admin offered to a non-admin")
            # one navigation bar: the current item is marked the same way on every page (the pipelines page's
            # status colours drew it as a filled pill)
            active_bg = page.evaluate(
                "(() => { const a = document.querySelector('#paved-nav .nav-link.active');"
                " return a ? getComputedStyle(a).backgroundColor : null; })()"
            )
            if active_bg not in (None, "rgba(0, 0, 0, 0)"):
                problems.append(f"{where}: the navigation bar's current item has a background ({active_bg})")
            # legible in both themes: table headers' text stands out from their own background (the pipelines
            # tables' light header kept the dark theme's near-white text)
            dim = page.evaluate(ILLEGIBLE_HEADERS)
            if dim:
                problems.append(f"{where}: table headers hard to read (contrast < 3): {dim}")
            if page.evaluate("document.documentElement.getAttribute('data-bs-theme')") != theme:
                problems.append(f"{where}: not in the {theme} theme")
            for kind in ("console", "failed", "foreign"):
                if seen[kind]:
                    problems.append(f"{where}: {kind}: {seen[kind]}")
    assert not problems, "\n".join(problems)


def test_the_one_stylesheet_is_cacheable(paved_hub):
    s = paved_hub.login("alice")
    home = s.get(f"{paved_hub.url}/hub/home").text
    costs = s.get(f"{paved_hub.url}/services/costs/").text
    hrefs = {re.search(r'id="paved-stylesheet" href="([^"]+)"', page).group(1) for page in (home, costs)}
    assert len(hrefs) == 1, hrefs  # the same address from the hub and from a service
    href = hrefs.pop()
    assert "?v=" in href
    r = s.get(paved_hub.url + href)
    assert r.status_code == 200 and "--paved-green" in r.text
    assert "no-cache" not in r.headers.get("Cache-Control", "")
    # Paved's static route serves only Paved's static folder
    assert s.get(f"{paved_hub.url}/hub/static/paved/../../../pyproject.toml").status_code in (403, 404)
