"""``/docs`` in a real browser (Debian's Chromium): Swagger UI renders every route of the API's
OpenAPI document from files the API serves itself — nothing is requested from anywhere else,
so the page works offline — and under the API's Content-Security-Policy, which the browser
enforces (a violation would be in its console). Screenshot: build/artifacts/docs/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import REPO
from tests.support.api_site import Site
from tests.support.browser import chromium, outside, requested, save_screenshot

pytestmark = pytest.mark.integration


def test_docs_render_offline_under_the_csp(site: Site) -> None:
    with site.client() as http:
        routes = sum(len(ops) for ops in http.get("/openapi.json").json()["paths"].values())
    with chromium() as driver:
        driver.get(f"{site.url}/docs")
        WebDriverWait(driver, 60, poll_frequency=0.2).until(
            lambda d: (
                d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"
                and len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == routes
            )
        )
        title = driver.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
        seen = requested(driver)
        console = [entry["message"] for entry in driver.get_log("browser")]
        save_screenshot(driver, REPO / "build" / "artifacts" / "docs" / "docs.png")
    assert title.startswith("civicloop API")
    assert any(url.endswith("/docs/static/swagger-ui-bundle.js") for url in seen), seen
    assert outside(seen, site.url) == []
    assert not [m for m in console if "Content Security Policy" in m or "Refused" in m], console
