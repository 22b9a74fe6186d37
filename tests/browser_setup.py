"""Headless Chromium for the browser test and ``docs/screenshots.py``: installed when missing, never downloaded.

The browser is Debian's ``chromium`` package (``apt-get install -y chromium``), driven by the npm package
``playwright-core`` pinned in ``tests/browser/package-lock.json`` and installed with ``npm ci`` into
``tests/browser/node_modules``. Playwright's own browser download is never used. Both steps are skipped when
already done, so calling :func:`ensure_browser` again costs nothing.

    python3 tests/browser_setup.py          # install what is missing, print where the browser is

:func:`run_capture` runs ``tests/browser/capture.mjs`` on a job (pages to open, what to wait for, what to save)
and returns what the pages showed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["BROWSER_DIR", "CHROMIUM", "BrowserUnavailable", "ensure_browser", "run_capture"]

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
CHROMIUM = Path(os.environ.get("MXNET_TB_CHROMIUM", "/usr/bin/chromium"))
_PLAYWRIGHT = BROWSER_DIR / "node_modules" / "playwright-core" / "package.json"
_INSTALL_TIMEOUT = 600  # seconds per install command (apt-get install chromium plus npm ci took 15 s here)


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing and cannot be installed here (no apt-get, not root, no npm)."""


def _apt_install(*packages: str) -> None:
    """``apt-get update`` then ``apt-get install -y PACKAGES`` as root, or BrowserUnavailable saying why not."""
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable(f"{' '.join(packages)} missing and apt-get not available to install it")
    if os.geteuid() != 0:
        raise BrowserUnavailable(f"{' '.join(packages)} missing; installing it needs root: apt-get install -y ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        print("+", " ".join(command), file=sys.stderr, flush=True)
        result = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT
        )
        if result.returncode != 0:
            raise BrowserUnavailable(f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}")


def ensure_browser() -> Path:
    """Install Chromium and playwright-core where missing; return Chromium's path.

    Raises BrowserUnavailable (with the reason) when something is missing and this machine cannot install it.
    """
    if not CHROMIUM.exists():
        _apt_install("chromium")
        if not CHROMIUM.exists():
            raise BrowserUnavailable(f"apt-get installed chromium but {CHROMIUM} does not exist")
    if not _PLAYWRIGHT.exists():
        if shutil.which("node") is None or shutil.which("npm") is None:
            _apt_install("nodejs", "npm")
        command = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        print("+", " ".join(command), f"(in {BROWSER_DIR})", file=sys.stderr, flush=True)
        result = subprocess.run(
            command,
            cwd=BROWSER_DIR,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
            # Belt and braces: playwright-core downloads nothing on install, and must not try to.
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )
        if result.returncode != 0:
            raise BrowserUnavailable(f"npm ci in {BROWSER_DIR} failed ({result.returncode}): {result.stderr[-2000:]}")
    return CHROMIUM


def run_capture(job: dict[str, Any], timeout: float = 240.0) -> dict[str, Any]:
    """Run ``capture.mjs`` on ``job`` (see that file) in a fresh Chromium profile; return its JSON answer.

    Raises RuntimeError with the driver's output when it fails.
    """
    chromium = ensure_browser()
    with tempfile.TemporaryDirectory(prefix="mxnet-tb-chromium-") as profile:
        job = {"chromium": str(chromium), "profile": profile, **job}
        result = subprocess.run(
            ["node", str(BROWSER_DIR / "capture.mjs")],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=BROWSER_DIR,
        )
    if result.returncode != 0:
        raise RuntimeError(f"capture.mjs failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


if __name__ == "__main__":
    try:
        print(ensure_browser())
    except BrowserUnavailable as exc:
        sys.exit(f"browser unavailable: {exc}")
