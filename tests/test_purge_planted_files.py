"""purge_step only rewrites the regular event files of its own run: odd run names are names, not patterns, and
links, FIFOs, directories or corrupt files planted in a run are left alone with a warning while logging goes on."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mxnet_tb import SummaryWriter
from mxnet_tb._io.record import frame
from mxnet_tb.errors import ForeignFileWarning

from .readback import event_files, load_events, scalars


def _crashed(logdir, steps=range(10), tag="loss"):
    sw = SummaryWriter(logdir)
    for step in steps:
        sw.add_scalar(tag, float(step), global_step=step)
    sw.close()


def _event_steps(logdir):
    files = [f for f in event_files(logdir) if os.path.isfile(f) and not os.path.islink(f)]  # never a planted FIFO
    return sorted(e.step for f in files for e in load_events(f) if e.HasField("summary"))


def test_a_logdir_named_like_a_pattern_purges_only_itself(tmp_path):
    runs = tmp_path / "runs"
    for name in ("exp1", "exp2", "lr[0.1]", "lr0"):
        _crashed(str(runs / name))
    for pattern in ("exp?", "lr[0.1]"):
        with SummaryWriter(str(runs / pattern), purge_step=5) as sw:
            sw.add_scalar("loss", 100.0, global_step=5)
    assert _event_steps(runs / "exp1") == list(range(10))  # 'exp?' is not a glob
    assert _event_steps(runs / "exp2") == list(range(10))
    assert _event_steps(runs / "lr0") == list(range(10))  # '[0.1]' is not a character class
    assert _event_steps(runs / "lr[0.1]") == [0, 1, 2, 3, 4, 5]  # ... and the run itself is purged
    assert scalars(str(runs / "lr[0.1]"), "loss")[-1] == (5, 100.0)


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(tmp_path):
    logdir, outside = tmp_path / "run", tmp_path / "precious.txt"
    _crashed(str(logdir))
    outside.write_bytes(b"keep me")
    planted = logdir / f".mxnet_tb-purge-{os.getpid()}.tmp"
    os.symlink(outside, planted)
    with SummaryWriter(str(logdir), purge_step=5):
        pass
    assert outside.read_bytes() == b"keep me"
    assert os.path.islink(planted)  # not ours: left as it is
    for path in event_files(logdir):
        assert not os.path.islink(path) and os.path.isfile(path)
    assert _event_steps(logdir) == [0, 1, 2, 3, 4]
    assert [name for name in os.listdir(logdir) if name.endswith(".tmp") and name != planted.name] == []


def test_an_event_file_that_is_a_symlink_is_left_with_a_warning(tmp_path):
    logdir, outside = tmp_path / "run", tmp_path / "outside"
    _crashed(str(outside))
    (target,) = event_files(outside)
    before = Path(target).read_bytes()
    logdir.mkdir()
    os.symlink(target, logdir / "events.out.tfevents.0000000001.planted")
    with pytest.warns(ForeignFileWarning, match="planted"), SummaryWriter(str(logdir), purge_step=5) as sw:
        sw.add_scalar("loss", 1.0, global_step=5)
    assert Path(target).read_bytes() == before  # the file behind the link is untouched
    assert os.path.islink(logdir / "events.out.tfevents.0000000001.planted")


def test_a_fifo_named_like_an_event_file_does_not_hang_the_writer(tmp_path):
    logdir = tmp_path / "run"
    _crashed(str(logdir))
    os.mkfifo(logdir / "events.out.tfevents.fifo")
    script = textwrap.dedent(
        f"""
        import warnings
        from mxnet_tb import SummaryWriter
        from mxnet_tb.errors import ForeignFileWarning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with SummaryWriter({str(logdir)!r}, purge_step=5) as sw:
                sw.add_scalar("loss", 50.0, global_step=5)
        assert any(issubclass(w.category, ForeignFileWarning) for w in caught), caught
        """
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _event_steps(logdir) == [0, 1, 2, 3, 4, 5]


def test_a_directory_named_like_an_event_file_is_skipped(tmp_path):
    logdir = tmp_path / "run"
    _crashed(str(logdir))
    (logdir / "x.tfevents").mkdir()
    with pytest.warns(ForeignFileWarning, match="x.tfevents"), SummaryWriter(str(logdir), purge_step=5) as sw:
        sw.add_scalar("loss", 50.0, global_step=5)
    assert _event_steps(logdir) == [0, 1, 2, 3, 4, 5]  # TensorBoard's own loader trips over the directory
    assert (logdir / "x.tfevents").is_dir()


@pytest.mark.parametrize(
    "content",
    [frame(b"\xff\xff\xff\xff"), frame(b"\x08\x01")[:-1] + b"\x00" + frame(b"x")],
    ids=["not-an-event", "bad-crc"],
)
def test_a_corrupt_event_file_in_a_sub_run_does_not_stop_validation_logging(tmp_path, content):
    logdir = tmp_path / "run"
    _crashed(str(logdir / "val"))
    corrupt = logdir / "val" / "events.out.tfevents.0000000002.corrupt"
    corrupt.write_bytes(content)
    with pytest.warns(ForeignFileWarning, match="corrupt"), SummaryWriter(str(logdir), purge_step=5) as sw:
        sw.add_scalar("loss", 1.0, global_step=5)
        sw.run("val").add_scalar("loss", 50.0, global_step=5)  # what tb.validation(layout='runs') does
    assert corrupt.read_bytes() == content  # left for whoever wrote it
    files = [f for f in event_files(logdir / "val") if f != str(corrupt)]
    steps = sorted(e.step for f in files for e in load_events(f) if e.HasField("summary"))
    assert steps == [0, 1, 2, 3, 4, 5]


def test_auto_stepped_tags_continue_at_the_purge_step(tmp_path):
    logdir = str(tmp_path / "run")
    sw = SummaryWriter(logdir)
    for value in range(10):
        sw.add_scalar("loss", float(value))  # steps 0..9
    sw.close()
    with SummaryWriter(logdir, purge_step=6) as sw:
        sw.add_scalar("loss", 60.0)
        sw.add_scalar("loss", 70.0)
    assert scalars(logdir, "loss") == [(s, float(s)) for s in range(6)] + [(6, 60.0), (7, 70.0)]


def test_the_rewritten_file_keeps_the_original_permissions(tmp_path):
    logdir = tmp_path / "run"
    _crashed(str(logdir))
    (path,) = event_files(logdir)
    os.chmod(path, 0o640)
    with SummaryWriter(str(logdir), purge_step=5):
        pass
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert _event_steps(logdir) == [0, 1, 2, 3, 4]
