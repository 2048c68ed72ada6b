"""The costs service through a real Paved hub: members see their own project's costs only (page and API,
404 otherwise, as for a project that does not exist), hub admins see all, exports work, and a browser
screenshot of the page with data is kept."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

import pytest

from paved.core import costmodel as model
from paved.core.ledger import Ledger
from paved.core.pricebook import load_pricebook

IPF, LEADS = "imbalance-price-forecast", "leads"


def seed(data_dir) -> dict:
    """A month of usage for both demo projects in the hub's ledger; returns alice's expected month total."""
    ledger = Ledger(f"sqlite:///{data_dir / 'usage.sqlite'}")
    now = datetime.now(timezone.utc)
    m0, _ = model.month_window(model.month_of(now))
    days = max(1, (now - m0).days)
    for d in range(days):
        day = m0 + timedelta(days=d)
        busy = 0.3 if day.weekday() >= 5 else 1 + (d * 7 % 5) / 4  # quiet weekends, busier weeks
        for i, (project, user, kind, itype, lc, hours) in enumerate(
            [
                (IPF, "alice", "notebook", "m5.xlarge", "spot", 6 * busy),
                (IPF, "alice", "notebook", "g4dn.xlarge", "on-demand", 9 * busy),
                (IPF, "dave", "notebook", "r5.2xlarge", "spot", 8 * busy),
                (IPF, "alice", "pipeline", "m5.large", "spot", 1),
                (IPF, "carol", "pipeline", "c5.2xlarge", "on-demand", 2),
                (IPF, "carol", "pipeline", "g5.xlarge", "spot", 3 * busy),
                (LEADS, "bob", "notebook", "t3.large", "spot", 4 * busy),
            ]
        ):
            sid = f"{d}-{i}"
            pipeline = ("ingest-weather", "train-forecast", "publish-forecast")[i % 3]
            server = "gpu" if itype.startswith("g") else "main"
            resource = f"{user}/{server}" if kind == "notebook" else f"{pipeline}/run-{d + 1}"
            ledger.open_span(
                sid,
                project=project,
                environment="dev",
                user=user,
                kind=kind,
                resource_id=resource,
                instance_type=itype,
                lifecycle=lc,
                disk_gb=20 if kind == "notebook" else None,
                start=day + timedelta(hours=8),
            )
            ledger.close_span(sid, "completed" if kind == "pipeline" else "culled", day + timedelta(hours=8 + hours))
    ledger.open_span(
        "open-1",
        project=IPF,
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="spot",
        start=now - timedelta(hours=1),
    )
    total = model.costs(ledger, load_pricebook(), *model.month_window(model.month_of(now)), projects=[IPF], now=now)[0][
        "total"
    ]
    return {"total": total, "month": model.month_of(now)}


@pytest.fixture
def hub(fresh_hub):
    hub = fresh_hub()
    hub.expected = seed(hub.data_dir)
    return hub


def test_members_see_their_project_only_and_admins_see_all(hub):
    url = f"{hub.url}/services/costs"
    alice = hub.api("alice")
    r = alice.get(f"{url}/api/projects/{IPF}")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["project"] == IPF and report["budget"]["monthly"] == 1500
    assert report["totals"]["total"] == pytest.approx(hub.expected["total"], rel=0.01)  # open span grows
    assert report["totals"]["savings"] > 0
    assert {u["user"] for u in report["top_users"]} == {"alice", "carol", "dave"}
    assert report["top_notebooks"][0]["resource_id"] == "alice/gpu"
    # another project and one that does not exist get the same answer (existence is not told)
    r = alice.get(f"{url}/api/projects/{LEADS}")
    missing = alice.get(f"{url}/api/projects/no-such-project")
    assert r.status_code == missing.status_code == 404
    assert r.json()["message"] == "No project 'leads' among your projects"
    assert missing.json()["message"] == "No project 'no-such-project' among your projects"
    assert [p["project"] for p in alice.get(f"{url}/api/summary").json()["projects"]] == [IPF]
    assert hub.api("bob").get(f"{url}/api/projects/{LEADS}").status_code == 200
    assert [p["project"] for p in hub.api("admin").get(f"{url}/api/summary").json()["projects"]] == [IPF, LEADS]
    assert hub.api("admin").get(f"{url}/api/projects/{LEADS}").status_code == 200
    # Bad input: a clear 400.
    r = alice.get(f"{url}/api/projects/{IPF}", params={"month": "last month"})
    assert r.status_code == 400 and "2026-11" in r.json()["message"]
    assert alice.get(f"{url}/api/projects/{IPF}", params={"period": "year"}).status_code == 400

    # CSV export: one row per day of the month so far, the page's table.
    r = alice.get(f"{url}/api/projects/{IPF}", params={"format": "csv", "month": hub.expected["month"]})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["period"].startswith(hub.expected["month"]) and {"total", "savings", "notebook/spot"} <= set(rows[0])
    assert sum(float(x["total"]) for x in rows) == pytest.approx(hub.expected["total"], rel=0.01)

    # The page, through the browser login (OAuth with the hub): own project yes, another project 403.
    page = hub.login("alice")
    r = page.get(f"{url}/")
    assert r.status_code == 200 and "<svg" in r.text and IPF in r.text
    assert f">{LEADS}<" not in r.text
    r = page.get(f"{url}/", params={"project": LEADS})
    missing = page.get(f"{url}/", params={"project": "no-such-project"})
    assert r.status_code == missing.status_code == 404
    assert r.text.replace(LEADS, "<p>") == missing.text.replace("no-such-project", "<p>")
    r = hub.login("admin").get(f"{url}/", params={"project": LEADS})
    assert r.status_code == 200 and f">{LEADS}<" in r.text and ">bob<" in r.text
    # Without a login, the page sends the browser to log in; the API says 403.
    import requests

    assert requests.get(f"{url}/api/summary").status_code == 403
    r = requests.get(f"{url}/", allow_redirects=False)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


@pytest.mark.browser
def test_admin_page_screenshot(hub, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{hub.url}/hub/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", hub.password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/hub/**")
            page.goto(f"{hub.url}/services/costs/?project={IPF}")
            page.wait_for_selector("svg.chart rect")
            assert page.locator("svg.chart").count() == 2
            assert page.locator("h2#project").inner_text().startswith(IPF)
            page.screenshot(path=str(artifacts / "costs-admin-page.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts / "costs-admin-page.png").stat().st_size > 20_000


def wait_until(check, timeout: float) -> bool:
    """Poll ``check`` until it is true (an event happened) or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_service_sends_budget_alerts_once(fresh_hub):
    from test_costs_budget import Receiver

    receiver = Receiver()
    try:
        hub = fresh_hub(env={"PAVED_BUDGET_WEBHOOK_URL": receiver.url, "PAVED_COSTS_ALERT_INTERVAL": "1"})
        seed(hub.data_dir)
        ledger = Ledger(f"sqlite:///{hub.data_dir / 'usage.sqlite'}")
        month = model.month_of(datetime.now(timezone.utc))
        spent = model.costs(ledger, load_pricebook(), *model.month_window(month), projects=[LEADS])[0]["total"]
        # Lower leads' budget so this month's use is 2/3 of it (the hub reloads the projects file on change).
        projects = hub.data_dir / "projects.yaml"
        projects.write_text(projects.read_text().replace("budget_monthly: 300", f"budget_monthly: {spent * 1.5:.4f}"))
        assert wait_until(lambda: receiver.posts, 60), hub.hub_log()[-3000:]
        # three more complete checks after the alert (events, not a guess at time): nothing more may arrive
        checks = hub.hub_log().count("Budget check done")
        assert wait_until(lambda: hub.hub_log().count("Budget check done") >= checks + 3, 60)
        assert [(p["project"], p["threshold_percent"], p["month"]) for p in receiver.posts] == [(LEADS, 50, month)]
        alerts = hub.api("bob").get(f"{hub.url}/services/costs/api/projects/{LEADS}").json()["alerts"]
        assert [(a["threshold"], a["sent_ts"] is not None) for a in alerts] == [(50, True)]
        assert receiver.url not in hub.hub_log()
    finally:
        receiver.close()
