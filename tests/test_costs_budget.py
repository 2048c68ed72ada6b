"""Budgets: enforcement messages, and alerts at 50/80/100 % posted once per threshold per month to a real
local webhook receiver (a threaded HTTP server on a free loopback port)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paved.core.budget import check_alerts, check_budget
from paved.core.ledger import Ledger
from paved.core.pricebook import load_pricebook
from paved.core.projects import parse_projects

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
BOOK = load_pricebook()
OD = BOOK.hourly("m5.large", "on-demand")


def projects(budget_enforced=True):
    env = {"dev": {"lake": "lake"}}
    return parse_projects(
        {
            "projects": {
                "spendy": {
                    "environments": env,
                    "instance_types": ["m5.large"],
                    "budget_monthly": 10 * OD,
                    "budget_enforced": budget_enforced,
                },
                "thrifty": {
                    "environments": env,
                    "instance_types": ["m5.large"],
                    "budget_monthly": 1000,
                    "budget_enforced": True,
                },
                "unbudgeted": {"environments": env, "instance_types": ["m5.large"]},
            }
        }
    )


@pytest.fixture
def ledger(tmp_path):
    return Ledger(f"sqlite:///{tmp_path / 'usage.sqlite'}")


def use(ledger, span_id, project, hours, day=2):
    """An on-demand m5.large span of ``hours`` on November ``day`` (costs hours x OD)."""
    start = datetime(2026, 11, day, tzinfo=timezone.utc).timestamp()
    ledger.open_span(
        span_id,
        project=project,
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id=f"alice/{span_id}",
        instance_type="m5.large",
        lifecycle="on-demand",
        start=start,
    )
    ledger.close_span(span_id, "user", start + hours * 3600)


def test_over_enforced_budget_is_refused_with_a_message_naming_the_budget(ledger):
    ps = projects()
    use(ledger, "a", "spendy", 10)  # exactly the budget
    use(ledger, "b", "thrifty", 10)
    message = check_budget(ps["spendy"], ledger, BOOK, now=NOW)
    assert message is not None
    assert "'spendy'" in message and f"monthly budget of {10 * OD:,.2f} USD" in message
    assert "2026-11" in message and "running ones keep running" in message
    assert check_budget(ps["thrifty"], ledger, BOOK, now=NOW) is None  # another project still starts
    assert check_budget(ps["unbudgeted"], ledger, BOOK, now=NOW) is None
    assert check_budget(projects(budget_enforced=False)["spendy"], ledger, BOOK, now=NOW) is None
    # Next month the budget is fresh again.
    assert check_budget(ps["spendy"], ledger, BOOK, now=datetime(2026, 12, 1, 1, tzinfo=timezone.utc)) is None


def test_open_span_counts_towards_the_budget(ledger):
    ps = projects()
    ledger.open_span(
        "open",
        project="spendy",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="on-demand",
        start=datetime(2026, 11, 20, tzinfo=timezone.utc),
    )
    assert check_budget(ps["spendy"], ledger, BOOK, now=datetime(2026, 11, 20, 9, tzinfo=timezone.utc)) is None
    assert check_budget(ps["spendy"], ledger, BOOK, now=datetime(2026, 11, 20, 10, 1, tzinfo=timezone.utc))


class Receiver:
    """A local webhook: records JSON posts; answers ``fail`` times with 500 before accepting."""

    def __init__(self):
        self.posts, self.fail = [], 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.fail:
                    receiver.fail -= 1
                    self.send_response(500)
                else:
                    receiver.posts.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_alerts_fire_once_per_threshold_per_month(ledger, receiver, caplog):
    ps = list(projects().values())

    def check(now=NOW):
        return [(a["project"], a["threshold"]) for a in check_alerts(ps, ledger, BOOK, receiver.url, now=now)]

    assert check() == []
    use(ledger, "a", "spendy", 5)  # 50 %
    assert check() == [("spendy", 50)]
    assert check() == []  # not again
    use(ledger, "b", "spendy", 4, day=3)  # 90 %: 80 % crossed
    assert check() == [("spendy", 80)]
    use(ledger, "c", "spendy", 20, day=4)  # 290 %: 100 % crossed, once
    assert check() == [("spendy", 100)]
    assert check() == []
    assert [(p["project"], p["threshold_percent"], p["month"]) for p in receiver.posts] == [
        ("spendy", 50, "2026-11"),
        ("spendy", 80, "2026-11"),
        ("spendy", 100, "2026-11"),
    ]
    assert "reached 100% of its monthly budget in 2026-11" in receiver.posts[-1]["text"]
    assert {(a["threshold"], a["sent_ts"] is not None) for a in ledger.alerts("spendy", "2026-11")} == {
        (50, True),
        (80, True),
        (100, True),
    }
    # December starts from zero: a December span crossing 50 % alerts again, for December.
    start = datetime(2026, 12, 2, tzinfo=timezone.utc)
    ledger.open_span(
        "dec",
        project="spendy",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="x",
        instance_type="m5.large",
        lifecycle="on-demand",
        start=start,
    )
    ledger.close_span("dec", "user", datetime(2026, 12, 2, 6, tzinfo=timezone.utc))
    assert check(datetime(2026, 12, 3, tzinfo=timezone.utc)) == [("spendy", 50)]
    assert "secret-token" not in caplog.text


def test_a_failed_delivery_is_retried_not_duplicated(ledger, receiver, caplog):
    ps = list(projects().values())
    use(ledger, "a", "spendy", 6)
    receiver.fail = 1
    assert check_alerts(ps, ledger, BOOK, receiver.url, now=NOW) == []
    assert receiver.posts == [] and ledger.unsent_alerts()[0]["threshold"] == 50
    assert [a["threshold"] for a in check_alerts(ps, ledger, BOOK, receiver.url, now=NOW)] == [50]
    assert check_alerts(ps, ledger, BOOK, receiver.url, now=NOW) == []
    assert len(receiver.posts) == 1
    assert "secret-token" not in caplog.text  # the webhook URL (a secret) is never logged


def test_without_a_webhook_alerts_are_recorded_only(ledger):
    use(ledger, "a", "spendy", 9)
    assert check_alerts(list(projects().values()), ledger, BOOK, None, now=NOW) == []
    assert sorted(a["threshold"] for a in ledger.alerts("spendy")) == [50, 80]
