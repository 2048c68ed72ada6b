"""MathJax for output notebooks, served by the pipelines service itself: the run output page typesets the math of
a notebook's markdown and outputs (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) as JupyterLab does, with
nothing loaded from outside the Paved host (issue 16, item 7).

MathJax 3.2.2 is the npm package ``mathjax`` (``package.json`` of the checkout; ``make install`` puts it in
``./node_modules``): its ``es5`` folder is served at ``<service prefix>mathjax/``, and the page loads
``tex-svg.js`` (TeX input, SVG output: glyphs drawn as paths, so no web-font requests) after Paved's configuration
(``static/mathjax-config.js``). The output page runs in a sandbox (an opaque origin, no cookies, no storage) whose
Content-Security-Policy lets scripts come from these two addresses only: the user's own HTML and inline scripts in
an output still run nothing.
"""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
ROUTE = "mathjax"  # under the service prefix
ENTRY = "tex-svg.js"
CONFIG = "static/mathjax-config.js"  # Paved's MathJax settings (a file: the page's CSP allows no inline script)


def find_dir() -> str:
    """MathJax 3's ``es5`` folder in ``./node_modules`` of the working directory or of the checkout; "" when
    neither has it (the output page then shows math as the notebook's source text)."""
    for root in (Path.cwd(), CHECKOUT):
        es5 = root / "node_modules" / "mathjax" / "es5"
        if (es5 / ENTRY).is_file():
            return str(es5.resolve())
    return ""


def scripts(prefix: str) -> list[str]:
    """The page's script URLs, in load order, for a service at ``prefix`` (``/services/pipelines/``)."""
    return [f"{prefix}{CONFIG}", f"{prefix}{ROUTE}/{ENTRY}"]


def content_security_policy(host: str, prefix: str, with_mathjax: bool) -> str:
    """The output page's CSP: a sandbox (the output is the user's HTML) that may load nothing but inline styles,
    ``data:`` images and fonts, and (``with_mathjax``) scripts from exactly Paved's MathJax addresses on ``host``
    (``127.0.0.1:8000``: a host source without scheme, so it follows the page's http or https). MathJax's own
    extensions load from ``<prefix>mathjax/`` as scripts too."""
    base = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
    if not with_mathjax:
        return f"sandbox; {base}"
    sources = f"{host}{prefix}{CONFIG} {host}{prefix}{ROUTE}/"
    return f"sandbox allow-scripts; {base}; script-src {sources}"
