"""The I/O layer under attack: forks while logging, a hung disk, new runs on a bad disk, thousands of sub-runs,
clocks stepping back, exit-time logging, a broken encoder. Every test reads the output back."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from mxnet_tb import EncodeError, EncodeWarning, EventWriteError, EventWriteWarning, SummaryWriter
from mxnet_tb._facade import media as _media
from mxnet_tb._io import file_names as _file_names
from mxnet_tb._io import storage as _storage
from mxnet_tb._io.event_file import FULL_QUEUE_WAIT_SECS
from mxnet_tb._io.exit import EXIT_TIMEOUT_SECS
from mxnet_tb._io.open_files import MAX_OPEN_FILES

from .readback import event_files, load_events, scalars, summary_events


def _python(code, timeout=120, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def _last_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- fork --------------------------------------------------------------------------------------------------


def test_forked_children_log_while_a_parent_thread_is_logging(logdir):
    result = _python(
        f"""
        import json, os, signal, threading, time
        import numpy as np
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=0.01, max_queue=4)
        sw.add_image('warm', np.zeros((3, 2, 2)), 0)   # PIL imported before the forks
        sw.flush()
        stop = False
        def log():
            i = 0
            while not stop:
                sw.add_scalar('parent', float(i), i)
                sw.run('sub').add_scalar('x', 1.0, i)
                if i % 20 == 0:
                    sw.add_image('pimg', np.zeros((3, 2, 2)), i)
                i += 1
        thread = threading.Thread(target=log, daemon=True)
        thread.start()
        hung = failed = 0
        for n in range(40):
            time.sleep(0.005)
            pid = os.fork()
            if pid == 0:
                signal.alarm(10)   # a child that hangs dies instead
                sw.add_scalar('child', float(n), n)
                sw.add_image('cimg', np.zeros((3, 2, 2)), n)
                sw.run('child').add_scalar('c', float(n), n)
                sw.flush()
                os._exit(0)
            deadline = time.monotonic() + 20
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    failed += status != 0
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    hung += 1
                    break
                time.sleep(0.01)
        stop = True
        thread.join()
        sw.close()
        print(json.dumps({{'hung': hung, 'failed': failed}}))
        """,
        timeout=600,
    )
    assert _last_json(result) == {"hung": 0, "failed": 0}
    events = summary_events(logdir)
    assert sorted(e.step for e in events if e.summary.value[0].tag == "child") == list(range(40))
    assert sorted(e.step for e in events if e.summary.value[0].tag == "cimg") == list(range(40))
    assert sorted(s for s, _ in scalars(os.path.join(logdir, "child"), "c")) == list(range(40))


# -- a hung disk -------------------------------------------------------------------------------------------


@pytest.fixture
def hung_disk(monkeypatch):
    """Every append blocks until the test ends (or ``thaw`` is set): a frozen disk, without a kernel."""
    thaw = threading.Event()
    real_append = _storage.LocalFile.append

    def hung_append(self, data):
        thaw.wait(60)
        real_append(self, data)

    monkeypatch.setattr(_storage.LocalFile, "append", hung_append)
    yield thaw
    thaw.set()


def _timed_calls(sw, count):
    longest = 0.0
    for step in range(count):
        started = time.monotonic()
        sw.add_scalar("a", float(step), global_step=step)
        longest = max(longest, time.monotonic() - started)
    return longest


def test_a_hung_disk_delays_a_logging_call_at_most_the_documented_wait_then_drops_and_counts(logdir, hung_disk):
    sw = SummaryWriter(logdir, max_queue=10, flush_secs=0.01)
    with pytest.warns(EventWriteWarning, match=r"queue is full.*hung") as caught:
        longest = _timed_calls(sw, 300)
    assert len(caught) == 1  # one warning per spell
    assert longest < FULL_QUEUE_WAIT_SECS + 1.0
    dropped = sw.dropped_events
    assert 0 < dropped < 300
    hung_disk.set()
    sw.close()
    steps = [s for s, _ in scalars(logdir, "a")]
    assert len(steps) + dropped == 300 and steps == sorted(steps) and steps[0] == 0


def test_strict_a_hung_disk_raises_after_the_documented_wait(logdir, hung_disk):
    sw = SummaryWriter(logdir, max_queue=10, flush_secs=0.01, strict=True)
    started = time.monotonic()
    with pytest.raises(EventWriteError, match="queue is full") as caught:
        _timed_calls(sw, 300)
    assert time.monotonic() - started < FULL_QUEUE_WAIT_SECS + 1.0
    assert caught.value.errno == 110  # ETIMEDOUT
    hung_disk.set()
    sw.close()


def test_exit_waits_at_most_the_documented_time_on_a_hung_disk(logdir):
    result = _python(
        f"""
        import atexit, sys, threading, time
        atexit.register(lambda: print('exit took', time.monotonic() - ended, file=sys.stderr))  # runs last
        from mxnet_tb import SummaryWriter
        from mxnet_tb._io import storage
        sw = SummaryWriter({logdir!r}, flush_secs=3600)
        for step in range(10):
            sw.add_scalar('a', float(step), step)
        storage.LocalFile.append = lambda self, data: time.sleep(120)   # the disk freezes
        ended = time.monotonic()
        """,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    took = float(result.stderr.split("exit took")[1])
    assert took < EXIT_TIMEOUT_SECS + 2
    assert "were not written at exit" in result.stderr


def _mount_frozen_capable(tmp_path):
    """A 32 MiB ext4 image loop-mounted in ``tmp_path`` (fsfreeze needs a real file system), or a skip reason."""
    if os.geteuid() != 0:
        return None, "needs root to loop-mount an ext4 image"
    image, mount = tmp_path / "disk.img", tmp_path / "mnt"
    mount.mkdir()
    commands = [
        ["truncate", "-s", "32M", str(image)],
        ["mkfs.ext4", "-q", "-F", str(image)],
        ["mount", "-o", "loop", str(image), str(mount)],
    ]
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{command[0]} failed: {exc}"
        if done.returncode != 0:
            return None, f"the kernel refused {' '.join(command[:2])}: {done.stderr.strip()}"
    return mount, None


@pytest.fixture
def frozen_fs(tmp_path):
    mount, reason = _mount_frozen_capable(tmp_path)
    if mount is None:
        pytest.skip(reason)
    state = {"frozen": False}

    def freeze():
        done = subprocess.run(["fsfreeze", "-f", str(mount)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"the kernel refused fsfreeze: {done.stderr.strip()}")
        state["frozen"] = True

    def thaw():
        if state["frozen"]:
            subprocess.run(["fsfreeze", "-u", str(mount)], capture_output=True)
            state["frozen"] = False

    try:
        yield mount, freeze, thaw
    finally:
        thaw()
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_fsfreeze_a_frozen_disk_never_blocks_training(frozen_fs):
    mount, freeze, thaw = frozen_fs
    logdir = str(mount / "logs")
    sw = SummaryWriter(logdir, max_queue=10, flush_secs=0.05)
    sw.add_scalar("a", -1.0, 0)
    sw.flush()
    freeze()
    thawer = threading.Timer(8.0, thaw)  # old code: the logging call blocks until here
    thawer.start()
    try:
        with pytest.warns(EventWriteWarning, match="queue is full"):
            longest = 0.0
            for step in range(1, 300):
                started = time.monotonic()
                sw.add_scalar("a", float(step), step)
                longest = max(longest, time.monotonic() - started)
    finally:
        thawer.join()
        thaw()
    assert longest < FULL_QUEUE_WAIT_SECS + 1.0
    dropped = sw.dropped_events
    sw.close()
    steps = [s for s, _ in scalars(logdir, "a")]
    assert dropped > 0 and len(steps) + dropped == 300 and steps == sorted(steps)


# -- new runs on a bad disk --------------------------------------------------------------------------------

NEW_RUNS = {
    "add_scalars": lambda sw: sw.add_scalars("blocked", {"train": 1.0}, 0),
    "dict add_scalar": lambda sw: sw.add_scalar("blocked", {"train": 1.0}, 0),
    "run view": lambda sw: sw.run("blocked/train").add_scalar("loss", 1.0, 0),
    "add_hparams(name=)": lambda sw: sw.add_hparams({"lr": 0.1}, {"hp/acc": 0.5}, name="blocked/trial"),
    "add_embedding": lambda sw: sw.run("blocked").add_embedding("emb", np.ones((2, 3))),
}


@pytest.mark.parametrize("call", list(NEW_RUNS.values()), ids=list(NEW_RUNS))
def test_a_new_run_that_cannot_be_created_warns_once_counts_and_training_goes_on(logdir, call):
    sw = SummaryWriter(logdir)
    open(os.path.join(logdir, "blocked"), "w").close()  # the run's directory cannot be made (as on a full disk)
    with pytest.warns(EventWriteWarning, match="blocked") as caught:
        call(sw)
        sw.flush()
        sw.run("blocked/other").add_scalar("loss", 1.0, 0)  # the same spell: no second warning
        sw.flush()
    assert len(caught) == 1
    assert sw.dropped_events >= 1
    sw.add_scalar("after", 1.0, 0)
    sw.close()
    assert scalars(logdir, "after") == [(0, 1.0)]


@pytest.mark.parametrize("call", list(NEW_RUNS.values()), ids=list(NEW_RUNS))
def test_strict_a_new_run_that_cannot_be_created_raises(logdir, call):
    sw = SummaryWriter(logdir, strict=True)
    open(os.path.join(logdir, "blocked"), "w").close()
    with pytest.raises(EventWriteError, match="blocked"):
        call(sw)
        sw.flush()
    sw.close()


# -- many runs ---------------------------------------------------------------------------------------------


def test_a_thousand_sub_runs_share_one_thread_and_a_bounded_number_of_open_files(logdir):
    threads_before = threading.active_count()
    fds_before = len(os.listdir("/proc/self/fd"))
    sw = SummaryWriter(logdir, flush_secs=0.05)
    for run in range(1100):
        sw.run(f"r{run}").add_scalar("x", float(run), 0)
    sw.flush()
    assert threading.active_count() - threads_before <= 1
    assert len(os.listdir("/proc/self/fd")) - fds_before <= MAX_OPEN_FILES + 2
    for run in range(1100):  # parked files are reopened and appended to
        sw.run(f"r{run}").add_scalar("x", float(run) + 0.5, 1)
    sw.close()
    for run in (0, 1, 550, 1099):
        assert len(event_files(os.path.join(logdir, f"r{run}"))) == 1
        assert scalars(os.path.join(logdir, f"r{run}"), "x") == [(0, float(run)), (1, run + 0.5)]


def test_a_thousand_sub_runs_under_a_low_descriptor_limit_lose_nothing(logdir):
    out = _last_json(
        _python(
            f"""
            import json, resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            from mxnet_tb import SummaryWriter
            sw = SummaryWriter({logdir!r}, flush_secs=0.05)
            for step in range(2):
                for run in range(1100):
                    sw.add_scalars('loss', {{f'r{{run}}': float(step)}}, step)
            sw.close()
            print(json.dumps({{'dropped': sw.dropped_events}}))
            """
        )
    )
    assert out == {"dropped": 0}
    assert len(os.listdir(os.path.join(logdir, "loss"))) == 1100
    assert scalars(os.path.join(logdir, "loss", "r777"), "loss") == [(0, 0.0), (1, 1.0)]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a size-limited tmpfs")
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"the kernel refused a tmpfs mount: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_spell_leaves_no_empty_event_files_and_resumes(tiny_tmpfs):
    logdir = tiny_tmpfs / "logs"
    sw = SummaryWriter(logdir, flush_secs=3600)
    sw.add_scalar("a", 0.0, 0)
    sw.flush()
    filler = tiny_tmpfs / "filler"
    with open(filler, "wb", buffering=0) as handle:  # fill the disk
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    with pytest.warns(EventWriteWarning, match="No space left"):
        for step in range(1, 200):
            sw.add_scalar("a", float(step), step)
            sw.flush()
    dropped = sw.dropped_events
    assert len(event_files(logdir)) <= 2  # not one empty file per failed batch
    filler.unlink()  # the disk recovers
    for step in range(200, 210):
        sw.add_scalar("a", float(step), step)
    sw.close()
    files = event_files(logdir)
    assert len(files) <= 2 and all(os.path.getsize(f) > 0 for f in files)
    steps = [e.step for f in files for e in load_events(f) if e.HasField("summary")]
    assert steps[-10:] == list(range(200, 210)) and len(steps) + dropped == 210


# -- smaller -----------------------------------------------------------------------------------------------


def test_a_tiny_flush_secs_does_not_spin_a_core(logdir):
    sw = SummaryWriter(logdir, flush_secs=1e-9)
    sw.add_scalar("a", 1.0, 0)
    used = time.process_time()
    time.sleep(1.0)
    used = time.process_time() - used
    sw.close()
    assert used < 0.3  # a spinning writer thread burns a whole second here
    assert scalars(logdir, "a") == [(0, 1.0)]


def test_an_image_logged_from_an_atexit_handler_is_written(logdir):
    result = _python(
        f"""
        import atexit
        import numpy as np
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r})
        atexit.register(lambda: sw.add_image('late', np.full((3, 4, 4), 0.5), 1))
        sw.add_image('early', np.zeros((3, 4, 4)), 0)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr, result.stderr
    assert [(e.step, e.summary.value[0].tag) for e in summary_events(logdir)] == [(0, "early"), (1, "late")]


def test_file_names_sort_in_creation_order_when_the_wall_clock_steps_back(logdir, monkeypatch):
    monkeypatch.setattr(_file_names, "_name_seconds", 0)
    created = []
    for clock in (2_000_000_000.0, 1_000_000_000.0, 1_500_000_000.0):
        monkeypatch.setattr(_file_names.time, "time", lambda clock=clock: clock)
        with SummaryWriter(logdir) as sw:
            sw.add_scalar("a", float(len(created)), len(created))
        created.append(max(set(event_files(logdir)) - set(created)))
    assert sorted(created) == created


def test_an_encoder_failure_is_an_encode_warning_not_a_dropped_disk_event(logdir, monkeypatch):
    def broken_png(tag, hwc):
        raise OSError("Pillow could not encode")

    monkeypatch.setattr(_media, "image_value", broken_png)
    sw = SummaryWriter(logdir)
    sw.add_image("img", np.zeros((3, 2, 2)), 0)
    sw.add_scalar("after", 1.0, 0)
    with pytest.warns(EncodeWarning, match=r"image|tag 'img'.*Pillow could not encode"):
        sw.flush()
    assert sw.dropped_events == 0
    sw.close()
    assert [e.summary.value[0].tag for e in summary_events(logdir)] == ["after"]


def test_strict_an_encoder_failure_raises_encode_error(logdir, monkeypatch):
    monkeypatch.setattr(_media, "image_value", lambda tag, hwc: 1 / 0)
    sw = SummaryWriter(logdir, strict=True)
    sw.add_image("img", np.zeros((3, 2, 2)), 0)
    with pytest.raises(EncodeError, match=r"tag 'img' at step 0.*ZeroDivisionError"):
        sw.flush()
    sw.close()
