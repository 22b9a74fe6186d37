import itertools
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from mxnet_tb import SummaryWriter
from mxnet_tb._io import file_names as _file_names
from mxnet_tb._io.event_file import EventFileWriter

from .readback import event_files, scalars, summary_events

NAME = re.compile(r"events\.out\.tfevents\.(\d{10})\.([\w-]+)\.(\d+)\.(\d{8})(.*)$")


def _run_python(code, timeout=60, **kwargs):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def test_file_name_carries_seconds_host_pid_counter_and_suffix(logdir):
    before = int(time.time())
    with SummaryWriter(logdir, filename_suffix=".v1") as sw:
        sw.add_scalar("a", 1.0)
    (path,) = event_files(logdir)
    seconds, host, pid, _, suffix = NAME.search(os.path.basename(path)).groups()
    assert before <= int(seconds) <= time.time()
    assert host == re.sub(r"[^\w-]", "_", socket.gethostname())
    assert (int(pid), suffix) == (os.getpid(), ".v1")


def test_later_files_of_a_process_sort_after_earlier_ones(logdir, monkeypatch):
    # TensorBoard's loaders read a run's files in name order and never go back: counter 10 must not sort
    # before counter 9
    monkeypatch.setattr(_file_names, "_file_counter", itertools.count(5))
    created = []
    for value in range(12):
        with SummaryWriter(logdir) as sw:
            sw.add_scalar("a", float(value), global_step=value)
        created.append(max(set(event_files(logdir)) - set(created)))
    assert sorted(created) == created
    assert [e.summary.value[0].simple_value for e in summary_events(logdir)] == [float(v) for v in range(12)]


def test_no_file_until_something_is_logged(logdir):
    with SummaryWriter(logdir):
        pass
    assert os.path.isdir(logdir) and event_files(logdir) == []


def test_two_writers_in_one_process_and_second_never_share_a_file(logdir):
    writers = [SummaryWriter(logdir) for _ in range(5)]
    for i, sw in enumerate(writers):
        sw.add_scalar("w", float(i), global_step=i)
    for sw in writers:
        sw.close()
    files = event_files(logdir)
    assert len(files) == 5
    assert sorted(e.summary.value[0].simple_value for e in summary_events(logdir)) == [0, 1, 2, 3, 4]


def test_writers_in_two_processes_never_share_a_file(logdir):
    code = f"""
        from mxnet_tb import SummaryWriter
        import sys
        with SummaryWriter({logdir!r}) as sw:
            for i in range(1000):
                sw.add_scalar('p' + sys.argv[1], float(i), global_step=i)
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(n)]) for n in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert len(event_files(logdir)) == 3
    for n in range(3):
        assert [s for s, _ in scalars(logdir, f"p{n}")] == list(range(1000))


def test_flush_puts_every_earlier_event_on_disk(logdir):
    sw = SummaryWriter(logdir, flush_secs=3600, max_queue=10**6)
    for step in range(500):
        sw.add_scalar("a", float(step), global_step=step)
    sw.flush()
    assert [e.step for e in summary_events(logdir)] == list(range(500))
    sw.close()


def test_flush_secs_is_honoured_without_new_events(logdir):
    sw = SummaryWriter(logdir, flush_secs=0.2, max_queue=10**6)
    sw.add_scalar("a", 1.0)
    deadline = time.monotonic() + 10
    while not summary_events(logdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.step for e in summary_events(logdir)] == [0]
    sw.close()


def test_full_queue_is_written_without_flush(logdir):
    # by the writer thread, woken by the full queue (flush_secs is an hour); the caller never writes itself
    sw = SummaryWriter(logdir, flush_secs=3600, max_queue=8)
    for step in range(20):
        sw.add_scalar("a", float(step), global_step=step)
    deadline = time.monotonic() + 10
    while len(summary_events(logdir)) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    steps = [e.step for e in summary_events(logdir)]
    assert len(steps) >= 12 and steps == list(range(len(steps)))
    sw.close()
    assert [e.step for e in summary_events(logdir)] == list(range(20))


def test_many_threads_log_through_one_writer(logdir):
    threads, per_thread = 8, 10_000
    sw = SummaryWriter(logdir, max_queue=64)

    def log(n):
        for i in range(per_thread):
            sw.add_scalar(f"thread{n}", float(i), global_step=i)

    workers = [threading.Thread(target=log, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sw.close()
    events = summary_events(logdir)
    assert len(events) == threads * per_thread
    for n in range(threads):
        mine = [(e.step, e.summary.value[0].simple_value) for e in events if e.summary.value[0].tag == f"thread{n}"]
        assert mine == [(i, float(i)) for i in range(per_thread)]


def test_context_manager_closes_and_close_fsyncs(logdir, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("a", 1.0)
    assert synced and sw._shared.sink.writers[""].closed
    assert [e.step for e in summary_events(logdir)] == [0]


def test_events_are_written_at_interpreter_exit_without_close(logdir):
    result = _run_python(
        f"""
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=3600, max_queue=10**6)
        for i in range(1000):
            sw.add_scalar('a', float(i), global_step=i)
        sw.add_text('t', 'bye')
        """
    )
    assert result.returncode == 0, result.stderr
    assert len(summary_events(logdir)) == 1001


@pytest.mark.parametrize("ending", ["raise RuntimeError('training failed')", "raise KeyboardInterrupt"])
def test_events_survive_an_exception_escaping_the_script(logdir, ending):
    result = _run_python(
        f"""
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=3600)
        for i in range(100):
            sw.add_scalar('a', float(i), global_step=i)
        {ending}
        """
    )
    assert result.returncode != 0
    assert [e.step for e in summary_events(logdir)] == list(range(100))


def test_exit_does_not_hang_on_a_write_that_never_finishes(logdir):
    started = time.monotonic()
    result = _run_python(
        f"""
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=3600)
        sw.add_scalar('a', 1.0)
        sw.flush()
        sw.add_scalar('a', 2.0)
        sw._shared.sink.writers['']._io_lock.acquire()   # as if a write hung on a dead network disk
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    assert "not written at exit" in result.stderr
    assert [e.step for e in summary_events(logdir)] == [0]


def test_forked_child_logs_to_its_own_file(logdir):
    result = _run_python(
        f"""
        import os
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=3600)
        for i in range(50):
            sw.add_scalar('parent', float(i), global_step=i)
        pid = os.fork()
        if pid == 0:
            for i in range(20):
                sw.add_scalar('child', float(i), global_step=i)
            sw.close()
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        for i in range(50, 60):
            sw.add_scalar('parent', float(i), global_step=i)
        sw.close()
        """
    )
    assert result.returncode == 0, result.stderr
    assert len(event_files(logdir)) == 2
    assert [s for s, _ in scalars(logdir, "parent")] == list(range(60))
    assert [s for s, _ in scalars(logdir, "child")] == list(range(20))


def test_killed_process_leaves_readable_files_with_everything_flushed(logdir):
    code = f"""
        import os, signal
        from mxnet_tb import SummaryWriter
        sw = SummaryWriter({logdir!r}, flush_secs=3600)
        for i in range(300):
            sw.add_scalar('a', float(i), global_step=i)
        sw.flush()
        for i in range(300, 400):
            sw.add_scalar('a', float(i), global_step=i)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    result = _run_python(code)
    assert result.returncode == -9
    steps = [e.step for e in summary_events(logdir)]
    assert steps[:300] == list(range(300))


def test_event_file_writer_refuses_writes_after_close(tmp_path):
    writer = EventFileWriter(str(tmp_path))
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.write(b"x")
    assert not os.listdir(tmp_path)


def test_deferred_records_keep_their_place_and_a_failed_one_is_reported(logdir):
    from concurrent.futures import Future

    from mxnet_tb import EncodeWarning
    from mxnet_tb._io.encode import scalar_event, scalar_value_prefix
    from mxnet_tb._io.record import frame

    writer = EventFileWriter(logdir, flush_secs=3600)
    late, broken = Future(), Future()
    writer.write(frame(scalar_event(scalar_value_prefix("a"), 0.0, 0, 1.0)))
    writer.write(late, size=100)
    writer.write(broken, size=100)
    writer.write(frame(scalar_event(scalar_value_prefix("a"), 3.0, 3, 1.0)))
    late.set_result(frame(scalar_event(scalar_value_prefix("a"), 1.0, 1, 1.0)))
    broken.set_exception(MemoryError("encoder ran out"))
    with pytest.warns(EncodeWarning, match="could not encode an event: MemoryError"):
        writer.flush()
    writer.close()
    assert writer.dropped_events == 0  # an encoding failure is not a dropped disk event
    assert [e.step for e in summary_events(logdir)] == [0, 1, 3]


def test_images_are_encoded_in_the_background_in_call_order_from_a_snapshot(logdir):
    import io

    import numpy as np
    from PIL import Image

    picture = np.zeros((4, 5, 3), dtype=np.uint8)
    with SummaryWriter(logdir) as sw:
        for step in range(20):
            picture[...] = step  # the caller reuses its buffer right away
            sw.add_image("img", picture, step, dataformats="HWC")
            sw.add_scalar("after", float(step), step)
    order = [(e.step, e.summary.value[0].tag) for e in summary_events(logdir)]
    assert order == [(s, tag) for s in range(20) for tag in ("img", "after")]
    for event in summary_events(logdir):
        value = event.summary.value[0]
        if value.tag == "img":
            pixels = np.asarray(Image.open(io.BytesIO(value.tensor.string_val[2])))
            assert pixels.shape == (4, 5, 3) and (pixels == event.step).all()
