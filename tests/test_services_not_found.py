"""A path none of a Paved service's handlers matches gets a 404 with a sentence: a Paved page (the one layout) for a
page path, JSON under ``api/`` (Tornado's bare "404: Not Found" page before; found by the issue 16 review)."""

from __future__ import annotations

import pytest

from paved.core.service import NOT_FOUND


@pytest.mark.parametrize("service", ["costs", "catalog", "pipelines"])
def test_an_unknown_page_is_a_paved_404_page(paved_hub, service):
    r = paved_hub.login("alice").get(f"{paved_hub.url}/services/{service}/no-such-page")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert 'id="paved-nav"' in r.text and "check the address" in r.text


@pytest.mark.parametrize("service", ["costs", "catalog", "pipelines", "projects"])
def test_an_unknown_api_path_is_a_json_404(paved_hub, service):
    r = paved_hub.api("alice").get(f"{paved_hub.url}/services/{service}/api/no-such-thing")
    assert r.status_code == 404
    assert r.json() == {"status": 404, "message": NOT_FOUND}
