"""Pipeline alerts people read: a run failed, a pipeline recovered, a run is taking longer than usual, a run was
skipped over budget. Each goes to the spec's ``notify.webhook`` (JSON) and, where ``notify.email`` is set and an
SMTP server is configured (``c.Pipelines.smtp_url``), by email.

Payload (webhook JSON; the email's subject is ``text`` and its body the fields, one per line)::

    {"event": "pipeline_run_failed" | "pipeline_recovered" | "pipeline_run_slow" | "pipeline_run_skipped",
     "text": "a sentence", "project", "pipeline", "environment", "run_id", "nominal_time", "url", ...}

A failure also carries ``failing_cell`` (0-based index), ``failing_cell_number`` (counted from 1, as JupyterLab
counts cells) and ``cell`` (``"cell 3 (In [4])"``: that number and the ``In [n]`` of the output notebook), which
the sentence ends with.

"Longer than usual" is over :data:`SLOW_FACTOR` times the median duration of the last :data:`SLOW_WINDOW`
successful runs (at least :data:`SLOW_MIN_RUNS` of them), the rule the issue tracker's DataOps practice asks for.
Sending happens on a background thread and never fails a run.
"""

from __future__ import annotations

import json
import logging
import smtplib
import statistics
import threading
import time
import urllib.request
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

log = logging.getLogger("paved.pipelines.alerts")
SLOW_FACTOR = 2.0
SLOW_WINDOW = 10
SLOW_MIN_RUNS = 3

TEXTS = {
    "pipeline_run_failed": "Pipeline {project}/{pipeline} failed ({category}) for {nominal_time}{in_cell}",
    "pipeline_recovered": "Pipeline {project}/{pipeline} succeeded again for {nominal_time} after failed runs",
    "pipeline_run_slow": "Pipeline {project}/{pipeline} has been running {running_s:.0f}s for {nominal_time}, "
    "over {factor:g}x its usual {median_s:.0f}s",
    "pipeline_run_skipped": "Pipeline {project}/{pipeline} was skipped for {nominal_time}: {error}",
}


def slow_threshold(durations: list[float]) -> float | None:
    """Seconds after which a run counts as slow, from recent successful durations; None without enough history."""
    recent = durations[:SLOW_WINDOW]
    if len(recent) < SLOW_MIN_RUNS:
        return None
    return SLOW_FACTOR * statistics.median(recent)


def payload(event: str, **fields) -> dict:
    fields.setdefault("factor", SLOW_FACTOR)
    # the failing cell as people see it (``cell`` is views.cell_words: "cell 3 (In [4])"), in the sentence only
    in_cell = f" in {fields['cell']}" if fields.get("cell") else ""
    try:
        text = TEXTS[event].format(**fields, in_cell=in_cell)
    except (KeyError, ValueError):
        text = f"Pipeline {fields.get('project')}/{fields.get('pipeline')}: {event}"
    return {"event": event, "text": text, **{k: v for k, v in fields.items() if k != "factor"}}


def send_webhook(url: str, body: dict, attempts: int = 3) -> bool:
    data = json.dumps(body).encode()
    for i in range(attempts):
        try:
            req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status < 300:
                    return True
        except OSError as e:
            log.warning("Webhook %s failed (%s/%s): %s", urlsplit(url).netloc, i + 1, attempts, e)
        time.sleep(2**i)
    return False


def send_email(smtp_url: str, to: list[str], body: dict, sender: str = "paved@localhost") -> bool:
    """Send ``body`` as a plain-text email through ``smtp_url`` (``smtp://[user:pass@]host:port``; ``smtps://``
    for TLS from the start; ``?starttls=1`` to upgrade). Returns whether the server accepted it."""
    url = urlsplit(smtp_url)
    msg = EmailMessage()
    msg["Subject"] = body.get("text", body.get("event", "Paved pipeline alert"))
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content("\n".join(f"{k}: {v}" for k, v in body.items() if v is not None) + "\n")
    try:
        cls = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with cls(url.hostname or "localhost", url.port or (465 if url.scheme == "smtps" else 25), timeout=15) as s:
            if "starttls=1" in (url.query or ""):
                s.starttls()
            if url.username:
                s.login(unquote(url.username), unquote(url.password or ""))
            s.send_message(msg)
        return True
    except (OSError, smtplib.SMTPException) as e:
        log.warning("Email alert to %s failed: %s", len(to), e)
        return False


def dispatch(notify, body: dict, smtp_url: str = "") -> threading.Thread | None:
    """Send ``body`` to ``notify``'s webhook and email addresses in the background (the started thread)."""
    if not notify.webhook and not (notify.email and smtp_url):
        return None

    def send():
        if notify.webhook:
            send_webhook(notify.webhook, body)
        if notify.email and smtp_url:
            send_email(smtp_url, notify.email, body)

    thread = threading.Thread(target=send, daemon=True, name="pipeline-alert")
    thread.start()
    return thread
