"""Headless Chromium (Debian's chromium + chromium-driver) driven by selenium, for the
dashboard's browser tests: the flags that work on a closed network, a fresh profile per
browser, and the network log, so a test can fail on any request that leaves the server."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
)
#: schemes a page may use without reaching any server
LOCAL_SCHEMES = {"data", "blob", "about"}


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} missing: run `make chromium` (Debian's chromium, chromium-driver)"
        )
    profile = tempfile.mkdtemp(prefix="civicloop-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get("about:blank")
        requested(driver)  # what the browser's own start page asked for is not the test's
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser asked for since the last call (requests and web sockets)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def outside(urls: list[str], base: str) -> list[str]:
    """The URLs that are neither on ``base``'s origin nor local to the page."""
    origin = urlsplit(base)[:2]
    return [url for url in urls if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url)[:2] != origin]


def overflow(driver: webdriver.Chrome) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways but
    what scrolls inside its own box)."""
    return int(
        driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def save_screenshot(driver: webdriver.Chrome, path: Path, width: int = 1400) -> Path:
    """The whole page ``width`` pixels wide as a PNG (the window is grown to the page's height
    first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(int(height) + 40, 900))
    driver.save_screenshot(str(path))
    return path
