"""Playwright on Debian's chromium (never a downloaded browser), with the flags this machine needs."""

from contextlib import contextmanager
from typing import Literal

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@contextmanager
def browser_page(viewport=(1280, 900), color_scheme: Literal["light", "dark", "no-preference"] = "light"):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=color_scheme)
            yield page
        finally:
            browser.close()


def attribute(locator, name: str) -> str:
    """The element's attribute ``name``; fails the test when the element has none (playwright answers None)."""
    value = locator.get_attribute(name)
    assert value is not None, f"no {name} attribute"
    return value


def login(page, hub, user):
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home")
