"""A training process killed at any moment leaves event files that both TensorBoard loaders read, with
every step that a returned ``flush()`` promised."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from .readback import event_files, load_events
from .tb_server import tensorboard_server

KILLS = 20

CHILD = textwrap.dedent(
    """
    import random, sys
    from mxnet_tb import SummaryWriter
    seed = int(sys.argv[2])
    random.seed(seed)
    # every mix of the three write paths: the timer thread, a full queue, and flush() alone
    sw = SummaryWriter(sys.argv[1], flush_secs=3600 if seed % 2 else 0.05, max_queue=(8, 64, 10**6)[seed % 3])
    step = 0
    while True:
        for _ in range(random.randint(1, 300)):
            sw.add_scalar("loss", float(step), global_step=step)
            step += 1
        sw.flush()
        print(step, flush=True)  # every step below this one is on disk
    """
)


def _kill_at_random(logdir, rng, seed):
    child = subprocess.Popen([sys.executable, "-c", CHILD, logdir, str(seed)], stdout=subprocess.PIPE, text=True)
    try:
        flushed = 0
        for _ in range(rng.randint(1, 40)):
            line = child.stdout.readline()
            if not line:
                break
            flushed = int(line)
        time.sleep(rng.random() * 0.02)  # kill mid-write as often as between writes
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    return flushed


def test_sigkill_at_random_moments_loses_nothing_flushed(tmp_path):
    rng = random.Random(20261127)
    root = tmp_path / "runs"
    flushed = {}
    for kill in range(KILLS):
        logdir = str(root / f"run{kill:02d}")
        flushed[kill] = _kill_at_random(logdir, rng, seed=kill)
        (path,) = event_files(logdir)
        events = load_events(path)  # stops at the last complete record, never raises
        assert events[0].file_version == "brain.Event:2"
        steps = [e.step for e in events if e.HasField("summary")]
        assert steps == list(range(len(steps))), f"kill {kill}: steps out of order or missing"
        assert len(steps) >= flushed[kill], f"kill {kill}: {flushed[kill]} flushed, {len(steps)} on disk"
    assert sum(1 for n in flushed.values() if n) >= KILLS // 2  # most kills came after at least one flush

    keep_all = ("--samples_per_plugin", "scalars=100000")  # no downsampling: every step must be there
    with tensorboard_server(root, load_fast=True, extra_args=keep_all) as server:
        runs = server.wait_for("/data/runs", lambda r: len(r) == KILLS, timeout=120)
        assert sorted(runs) == [f"run{k:02d}" for k in range(KILLS)]
        for kill, count in flushed.items():
            if not count:
                continue
            points = server.wait_for(
                "/data/plugin/scalars/scalars",
                lambda p, count=count: len(p) >= count,
                run=f"run{kill:02d}",
                tag="loss",
            )
            assert [step for _, step, _ in points] == list(range(len(points)))
            assert [value for _, _, value in points[:count]] == [float(s) for s in range(count)]
    assert os.listdir(root)
