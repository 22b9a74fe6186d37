#!/usr/bin/env python3
"""The README's picture of GRAPHS coloured by compute time: ``docs/images/graphs_profile.png``.

Trains the small BatchNorm CNN of ``tests/mxnet_models.py`` for one epoch with ``tb.profile(batches=3,
start=2)`` into a temporary log directory, starts TensorBoard on it, opens GRAPHS on the run ``profile`` in
headless Chromium (see ``tests/browser_setup.py``), picks the session in the *Tag* menu and *Compute time*
as the colouring, and saves a 1280x800 PNG.

    .venv/bin/python docs/screenshot_profile.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.browser_setup import ensure_browser, run_capture  # noqa: E402
from tests.tb_server import tensorboard_server  # noqa: E402

OUT = ROOT / "docs" / "images" / "graphs_profile.png"


def main() -> None:
    import mxnet_tb as tb
    from tests import mxnet_models as models

    ensure_browser()
    with tempfile.TemporaryDirectory(prefix="mxnet-tb-profile-shot-") as scratch:
        logdir = Path(scratch) / "logs"
        writer = tb.SummaryWriter(str(logdir))
        callback = tb.profile(batches=3, start=2, writer=writer)
        models.fit(models.module(batchnorm=True), num_epoch=1, batch_end_callback=[callback])
        writer.close()
        tag = callback.session.tag
        with tensorboard_server(logdir) as server:
            server.wait_for("/data/plugin/graphs/info", lambda info: "profile" in info and info["profile"]["tags"])
            page = {
                "url": server.url("/") + "#graphs&run=profile",
                "wait_text": ["Main Graph"],
                "wait_selector": "tf-graph-scene g.node",
                "actions": [
                    {"wait_ms": 2000},
                    {"click": "paper-dropdown-menu >> nth=1"},  # the Tag menu (the first is Run)
                    {"click": f'paper-item:visible:has-text("{tag}")'},
                    {"wait_ms": 3000},
                    {"click_text": "Compute time"},
                    {"wait_ms": 1500},
                    {"click": "text=Fit to screen"},
                ],
                "settle_ms": 2500,
                "screenshot": str(OUT),
            }
            run_capture({"viewport": {"width": 1280, "height": 800}, "timeout_ms": 90_000, "pages": [page]})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
