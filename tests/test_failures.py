"""I/O failures are reported on the next call, naming the file and the OS error; by default training goes on
(one EventWriteWarning, dropped events counted), with strict=True the call raises EventWriteError."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from mxnet_tb import EventWriteError, EventWriteWarning, SummaryWriter

from .readback import event_files, load_events, scalars


def test_strict_removed_logdir_is_raised_by_flush_and_logging_continues(logdir):
    sw = SummaryWriter(logdir, flush_secs=3600, strict=True)
    sw.add_scalar("a", 1.0)
    sw.flush()
    (old_file,) = event_files(logdir)
    shutil.rmtree(logdir)
    sw.add_scalar("a", 2.0)
    with pytest.raises(EventWriteError) as caught:
        sw.flush()
    assert caught.value.errno == errno.ENOENT
    assert caught.value.filename == old_file
    assert "removed" in str(caught.value) and old_file in str(caught.value)
    sw.add_scalar("a", 3.0)
    sw.close()
    (new_file,) = event_files(logdir)
    assert new_file != old_file
    assert scalars(logdir, "a") == [(1, 2.0), (2, 3.0)]


def _wait_for_new_file(logdir):
    deadline = time.monotonic() + 10
    while not os.path.isdir(logdir) and time.monotonic() < deadline:  # the thread writes a new file
        time.sleep(0.02)
    time.sleep(0.1)


def test_strict_background_failure_is_raised_by_the_next_add(logdir):
    sw = SummaryWriter(logdir, flush_secs=0.05, strict=True)
    sw.add_scalar("a", 1.0)
    sw.flush()
    shutil.rmtree(logdir)
    sw.add_scalar("a", 2.0)
    _wait_for_new_file(logdir)
    with pytest.raises(EventWriteError, match="removed"):
        sw.add_scalar("a", 3.0)
    sw.add_scalar("a", 4.0)  # reported once; the writer goes on
    sw.close()
    assert scalars(logdir, "a") == [(1, 2.0), (2, 4.0)]


def test_by_default_a_removed_logdir_warns_once_and_training_goes_on(logdir):
    sw = SummaryWriter(logdir, flush_secs=0.05)
    sw.add_scalar("a", 1.0)
    sw.flush()
    (old_file,) = event_files(logdir)
    shutil.rmtree(logdir)
    sw.add_scalar("a", 2.0)
    _wait_for_new_file(logdir)
    with pytest.warns(EventWriteWarning) as caught:
        sw.add_scalar("a", 3.0)
    assert len(caught) == 1 and caught[0].filename == __file__
    message = str(caught[0].message)
    assert old_file in message and "[Errno 2]" in message and "removed" in message
    sw.flush()
    sw.close()  # nothing raises
    assert scalars(logdir, "a") == [(1, 2.0), (2, 3.0)]
    assert sw.dropped_events == 0  # the event of the removed file's spell was written to the new file


def _child(code, timeout=60):
    """Run ``code`` in a child process (as an unprivileged user when we are root); return its JSON output."""
    prelude = """
        import json, os, resource, signal, sys
        from mxnet_tb import SummaryWriter, EventWriteError

        def drop_privileges():  # root ignores permissions; imports must come first (/root is private)
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def shared_dir():
    """A directory an unprivileged child can reach (pytest's own tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="mxnet_tb-test-")
    os.chmod(path, 0o777)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_strict_read_only_logdir_is_raised_naming_path_and_errno(shared_dir):
    logdir = shared_dir / "logs"  # created by the unprivileged child, then made read-only
    out = _child(
        f"""
        drop_privileges()
        sw = SummaryWriter({str(logdir)!r}, strict=True)
        os.chmod({str(logdir)!r}, 0o555)
        sw.add_scalar('a', 1.0)
        try:
            sw.flush()
            print(json.dumps({{'raised': False}}))
        except EventWriteError as exc:
            try:
                sw.close()
                closed = 'ok'
            except EventWriteError as again:
                closed = str(again)
            print(json.dumps({{'raised': True, 'errno': exc.errno, 'filename': exc.filename, 'msg': str(exc),
                               'closed': closed, 'lost': sw.dropped_events}}))
        """
    )
    assert out["raised"], out
    assert out["errno"] == errno.EACCES
    assert out["filename"].startswith(str(logdir) + os.sep + "events.out.tfevents.")
    assert "Permission denied" in out["msg"] and "1 event" in out["msg"]
    assert out["lost"] == 1 and out["closed"] == "ok"
    assert os.listdir(logdir) == []


def test_by_default_a_read_only_logdir_warns_once_and_counts_dropped_events(shared_dir):
    logdir = shared_dir / "logs"
    out = _child(
        f"""
        import warnings
        drop_privileges()
        sw = SummaryWriter({str(logdir)!r}, max_queue=10)
        os.chmod({str(logdir)!r}, 0o555)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step in range(100):
                sw.add_scalar('a', float(step), global_step=step)
            sw.flush()
            sw.close()
        print(json.dumps({{'warnings': [str(w.message) for w in caught],
                           'categories': [w.category.__name__ for w in caught], 'dropped': sw.dropped_events}}))
        """
    )
    assert out["categories"] == ["EventWriteWarning"], out
    assert str(logdir) in out["warnings"][0] and "[Errno 13]" in out["warnings"][0]
    assert out["dropped"] == 100
    assert os.listdir(logdir) == []


def test_disk_full_is_reported_and_the_file_stays_readable(shared_dir):
    logdir = shared_dir / "logs"
    logdir.mkdir()
    os.chmod(logdir, 0o777)
    out = _child(
        f"""
        drop_privileges()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        sw = SummaryWriter({str(logdir)!r}, flush_secs=3600, strict=True)
        error = None
        written = 0
        for step in range(2000):
            try:
                sw.add_scalar('a', float(step), global_step=step)
                if step % 50 == 49:
                    sw.flush()
                    written = step + 1
            except EventWriteError as exc:
                error = exc
                break
        sw.add_scalar('after', 1.0)   # training goes on
        print(json.dumps({{'errno': error and error.errno, 'filename': error and error.filename,
                           'msg': str(error), 'written': written}}))
        """
    )
    assert out["errno"] == errno.EFBIG, out
    assert out["filename"].startswith(str(logdir))
    assert "File too large" in out["msg"]
    first = event_files(logdir)[0]
    steps = [e.step for e in load_events(first) if e.HasField("summary")]
    assert steps[: out["written"]] == list(range(out["written"]))


def test_by_default_a_full_disk_warns_and_training_finishes(shared_dir):
    logdir = shared_dir / "logs"
    logdir.mkdir()
    os.chmod(logdir, 0o777)
    out = _child(
        f"""
        import warnings
        drop_privileges()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        sw = SummaryWriter({str(logdir)!r}, flush_secs=3600)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step in range(2000):
                sw.add_scalar('a', float(step), global_step=step)
                if step % 50 == 49:
                    sw.flush()
            sw.close()
        print(json.dumps({{'messages': [str(w.message) for w in caught], 'dropped': sw.dropped_events}}))
        """
    )
    assert out["messages"] and all("[Errno 27]" in m for m in out["messages"]), out
    assert 0 < out["dropped"] < 2000
    # a full file is followed by fresh files that fill up in turn; every file reads to its last record
    files = event_files(logdir)
    steps = [e.step for f in files for e in load_events(f) if e.HasField("summary")]
    assert len(steps) + out["dropped"] == 2000
    assert steps == sorted(steps)
