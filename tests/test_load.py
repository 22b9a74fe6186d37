"""Load: 8 threads x 50,000 scalars and 4 threads of histograms and images through one writer.

Every event arrives, in order per tag, and memory stays bounded by the queue (peak RSS measured in a child
process, so other tests' memory does not count).
"""

import json
import subprocess
import sys
import textwrap

from .readback import event_files, load_events

CHILD = textwrap.dedent(
    """
    import json, resource, sys, threading
    import numpy as np
    from mxnet_tb import SummaryWriter

    logdir, max_queue = sys.argv[1], int(sys.argv[2])
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # MiB
    images = np.random.default_rng(0).random((3, 224, 224), dtype=np.float32)
    weights = np.random.default_rng(1).standard_normal(100_000).astype(np.float32)
    sw = SummaryWriter(logdir, max_queue=max_queue)
    sw.add_image("warmup", images)
    sw.add_histogram("warmup", weights)
    sw.flush()
    before = rss()

    def scalars(n):
        for step in range(50_000):
            sw.add_scalar(f"scalar/{n}", float(step), global_step=step)

    def histograms(n):
        for step in range(200):
            sw.add_histogram(f"hist/{n}", weights * (step + 1), global_step=step)

    def pictures(n):
        for step in range(60):
            sw.add_image(f"image/{n}", images, global_step=step)

    threads = [threading.Thread(target=scalars, args=(n,)) for n in range(8)]
    threads += [threading.Thread(target=histograms, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=pictures, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sw.close()
    print(json.dumps({"rss_before_mib": before, "rss_peak_mib": rss(), "dropped": sw.dropped_events}))
    """
)


def test_many_threads_of_every_kind_lose_nothing_and_stay_bounded(tmp_path):
    logdir = str(tmp_path / "load")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, logdir, "256"], capture_output=True, text=True, timeout=600, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"load test memory: {report}")
    assert report["dropped"] == 0
    # A full queue is written by the caller that fills it: at most 256 events (or 32 MiB) wait, plus one batch
    # being written. Images here are ~150 KB each, scalars ~60 bytes.
    assert report["rss_peak_mib"] - report["rss_before_mib"] < 120, report

    seen = {}
    for path in event_files(logdir):
        for event in load_events(path):
            for value in event.summary.value:
                seen.setdefault(value.tag, []).append((event.step, value))
    for n in range(8):
        points = seen[f"scalar/{n}"]
        assert [(step, v.simple_value) for step, v in points] == [(s, float(s)) for s in range(50_000)]
    for n in range(2):
        assert [step for step, _ in seen[f"hist/{n}"]] == list(range(200))
        assert all(v.histo.num == 100_000 for _, v in seen[f"hist/{n}"])
        assert [step for step, _ in seen[f"image/{n}"]] == list(range(60))
