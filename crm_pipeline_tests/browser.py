"""Helpers for the browser test: the real Dagster webserver as a subprocess, and Debian's chromium
driven by Selenium through Debian's chromedriver (Selenium Manager never downloads anything)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("CRM_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (
    os.environ.get("CRM_TEST_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
)

# Needed on a machine without internet: without them chromium stalls on lookups and updates.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Only loopback is ever visited: never resolve or proxy anything else.
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def in_ci() -> bool:
    """True when the CI variable is set (`CI=true`, as CI systems do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def browser_missing() -> str | None:
    """Why the browser test cannot run here (None: it can)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        return (
            f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
            f"(apt-get install -y chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -e '.[test]')"
    return None


# loopback only, whatever *_proxy says
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    """A console script installed beside this interpreter (`<venv>/bin/dagster-webserver`)."""
    return str(Path(sys.executable).parent / name)


@contextmanager
def dagster_webserver(
    env: dict, log_path: Path, *, cwd: Path | None = None, timeout: float = 120
) -> Iterator[str]:
    """Serve the project with `dagster-webserver -m crm_pipeline.definitions` on a free loopback port;
    yields its base URL once `/server_info` answers. Its process group is killed at the end."""
    port = free_port()
    command = [
        venv_bin("dagster-webserver"),
        "-m",
        "crm_pipeline.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"dagster-webserver exited with {proc.returncode}:\n{tail(log_path)}")
                try:
                    with _NO_PROXY.open(f"{url}/server_info", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"dagster-webserver did not answer within {timeout:.0f}s:\n{tail(log_path)}"
                    )
                time.sleep(0.5)
            yield url
        finally:
            stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process group of `proc` (the webserver and its code server), SIGKILL what lingers."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, so a zombie does not count as alive
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    proc.poll()


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextmanager
def chromium(user_data_dir: Path) -> Iterator:
    """A headless Debian chromium under Selenium, with a fresh profile; console logs are kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()


def page_text(driver) -> str:
    """Everything the page shows as text (the body's innerText)."""
    return driver.execute_script("return document.body ? document.body.innerText : ''") or ""


def wait_until(driver, condition: Callable[[object], object], timeout: float, what: str):
    """Poll `condition(driver)` until it is truthy; on timeout fail with `what` and the visible text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(condition)
    except TimeoutException:
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; page shows:\n{page_text(driver)[:3000]}"
        ) from None


def severe_console_errors(driver, ignore: tuple[str, ...] = ()) -> list[str]:
    """The browser console's SEVERE entries since the last call (minus those containing an `ignore` text)."""
    entries = driver.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e.get("level") == "SEVERE" and not any(text in e["message"] for text in ignore)
    ]
