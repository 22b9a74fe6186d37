"""End to end in a real browser: the digits demo's scalars, as TensorBoard's SCALARS tab draws them in Chromium.

Needs Debian's ``chromium`` and the npm package ``playwright-core``; ``tests/browser_setup.py`` installs both
when missing (as root, through apt-get and npm ci; about 15 s here), and the test is skipped, saying why, on a
machine that cannot install them (no apt-get, not root).
"""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from .browser_setup import BrowserUnavailable, ensure_browser, run_capture
from .tb_server import tensorboard_server
from .test_examples import _run

EPOCHS = 2
BATCHES = 1500 // 64  # per epoch, as train_digits.py iterates (last batch discarded)
DEMO_TAGS = {
    "train/accuracy",
    "train/cross-entropy",
    "train/lr",
    "train/samples_per_sec",
    "val/accuracy",
    "val/cross-entropy",
}


@pytest.fixture(scope="module")
def chromium():
    try:
        return ensure_browser()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless Chromium on this machine and it cannot be installed here: {exc}")


def _points(path: str) -> list[tuple[float, float]]:
    """The (x, y) vertices of an SVG path made of M and L commands, as Plottable draws a line."""
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]\s*(-?[\d.e+-]+)[ ,](-?[\d.e+-]+)", path)]


def _lines_of(tag: str) -> dict[str, str]:
    """What to collect: the line paths of the scalar card titled ``tag`` (CSS pierces shadow roots)."""
    return {"selector": f'tf-scalar-card:has(.heading-label.name:text-is("{tag}")) path.line', "attribute": "d"}


def test_scalars_tab_draws_the_demos_training_and_validation_curves(chromium, tmp_path):
    logdir = tmp_path / "digits"
    _run("train_digits.py", "--logdir", str(logdir), "--epochs", str(EPOCHS), "--no-serve")
    with tensorboard_server(logdir) as server:
        server.wait_for("/data/plugin/scalars/tags", lambda tags: set(tags.get(".", {})) >= DEMO_TAGS)
        # The dashboard opens its first two tag groups (aux, grads); the filter shows train/ and val/ instead.
        fragment = "#scalars&tagFilter=" + urllib.parse.quote("^(train|val)/", safe="")
        screenshot = tmp_path / "scalars.png"
        answer = run_capture(
            {
                "viewport": {"width": 1280, "height": 800},
                "pages": [
                    {
                        "url": server.url("/") + fragment,
                        "wait_text": sorted(DEMO_TAGS),
                        "wait_selector": "tf-scalar-card path.line",
                        "settle_ms": 1000,
                        "screenshot": str(screenshot),
                        "collect": {
                            "titles": {"selector": "tf-scalar-card tf-card-heading .heading-label.name"},
                            "val_accuracy": _lines_of("val/accuracy"),
                            "train_accuracy": _lines_of("train/accuracy"),
                        },
                    }
                ],
            }
        )
    collected = answer["pages"][0]["collected"]
    # Every demo tag has a card, and only those match the filter.
    assert {t for t in collected["titles"] if t.startswith(("train/", "val/"))} == DEMO_TAGS
    # The validation card draws one point per epoch (raw and smoothed lines), left to right.
    val_lines = [_points(d) for d in collected["val_accuracy"]]
    assert len(val_lines) == 2
    for line in val_lines:
        assert len(line) == EPOCHS
        assert line[0][0] < line[1][0]
    # The training card draws (nearly) every batch: Plottable may merge points that fall on one pixel.
    train_lines = [_points(d) for d in collected["train_accuracy"]]
    assert len(train_lines) == 2
    assert all(0.8 * EPOCHS * BATCHES <= len(line) <= EPOCHS * BATCHES for line in train_lines)
    # The screenshot is the page as drawn: 1280x800 with TensorBoard's orange run color in the charts.
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (800, 1280, 3)
    charts = pixels[150:, 330:]  # right of the sidebar, below the header and search box
    orange = (charts[..., 0] > 200) & (abs(charts[..., 1].astype(int) - 112) < 40) & (charts[..., 2] < 110)
    assert orange.sum() > 500
