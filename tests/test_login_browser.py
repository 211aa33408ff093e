"""The login pages in a real browser: Debian's headless Chromium driven by selenium walks Login
Flow v2 and v1 end to end as a person would, at a phone and a desktop size, and saves a
screenshot of every page under ``artifacts/screenshots/`` (look at them)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from ocs import db as dbm
from ocs.accounts.apppasswords import AppPassword
from tests.conftest import seed_users

SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1280, 860)}

pytestmark = pytest.mark.skipif(
    shutil.which("chromedriver") is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


@pytest.fixture
def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    options.add_argument("--user-agent=Nextcloud-Talk browser test")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def start_flow(url: str) -> dict:
    req = urllib.request.Request(
        url + "/index.php/login/v2", method="POST", headers={"User-Agent": "Talk Android (Pixel 8)"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def poll(flow: dict) -> tuple[int, dict | list]:
    data = ("token=" + flow["poll"]["token"]).encode()
    req = urllib.request.Request(flow["poll"]["endpoint"], data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def heading(driver, expected: str) -> str:
    """The page's h1 once it reads ``expected`` (clicks do not wait for the next page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == expected)
    except Exception:  # noqa: S110 - the assertion below reports what is shown instead
        pass
    return driver.find_element(By.TAG_NAME, "h1").text


def fill_and_submit(driver, user: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, "user")
    field.clear()
    field.send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


@pytest.mark.parametrize("size", list(SIZES))
def test_login_flow_v2_in_a_browser(live_server, database_url, chrome, size):
    from selenium.webdriver.common.by import By

    server = live_server()
    seed_users(database_url, "alice")
    chrome.set_window_size(*SIZES[size])
    flow = start_flow(server.url)
    chrome.get(flow["login"])
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Connect to your account"
    assert "Talk Android (Pixel 8)" in chrome.page_source
    shot(chrome, f"v2-1-connect-{size}")
    fill_and_submit(chrome, "alice", "wrong password")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
    assert "Wrong login or password." in chrome.find_element(By.CSS_SELECTOR, ".error").text
    shot(chrome, f"v2-2-wrong-password-{size}")
    fill_and_submit(chrome, "alice", "alicepw")
    assert heading(chrome, "Account access") == "Account access"
    shot(chrome, f"v2-3-grant-{size}")
    assert poll(flow) == (404, [])
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert heading(chrome, "Account connected") == "Account connected"
    shot(chrome, f"v2-4-connected-{size}")
    status, credentials = poll(flow)
    assert status == 200 and credentials["loginName"] == "alice" and credentials["server"] == server.url
    chrome.get(flow["login"])  # the used flow
    assert "invalid or has expired" in chrome.page_source
    shot(chrome, f"v2-5-used-flow-{size}")


@pytest.mark.parametrize("size", list(SIZES))
def test_login_flow_v1_in_a_browser(live_server, database_url, chrome, size):
    """The iOS path: the web view's first load carries ``OCS-APIRequest`` (set here through
    Chromium's DevTools protocol), and the grant redirects to ``nc://login/…``."""
    from selenium.webdriver.common.by import By

    server = live_server()
    seed_users(database_url, "alice")
    chrome.set_window_size(*SIZES[size])
    chrome.get(server.url + "/index.php/login/flow")  # without the header: the error page
    assert "Invalid request" in chrome.page_source
    shot(chrome, f"v1-0-without-header-{size}")
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"OCS-APIRequest": "true"}})
    chrome.get(server.url + "/index.php/login/flow")
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Connect to your account"
    shot(chrome, f"v1-1-connect-{size}")
    fill_and_submit(chrome, "ALICE", "alicepw")
    assert heading(chrome, "Account access") == "Account access"
    shot(chrome, f"v1-2-grant-{size}")
    before = AppPassword.select().count()
    dbm.release_connection()
    # the browser follows the 303 to nc://login/…, which only the app can open
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    import time

    deadline = time.monotonic() + 15
    while AppPassword.select().count() == before and time.monotonic() < deadline:
        dbm.release_connection()
        time.sleep(0.1)
    rows = list(AppPassword.select())
    assert len(rows) == before + 1 and rows[-1].name == "Nextcloud-Talk browser test"
    dbm.release_connection()
