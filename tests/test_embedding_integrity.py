"""Embeddings are never lost: one directory per (tag, step), steps and config changed under one lock, a config
merged with other writers' entries (threads and processes), and a crash at any point leaves every path the
config names on disk."""

import os
import resource
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector import metadata
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from mxnet_tb import SummaryWriter


def config(logdir):
    parsed = ProjectorConfig()
    with open(os.path.join(logdir, metadata.PROJECTOR_FILENAME)) as handle:
        text_format.Parse(handle.read(), parsed)
    return parsed


def assert_consistent(logdir, *, orphans_allowed=False):
    """Every path the config names exists, and (unless a crash may have left one) every embedding directory is
    named by the config."""
    entries = config(logdir).embeddings
    for entry in entries:
        for path in (entry.tensor_path, entry.metadata_path, entry.sprite.image_path):
            if path:
                assert os.path.isfile(os.path.join(logdir, path)), (entry.tensor_name, path)
    listed = {os.path.dirname(entry.tensor_path) for entry in entries}
    root = os.path.join(logdir, "embeddings")
    on_disk = {f"embeddings/{t}/{s}" for t in os.listdir(root) for s in os.listdir(os.path.join(root, t))}
    if not orphans_allowed:
        assert {d for d in on_disk if not os.path.basename(d).startswith(".")} <= listed
    return entries


def _run(script, timeout=120, **kwargs):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, timeout=timeout, capture_output=True, **kwargs
    )


def test_a_tag_that_looks_like_a_step_directory_is_its_own_place(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_embedding("a", np.full((2, 2), 1.0), global_step=0)
        sw.add_embedding("a/00000", np.full((3, 2), -3.0), global_step=1)
        sw.add_embedding("a", np.full((4, 2), 3.0), global_step=0)  # re-logging 'a' must not take 'a/00000'
    entries = {e.tensor_name: e for e in assert_consistent(logdir)}
    assert sorted(entries) == ["a/00000:00001", "a:00000"]
    inner = entries["a/00000:00001"]
    assert list(inner.tensor_shape) == [3, 2]
    data = Path(logdir, inner.tensor_path).read_bytes()
    assert np.frombuffer(data, np.float32).tolist() == [-3.0] * 6


def test_automatic_steps_from_four_threads_keep_every_embedding(logdir):
    with SummaryWriter(logdir) as sw:

        def log():
            for _ in range(10):
                sw.add_embedding("feat", np.random.default_rng().normal(size=(3, 2)))

        threads = [threading.Thread(target=log) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    names = sorted(e.tensor_name for e in assert_consistent(logdir))
    assert names == [f"feat:{step:05d}" for step in range(40)]


def test_two_processes_on_one_logdir_keep_each_others_entries(logdir):
    os.makedirs(logdir)
    script = f"""
        import sys, time
        import numpy as np
        from mxnet_tb import SummaryWriter
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        with SummaryWriter({logdir!r}) as sw:
            for step in range(30):
                sw.add_embedding("proc" + sys.argv[2], np.ones((2, 2)), global_step=step)
    """
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    import time

    start = str(time.time() + 6)  # both have imported by then, then race
    children = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), start, str(i)], env=env) for i in range(2)
    ]
    assert [child.wait(timeout=120) for child in children] == [0, 0]
    names = sorted(e.tensor_name for e in assert_consistent(logdir))
    assert names == sorted(f"proc{i}:{step:05d}" for i in range(2) for step in range(30))


@pytest.mark.parametrize("kill_after", range(1, 6))
def test_a_kill_at_any_rename_leaves_config_and_directories_consistent(logdir, kill_after):
    script = f"""
        import os, signal
        import numpy as np
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r})
        sw.add_embedding("a", np.ones((2, 2)), global_step=0)
        sw.add_embedding("b", np.ones((2, 2)), global_step=0)
        calls = [0]
        def killing(real):
            def call(*args, **kwargs):
                result = real(*args, **kwargs)
                calls[0] += 1
                if calls[0] == {kill_after}:
                    os.kill(os.getpid(), signal.SIGKILL)
                return result
            return call
        os.rename, os.replace = killing(os.rename), killing(os.replace)
        sw.add_embedding("a", np.full((3, 2), 2.0), global_step=0)  # replaces a:00000
        sw.add_embedding("c", np.full((3, 2), 2.0), global_step=0)
    """
    _run(script)
    # a directory renamed into place just before the kill is not in the config yet: harmless, removed below
    entries = {e.tensor_name: e for e in assert_consistent(logdir, orphans_allowed=True)}
    assert {"a:00000", "b:00000"} <= set(entries)
    with SummaryWriter(logdir) as sw:  # the next writer of those tags clears what the crash left
        sw.add_embedding("a", np.ones((2, 2)), global_step=0)
        sw.add_embedding("c", np.ones((2, 2)), global_step=0)
    assert sorted(e.tensor_name for e in assert_consistent(logdir)) == ["a:00000", "b:00000", "c:00000"]


def test_a_fifo_at_the_config_path_is_refused_without_hanging(logdir):
    os.makedirs(logdir)
    os.mkfifo(os.path.join(logdir, metadata.PROJECTOR_FILENAME))
    done = _run(
        f"""
        import numpy as np
        from mxnet_tb import SummaryWriter
        with SummaryWriter({logdir!r}) as sw:
            try:
                sw.add_embedding("e", np.ones((2, 2)))
            except ValueError as exc:
                assert "not a regular file" in str(exc), exc
            else:
                raise AssertionError("accepted a FIFO as the projector config")
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert not os.path.exists(os.path.join(logdir, "embeddings"))


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_a_config_linked_to_dev_zero_is_refused_without_reading_it(logdir):
    os.makedirs(logdir)
    os.symlink("/dev/zero", os.path.join(logdir, metadata.PROJECTOR_FILENAME))
    done = _run(
        f"""
        import numpy as np
        from mxnet_tb import SummaryWriter
        with SummaryWriter({logdir!r}) as sw:
            try:
                sw.add_embedding("e", np.ones((2, 2)))
            except ValueError as exc:
                assert "projector_config.pbtxt" in str(exc), exc
            else:
                raise AssertionError("read /dev/zero as the projector config")
        """,
        timeout=60,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert os.readlink(os.path.join(logdir, metadata.PROJECTOR_FILENAME)) == "/dev/zero"
