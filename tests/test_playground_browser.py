"""The playground page in a real browser: headless Chromium driven by Selenium against a live server.

Skips, saying why, where Debian's chromium/chromedriver or the playground's packages are missing
(`.ci/run` installs them). Set PLAYGROUND_SCREENSHOT=path to keep the screenshot of the solved XOR
(the README's picture is made that way)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(f"browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); "
                "install them with 'apt-get install chromium chromium-driver'", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (the test extra)")
uvicorn = pytest.importorskip("uvicorn", reason="browser tests need uvicorn (the playground extra)")
playground_app = pytest.importorskip("chainrule.playground.app", reason="the playground server is not built")

from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(app):
    """Serves ``app`` with uvicorn in a thread on a free local port; yields its address."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the playground server did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server():
    """The playground as `chainrule playground` serves it, for this module."""
    with _serving(playground_app.create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with a fresh profile; the network is closed, so everything that phones
    home is switched off."""
    profile = tempfile.mkdtemp(prefix="chainrule-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # the page's script errors
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(15)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(server, browser):
    """The browser with the page loaded afresh; after the test, the page's script raised nothing."""
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def _open(driver, url):
    """Loads the page afresh and waits for the server's first network (a "ready" message)."""
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready-count"))
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready-count"))


def _wait_ready_after(driver, count, timeout=10):
    """Waits until the page has received a "ready" newer than the count-th."""
    body = driver.find_element(By.TAG_NAME, "body")
    WebDriverWait(driver, timeout).until(lambda d: int(body.get_attribute("data-ready-count") or 0) > count)


def _error_text(driver):
    box = driver.find_element(By.ID, "error")
    return box.text if box.is_displayed() else ""


def _set(driver, field, value):
    box = driver.find_element(By.ID, f"f-{field}")
    box.clear()
    box.send_keys(str(value))


def _small_png(path: Path) -> None:
    """Shrinks a screenshot for the README: 256 colours, 80% size (Pillow comes with matplotlib)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        im = im.convert("RGB")
        im = im.resize((im.width * 4 // 5, im.height * 4 // 5), Image.LANCZOS)
        im.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def test_xor_is_solved_live_and_screenshot(server, page, tmp_path):
    browser = page
    count = _open(browser, server)
    Select(browser.find_element(By.ID, "f-dataset")).select_by_value("xor")
    browser.find_element(By.ID, "btn-apply").click()
    _wait_ready_after(browser, count)
    assert _error_text(browser) == ""
    browser.find_element(By.ID, "btn-start").click()
    acc = browser.find_element(By.ID, "test-acc")
    WebDriverWait(browser, 15, poll_frequency=0.1).until(
        lambda d: acc.get_attribute("data-value") not in ("", None) and float(acc.get_attribute("data-value")) == 1.0)
    assert acc.text == "1.000"
    keep = os.environ.get("PLAYGROUND_SCREENSHOT")
    if keep:  # the README's picture: let the curves grow a little longer
        WebDriverWait(browser, 15).until(lambda d: int(d.find_element(By.ID, "epoch").text) >= 400)
    browser.find_element(By.ID, "btn-pause").click()
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "status").text.startswith("paused"))
    # The boundary canvas has been painted with both class colours, not left blank.
    colours = browser.execute_script("""
        const c = document.getElementById('boundary');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0, orange = 0;
        for (let i = 0; i < d.length; i += 4) { if (d[i+2] > d[i] + 30) blue++; else if (d[i] > d[i+2] + 30) orange++; }
        return [blue, orange];""")
    assert min(colours) > 1000, colours
    # Plotted: the loss curve has points and every layer a gradient norm.
    assert browser.execute_script("return document.getElementById('verdict').textContent.length") > 0
    # One step of the solved network, so the picture shows the numbers panel too.
    assert "Forward pass" in _step(browser)
    shot = Path(keep or tmp_path / "playground.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if keep:
        _small_png(shot)


def _explain_text(seed: int) -> str:
    return subprocess.run([sys.executable, "-m", "chainrule", "explain", "--seed", str(seed)], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()


def _step(driver) -> str:
    """Presses "Step one batch" and returns the panel's new text."""
    panel = driver.find_element(By.ID, "explain")
    before = panel.get_attribute("textContent")
    driver.find_element(By.ID, "btn-step").click()
    WebDriverWait(driver, 10).until(lambda d: panel.get_attribute("textContent") != before)
    return panel.get_attribute("textContent").strip()


def test_step_mode_shows_the_numbers_of_chainrule_explain(server, page):
    browser = page
    count = _open(browser, server)
    browser.find_element(By.ID, "preset-local_minimum").click()
    _wait_ready_after(browser, count)
    assert browser.find_element(By.ID, "preset-note").text.strip()
    seed = int(browser.find_element(By.ID, "f-seed").get_attribute("value"))
    assert _step(browser) == _explain_text(seed)
    # Seed 0, set in the form: the numbers of `chainrule explain --seed 0`, digit for digit.
    count = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready-count"))
    _set(browser, "seed", 0)
    browser.find_element(By.ID, "btn-apply").click()
    _wait_ready_after(browser, count)
    assert _error_text(browser) == ""
    assert _step(browser) == _explain_text(0)
    assert "0.51193696" in browser.find_element(By.ID, "explain").text  # the loss, visible on the page


def test_bad_input_shows_the_servers_message_next_to_the_field(server, page):
    browser = page
    _open(browser, server)
    _set(browser, "lr", -1)
    browser.find_element(By.ID, "btn-apply").click()
    box = browser.find_element(By.ID, "error")
    WebDriverWait(browser, 10).until(lambda d: box.is_displayed() and box.text)
    assert "lr" in box.text and "-1" in box.text
    beside = browser.find_element(By.ID, "error-lr")
    assert beside.is_displayed() and "-1" in beside.text
    # The page still works: a good value clears the message.
    count = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready-count"))
    _set(browser, "lr", 0.1)
    browser.find_element(By.ID, "btn-apply").click()
    _wait_ready_after(browser, count)
    assert not box.is_displayed() and not beside.is_displayed()


def test_csv_upload_trains_and_a_bad_csv_is_named(server, page, tmp_path):
    browser = page
    count = _open(browser, server)
    Select(browser.find_element(By.ID, "f-dataset")).select_by_value("csv")
    bad = tmp_path / "three.csv"
    bad.write_text("x1,x2,x3,label\n" + "".join(f"{i},{i % 3},{i % 5},{i % 2}\n" for i in range(20)))
    browser.find_element(By.ID, "f-csv").send_keys(str(bad))
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return state.csvText.length") > 0)
    browser.find_element(By.ID, "btn-apply").click()
    beside = browser.find_element(By.ID, "error-csv_text")
    WebDriverWait(browser, 10).until(lambda d: beside.is_displayed() and beside.text)
    assert "csv_text" in browser.find_element(By.ID, "error").text
    good = tmp_path / "two.csv"
    good.write_text("x1,x2,label\n" + "".join(f"{i / 10},{(i * 7) % 10 / 10},{'ab'[i % 2]}\n" for i in range(40)))
    browser.find_element(By.ID, "f-csv").send_keys(str(good))
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return state.csvText.startsWith('x1,x2,label')"))
    browser.find_element(By.ID, "btn-apply").click()
    _wait_ready_after(browser, count)
    assert _error_text(browser) == "" and not beside.is_displayed()
    assert browser.find_element(By.ID, "architecture").text.startswith("2-")


def test_tabs_are_sessions_up_to_the_limit_and_closing_one_frees_it(page):
    browser = page
    first = browser.current_window_handle
    with _serving(playground_app.create_app(max_sessions=1)) as url:
        _open(browser, url)
        browser.switch_to.new_window("tab")
        browser.get(url)
        box = browser.find_element(By.ID, "error")
        WebDriverWait(browser, 10).until(lambda d: box.is_displayed() and "maximum of 1" in box.text)
        browser.close()  # the tab that got no session
        browser.switch_to.window(first)
        browser.switch_to.new_window("tab")
        second = browser.current_window_handle
        browser.switch_to.window(first)
        browser.close()  # closing the first tab ends its session ...
        browser.switch_to.window(second)
        deadline = time.monotonic() + 10
        while True:  # ... so a new tab gets one (the server notices the close within moments)
            browser.get(url)
            try:
                WebDriverWait(browser, 2).until(
                    lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready-count"))
                break
            except TimeoutException:
                assert time.monotonic() < deadline, "the closed tab's session was never freed"
        assert _error_text(browser) == ""
