#!/usr/bin/env python3
"""Benchmark mxnet_tb's images and embeddings against tensorboardX, side by side (issue 4's targets).

What is measured (each run in a fresh ``tempfile.mkdtemp`` directory, removed afterwards):

1. Images: ``--images`` (default 100) ``add_image`` calls of one 3x224x224 float32 array in [0, 1)
   (``np.random.default_rng(0).random``), ``close()`` included in the timing (creating the writer is not).
   Reported as milliseconds per image.
2. Embedding: one ``add_embedding`` of ``--points`` (default 10,000) x 128 float32
   (``standard_normal``) with one str label per point and as many 1x28x28 float32 images in [0, 1),
   ``close()`` included. Reported in milliseconds.

tensorboardX writes its events with a pure-Python CRC unless the ``crc32c`` package is installed; the line
"tensorboardX CRC" in the environment says which one ran.

Each workload is repeated ``--repeat`` times (default 3) with the writers interleaved, and the best (minimum
time) per writer is kept; ``gc.collect()`` runs before every timed run.

Run it with::

    .venv/bin/python bench/bench_kinds.py              # full run
    .venv/bin/python bench/bench_kinds.py --quick      # 10x smaller smoke run

It is a report, not a test: it always exits 0 and prints whether each target is met.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _harness import (
    Contender,
    attempt,
    fmt,
    in_tempdir,
    keep_min,
    print_environment,
    print_error_notes,
    python_version,
    ratio_line,
)

IMAGE_SHAPE = (3, 224, 224)
EMBEDDING_DIM = 128
SPRITE_SHAPE = (1, 28, 28)
TEMPDIR_PREFIX = "mxnet_tb_bench_kinds_"

TARGET_IMAGE_SPEEDUP = 5.0
TARGET_EMBEDDING_SPEEDUP = 3.0


@dataclass
class KindsContender(Contender[Any]):
    """One writer under test: besides its name and how to open it, how to log an image and an embedding with it."""

    image: Callable[[Any, np.ndarray, int], Any]
    embedding: Callable[[Any, np.ndarray, list[str], np.ndarray], Any]


def open_mxnet_tb(logdir: str) -> Any:
    from mxnet_tb import SummaryWriter

    return SummaryWriter(logdir, verbose=False)


def open_tensorboardx(logdir: str) -> Any:
    from tensorboardX import SummaryWriter

    return SummaryWriter(logdir)


CONTENDERS = [
    KindsContender(
        "mxnet_tb",
        open_mxnet_tb,
        lambda w, image, step: w.add_image("image", image, global_step=step),
        lambda w, mat, labels, images: w.add_embedding("features", mat, labels=labels, images=images, global_step=0),
    ),
    KindsContender(
        "tensorboardX",
        open_tensorboardx,
        lambda w, image, step: w.add_image("image", image, global_step=step),
        lambda w, mat, labels, images: w.add_embedding(
            mat, metadata=labels, label_img=images, global_step=0, tag="features"
        ),
    ),
]


def image_time(contender: KindsContender, image: np.ndarray, count: int) -> float:
    """Seconds for ``count`` add_image calls plus close()."""

    def run(logdir: str) -> float:
        writer = contender.open(logdir)
        start = time.perf_counter()
        for step in range(count):
            contender.image(writer, image, step)
        writer.close()
        return time.perf_counter() - start

    return in_tempdir(run, TEMPDIR_PREFIX)


def embedding_time(contender: KindsContender, mat: np.ndarray, labels: list[str], images: np.ndarray) -> float:
    """Seconds for one add_embedding call plus close()."""

    def run(logdir: str) -> float:
        writer = contender.open(logdir)
        start = time.perf_counter()
        contender.embedding(writer, mat, labels, images)
        writer.close()
        return time.perf_counter() - start

    return in_tempdir(run, TEMPDIR_PREFIX)


def environment_rows() -> list[tuple[str, str]]:
    """Rows for print_environment: interpreter and cpus, numpy, Pillow, tensorboardX and which CRC it uses."""
    import PIL
    import tensorboardX
    import tensorboardX.crc32c

    native = getattr(tensorboardX.crc32c, "_crc32c_native", None) is not None
    return [
        ("python", f"{python_version()}, {os.cpu_count()} cpus"),
        ("numpy", f"{np.__version__}"),
        ("Pillow", f"{PIL.__version__}"),
        ("tensorboardX", f"{tensorboardX.__version__}"),
        ("tensorboardX CRC", "native (crc32c package)" if native else "pure Python"),
    ]


def run(args: argparse.Namespace) -> None:
    print_environment(environment_rows())
    print(f"settings      repeat={args.repeat} images={args.images} points={args.points:,}")
    rng = np.random.default_rng(0)
    image = rng.random(IMAGE_SHAPE, dtype=np.float32)
    mat = rng.standard_normal((args.points, EMBEDDING_DIM)).astype(np.float32)
    labels = [f"class_{i % 10}" for i in range(args.points)]
    sprites = rng.random((args.points, *SPRITE_SHAPE), dtype=np.float32)
    best_image: dict[str, float] = {}
    best_embedding: dict[str, float] = {}

    print(f"\n[1] {args.images} add_image of {'x'.join(map(str, IMAGE_SHAPE))} float32 (calls + close)", flush=True)
    for rep in range(args.repeat):
        for contender in CONTENDERS:
            seconds = attempt(contender, "images", lambda c=contender: image_time(c, image, args.images))
            if seconds is not None:
                keep_min(best_image, contender.name, seconds)
                per_image = seconds / args.images * 1e3
                print(f"  repeat {rep + 1} {contender.name:<14} {per_image:8.2f} ms/image", flush=True)

    print(
        f"\n[2] add_embedding {args.points:,} x {EMBEDDING_DIM} with labels and {args.points:,} 28x28 images",
        flush=True,
    )
    for rep in range(args.repeat):
        for contender in CONTENDERS:
            seconds = attempt(contender, "embedding", lambda c=contender: embedding_time(c, mat, labels, sprites))
            if seconds is not None:
                keep_min(best_embedding, contender.name, seconds)
                print(f"  repeat {rep + 1} {contender.name:<14} {seconds * 1e3:8.1f} ms", flush=True)

    print("\nsummary (best of repeats)")
    print(f"{'writer':<14} {'ms/image':>10} {'embedding ms':>14}")
    for contender in CONTENDERS:
        image_s = best_image.get(contender.name)
        embedding_s = best_embedding.get(contender.name)
        ms_per_image = None if image_s is None else image_s / args.images * 1e3
        embedding_ms = None if embedding_s is None else embedding_s * 1e3
        print(f"{contender.name:<14} {fmt(ms_per_image, '.2f'):>10} {fmt(embedding_ms, '.1f'):>14}")
    print()
    me, peer = "mxnet_tb", "tensorboardX"
    print(ratio_line(f"images: {peer}/{me}", best_image.get(peer), best_image.get(me), TARGET_IMAGE_SPEEDUP))
    print(
        ratio_line(
            f"embedding: {peer}/{me}", best_embedding.get(peer), best_embedding.get(me), TARGET_EMBEDDING_SPEEDUP
        )
    )
    print_error_notes(CONTENDERS)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per writer and workload; the best is kept")
    parser.add_argument("--images", type=int, default=100, help="add_image calls")
    parser.add_argument("--points", type=int, default=10_000, help="embedding points (and sprite images)")
    parser.add_argument("--quick", action="store_true", help="scale the counts down 10x")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.points = args.images // 10, args.points // 10
    args.repeat, args.images, args.points = max(1, args.repeat), max(1, args.images), max(1, args.points)
    return args


def main(argv: list[str]) -> int:
    try:
        run(parse_args(argv))
    except Exception:
        print("benchmark aborted:", flush=True)
        traceback.print_exc(file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
