"""The run output page typesets a notebook's math (issue 16, items 1 and 7): MathJax comes from the Paved host,
the page's Content-Security-Policy lets scripts come from Paved's MathJax addresses only, and no request leaves
the host. Before, the page dropped MathJax (it came from a CDN) and showed ``$...$`` as typed."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import nbformat
import pytest
from browser import browser_page, login

PROJECT = "imbalance-price-forecast"
INLINE = r"$\alpha^2 + \beta_1$"
DISPLAY = r"$$\sum_{i=1}^{n} x_i = \frac{a}{b}$$"


def math_notebook() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("n = 2")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_markdown_cell(f"Inline {INLINE} and display:\n\n{DISPLAY}"),
        # an output holding math (a text/latex display), and an output's HTML that tries to run a script
        nbformat.v4.new_code_cell(
            "from IPython.display import Latex, HTML, display\n"
            r"display(Latex(r'$\sqrt{n} = \gamma$'))" + "\n"
            "display(HTML('<script>document.title = \"pwned\"</script><b>html output</b>'))"
        ),
    ]
    return json.loads(nbformat.writes(nb))


@pytest.mark.browser
def test_run_output_typesets_math_from_the_paved_host_only(paved_hub, artifacts):
    svc = f"{paved_hub.url}/services/pipelines/"
    alice = paved_hub.api("alice")
    r = alice.post(
        f"{svc}api/pipelines",
        json={
            "spec": {"project": PROJECT, "environment": "dev", "name": "math-output"},
            "notebook": math_notebook(),
            "pin": {},
        },
    )
    assert r.status_code in (200, 201), r.text
    started = alice.post(f"{svc}api/pipelines/{PROJECT}/math-output/runs", json={})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 180
    while (status := alice.get(f"{svc}api/runs/{run_id}").json()["status"]) not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(1)
    assert status == "succeeded"

    html = alice.get(f"{svc}runs/{run_id}/notebook")
    csp = html.headers["Content-Security-Policy"]
    host = urlsplit(paved_hub.url).netloc
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()[1:]
    # strict: a sandbox, nothing by default, scripts only from the two MathJax addresses on Paved's host
    assert csp.startswith("sandbox allow-scripts;") and "default-src 'none'" in csp
    assert script_src == [
        f"{host}/services/pipelines/static/mathjax-config.js",
        f"{host}/services/pipelines/mathjax/",
    ]

    hub_host = urlsplit(paved_hub.url).netloc
    outside: list[str] = []
    errors: list[str] = []
    with browser_page(viewport=(1280, 1000)) as page:
        page.on(
            "request",
            lambda req: (
                outside.append(req.url)
                if urlsplit(req.url).netloc != hub_host and not req.url.startswith(("data:", "blob:", "about:"))
                else None
            ),
        )
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        login(page, paved_hub, "alice")
        page.goto(f"{svc}runs/{run_id}")
        frame = page.frame_locator("#output-frame")
        # typeset: MathJax replaced the TeX with its SVG containers (two in the markdown, one in the output)
        containers = frame.locator("mjx-container")
        containers.first.wait_for(timeout=30_000)
        page.wait_for_function(
            "() => document.getElementById('output-frame').contentDocument === null"  # opaque origin: no access
        )
        assert containers.count() == 3
        assert frame.locator('mjx-container[display="true"] svg').count() == 1
        assert frame.locator(".jp-MarkdownOutput svg").count() >= 2
        markdown = frame.locator(".jp-MarkdownCell").inner_text()
        assert "Inline" in markdown and "$" not in markdown and r"\alpha" not in markdown
        outputs = frame.locator(".jp-OutputArea").all_inner_texts()
        assert not [o for o in outputs if r"\sqrt" in o]
        assert "html output" in outputs[-1]  # the output's HTML is shown, its script does not run (CSP: no inline)
        output = next(f for f in page.frames if f"/runs/{run_id}/notebook" in f.url)
        assert output.evaluate("document.title") != "pwned"
        page.locator("#output-frame").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "run-output-math.png"), full_page=True)
    assert not outside, f"requests left the Paved host: {outside}"
    assert not [e for e in errors if "MathJax" in e], errors
