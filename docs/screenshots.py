#!/usr/bin/env python3
"""Screenshots of TensorBoard showing the examples' runs, for the README: ``docs/images/*.png``.

Runs the examples in ``examples/module_api/`` into a log directory (or takes one that holds their runs
``digits/``, ``histogram/``, ``filters/`` and ``doctor/``), starts TensorBoard on 127.0.0.1 on a free port for each
run, opens SCALARS, HISTOGRAMS, IMAGES, GRAPHS, PROJECTOR and TEXT in headless Chromium (Debian's package, driven
by playwright-core; installed by ``tests/browser_setup.py`` when missing) and saves one 1280x800 PNG per view.

    .venv/bin/python docs/screenshots.py                      # train into a temporary logdir, write docs/images/
    .venv/bin/python docs/screenshots.py --logdir runs/docs   # keep (or reuse) the runs in runs/docs
    .venv/bin/python docs/screenshots.py --only projector     # one picture
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.browser_setup import ensure_browser, run_capture  # noqa: E402
from tests.tb_server import tensorboard_server  # noqa: E402

EXAMPLES = ROOT / "examples" / "module_api"
IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}

# Example script -> (run directory in the logdir, arguments).
RUNS: dict[str, tuple[str, list[str]]] = {
    "digits": ("train_digits.py", ["--no-serve", "--epochs", "8"]),
    "histogram": ("histogram_demo.py", []),
    "filters": ("filters_and_embeddings.py", ["--epochs", "4"]),
    "doctor": ("doctor_demo.py", []),  # two runs: doctor/bad and doctor/healthy
}


@dataclass
class Shot:
    """One picture: which run, which dashboard (URL fragment), what must show before it is taken."""

    name: str
    run: str
    fragment: str
    wait_text: list[str]
    caption: str
    wait_selector: str | None = None
    frame: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    settle_ms: int = 2500


def _fragment(dashboard: str, **state: str) -> str:
    """``#dashboard&key=value``: TensorBoard keeps each dashboard's state (tag filter, ...) in the URL hash."""
    return "#" + "&".join([dashboard, *(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in state.items())])


_COLOR_BY_LABEL = [
    {"wait_ms": 3000},  # the projector loads the tensor, metadata and sprite, then runs PCA
    {"click": 'paper-dropdown-menu:has-text("Color by")'},
    {"click": 'paper-item:visible:has-text("label")'},
]

SHOTS = [
    Shot(
        "scalars",
        "digits",
        _fragment("scalars", tagFilter=r"^(train|val)/(accuracy|cross-entropy)$"),
        ["train/accuracy", "val/accuracy", "train/cross-entropy", "val/cross-entropy"],
        "SCALARS: training accuracy and cross-entropy per batch and validation per epoch, on one step axis",
        wait_selector="tf-scalar-card path.line",
    ),
    Shot(
        "scalars_lr",
        "digits",
        _fragment("scalars", tagFilter=r"^train/(lr|samples_per_sec)$"),
        ["train/lr", "train/samples_per_sec"],
        "SCALARS: the learning rate read from the optimizer (FactorScheduler halves it at batch 100) and samples/sec",
        wait_selector="tf-scalar-card path.line",
    ),
    Shot(
        "histograms",
        "histogram",
        _fragment("histograms"),
        ["norml_dist"],
        "HISTOGRAMS: the article's normal distribution, its standard deviation shrinking over 10 steps",
        wait_selector="tf-histogram-dashboard vz-histogram-timeseries svg path",
        actions=[{"click": "tf-histogram-loader paper-icon-button"}],  # the card's expand button
    ),
    Shot(
        "histograms_grads",
        "digits",
        _fragment("histograms", tagFilter=r"^grads/hist/(conv0|conv1|fc1|fc2)_weight$"),
        ["grads/hist/conv0_weight", "grads/hist/fc2_weight"],
        "HISTOGRAMS: gradients of each weight, every 5 batches, from tb.GradMonitor",
        wait_selector="tf-histogram-dashboard vz-histogram-timeseries svg path",
    ),
    Shot(
        "images",
        "filters",
        _fragment("images", tagFilter=r"^(filters|feature_maps|input)/"),
        ["filters/conv0", "feature_maps/conv0", "input/digit"],
        "IMAGES: the first conv layer's 16 filters, their feature maps for one digit, and that digit",
        wait_selector="tf-image-loader img",
    ),
    Shot(
        "graphs",
        "digits",
        _fragment("graphs"),
        ["Main Graph"],
        "GRAPHS: the digits CNN as MXNet built it, from tb.params",
        wait_selector="tf-graph-scene g.node",
        actions=[{"wait_ms": 2000}, {"click": "text=Fit to screen"}],
        settle_ms=2000,
    ),
    Shot(
        "projector",
        "filters",
        _fragment("projector"),
        ["digits_relu2:00000"],
        "PROJECTOR: the penultimate layer's 64 outputs for all 1,797 digits, PCA, colored by true label",
        frame="projector_binary",
        wait_selector="canvas",
        actions=_COLOR_BY_LABEL,
    ),
    Shot(
        "projector_tsne",
        "filters",
        _fragment("projector"),
        ["digits_relu2:00000"],
        "PROJECTOR: the same points after about 1,000 iterations of t-SNE: the digits gather by class",
        frame="projector_binary",
        wait_selector="canvas",
        actions=[*_COLOR_BY_LABEL, {"click_text": "t-SNE"}, {"wait_ms": 45_000}],
    ),
    Shot(
        "doctor",
        "doctor",
        _fragment("text"),
        ["vanishing_gradients", "explained by vanishing_gradients", "No rule has fired"],
        "TEXT: tb.Doctor's report on a 10-layer sigmoid MLP: vanishing gradients, and the tiny updates and the "
        "stalled loss they explain; the healthy CNN's report follows",
        wait_selector="tf-text-loader table",
    ),
]


def run_examples(logdir: Path, runs: list[str]) -> None:
    """Run the examples of ``runs`` into ``logdir/<run>``, each unless that run is already there."""
    for run in runs:
        script, args = RUNS[run]
        target = logdir / run
        if target.exists() and any(target.iterdir()):
            print(f"reusing {target}", flush=True)
            continue
        print(f"running {script} into {target}", flush=True)
        subprocess.run([sys.executable, str(EXAMPLES / script), "--logdir", str(target), *args], check=True)


def take(logdir: Path, shots: list[Shot], out: Path) -> list[Path]:
    """Take ``shots``, one TensorBoard server per run; return the PNGs written."""
    written = []
    for run in dict.fromkeys(shot.run for shot in shots):
        with tensorboard_server(logdir / run) as server:
            server.wait_for("/data/runs", lambda runs: len(runs) > 0)
            pages = []
            for shot in (s for s in shots if s.run == run):
                path = out / f"{shot.name}.png"
                pages.append(
                    {
                        "url": server.url("/") + shot.fragment,
                        "wait_text": shot.wait_text,
                        "wait_selector": shot.wait_selector,
                        "frame": shot.frame,
                        "actions": shot.actions,
                        "settle_ms": shot.settle_ms,
                        "screenshot": str(path),
                    }
                )
                written.append(path)
            started = time.monotonic()
            run_capture({"viewport": VIEWPORT, "timeout_ms": 90_000, "pages": pages}, timeout=600)
            print(f"{run}: {len(pages)} screenshot(s) in {time.monotonic() - started:.1f}s", flush=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--logdir", type=Path, help="holds (or receives) the runs digits/, histogram/, filters/, doctor/"
    )
    parser.add_argument("--out", type=Path, default=IMAGES, help=f"where the PNGs go (default {IMAGES})")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SHOTS], help="take only these pictures")
    args = parser.parse_args()
    ensure_browser()
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mxnet-tb-docs-") as scratch:
        logdir = args.logdir or Path(scratch)
        logdir.mkdir(parents=True, exist_ok=True)
        run_examples(logdir, list(dict.fromkeys(shot.run for shot in shots)))
        for path in take(logdir.resolve(), shots, args.out):
            print(f"wrote {os.path.relpath(path)}")
    for shot in shots:
        print(f"- docs/images/{shot.name}.png: {shot.caption}")


if __name__ == "__main__":
    main()
