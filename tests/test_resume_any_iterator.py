"""``fit(begin_epoch=N)`` into the same log directory continues the steps where epoch N began in the earlier
run, whatever the train iterator, and purges what the earlier run logged from there on: real ``fit`` in
subprocesses (``legacy_fit.py``, in the style of MXNet's ``image-classification/common/fit.py``), steps read
back through TensorBoard's Python loader and its Rust data server."""

import json
import os
import subprocess
import sys

import mxnet as mx
import pytest

import mxnet_tb as tb
from mxnet_tb._training.resume import LEDGER_NAME, EpochLedger

from . import mxnet_models as models
from .readback import scalars
from .tb_server import tensorboard_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCHES = 6  # legacy_fit.py's batches per epoch
RUN1_LR, RUN2_LR = 0.1, 0.05  # tells which run logged a point


def _fit(tmp_path, *args, logdir=None, killed=False):
    logdir = logdir or str(tmp_path / "runs" / "exp")
    command = [sys.executable, os.path.join(HERE, "legacy_fit.py"), "--logdir", logdir,
               "--model-prefix", str(tmp_path / "model"), *args]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ROOT}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    if killed:
        assert result.returncode == -9, result.stderr[-3000:]
    else:
        assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def _lr(logdir):
    return [(step, round(value, 6)) for step, value in scalars(logdir, "train/lr")]


def _expected(resume_step, total):
    return [(s, RUN1_LR if s < resume_step else RUN2_LR) for s in range(total)]


@pytest.mark.slow
@pytest.mark.parametrize("iterator", ["synthetic", "resize"])
def test_resuming_from_an_earlier_checkpoint_continues_where_that_epoch_began(tmp_path, iterator):
    logdir = str(tmp_path / "runs" / "exp")
    _fit(tmp_path, "--iter", iterator, "--num-epochs", "4")
    log = _fit(tmp_path, "--iter", iterator, "--num-epochs", "4", "--load-epoch", "2", "--lr", str(RUN2_LR))
    assert _lr(logdir) == _expected(2 * BATCHES, 4 * BATCHES)  # one point per step, the resumed run's from 12
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(4 * BATCHES))
    resumed = [line for line in log.splitlines() if "fit resumed at epoch 2" in line]
    assert len(resumed) == 1 and resumed[0].startswith("WARNING") and "continues at step 12" in resumed[0]
    assert "purged" in resumed[0]


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [False, True], ids=["python-loader", "rust-data-server"])
def test_both_tensorboard_loaders_show_one_point_per_step_after_resuming_earlier(tmp_path, load_fast):
    _fit(tmp_path, "--num-epochs", "4")
    _fit(tmp_path, "--num-epochs", "4", "--load-epoch", "2", "--lr", str(RUN2_LR))
    with tensorboard_server(tmp_path / "runs", load_fast=load_fast) as server:
        lr = server.wait_for("/data/plugin/scalars/scalars", lambda p: len(p) >= 24, run="exp", tag="train/lr")
        assert [(step, round(value, 6)) for _, step, value in lr] == _expected(2 * BATCHES, 4 * BATCHES)


@pytest.mark.slow
def test_a_killed_run_and_two_resumes_keep_one_axis(tmp_path):
    logdir = str(tmp_path / "runs" / "exp")
    _fit(tmp_path, "--num-epochs", "4", "--kill-at", "2:3", killed=True)  # died in epoch 2, checkpoint 2 saved
    _fit(tmp_path, "--num-epochs", "4", "--load-epoch", "2", "--lr", str(RUN2_LR), "--kill-at", "3:1", killed=True)
    _fit(tmp_path, "--num-epochs", "5", "--load-epoch", "3", "--lr", "0.025")
    expected = [(s, RUN1_LR if s < 12 else RUN2_LR if s < 18 else 0.025) for s in range(5 * BATCHES)]
    assert _lr(logdir) == expected
    with tensorboard_server(tmp_path / "runs", load_fast=True) as server:  # the Rust data server reads the files
        lr = server.wait_for("/data/plugin/scalars/scalars", lambda p: len(p) >= 30, run="exp", tag="train/lr")
        assert [(step, round(value, 6)) for _, step, value in lr] == expected
    with open(os.path.join(logdir, LEDGER_NAME)) as handle:
        lines = [json.loads(line) for line in handle]
    assert {"resume": 3, "step": 18} in lines
    assert EpochLedger(logdir).ends() == {0: 5, 1: 11, 2: 17, 3: 23, 4: 29}


@pytest.mark.slow
def test_monitors_continue_the_resumed_steps_too(tmp_path):
    logdir = str(tmp_path / "runs" / "exp")
    _fit(tmp_path, "--num-epochs", "4", "--monitor", "2")
    _fit(tmp_path, "--num-epochs", "4", "--load-epoch", "2", "--monitor", "2", "--lr", str(RUN2_LR))
    assert [s for s, _ in scalars(logdir, "grads/norm/fc1_weight")] == list(range(0, 4 * BATCHES, 2))


@pytest.mark.slow
def test_an_unknown_epoch_start_is_said_once_naming_the_option_that_fixes_it(tmp_path):
    _fit(tmp_path, "--num-epochs", "2", logdir=str(tmp_path / "elsewhere"))  # checkpoints, no log here
    logdir = str(tmp_path / "runs" / "fresh")
    log = _fit(tmp_path, "--num-epochs", "4", "--load-epoch", "2", "--lr", str(RUN2_LR), logdir=logdir)
    said = [line for line in log.splitlines() if "where epoch 2 began is unknown" in line]
    assert len(said) == 1 and said[0].startswith("WARNING")
    assert "batches_per_epoch" in said[0] and "SyntheticDataIter" in said[0]
    assert [s for s, _ in _lr(logdir)] == list(range(2 * BATCHES))  # what it said: steps from 0

    logdir = str(tmp_path / "runs" / "told")
    log = _fit(tmp_path, "--num-epochs", "4", "--load-epoch", "2", "--batches-per-epoch", "6", logdir=logdir)
    assert "is unknown" not in log and "tb.init(batches_per_epoch=6)" in log
    assert [s for s, _ in _lr(logdir)] == list(range(2 * BATCHES, 4 * BATCHES))


def test_the_ledger_skips_a_torn_last_line_and_retires_epochs_after_a_resume(tmp_path):
    ledger = EpochLedger(str(tmp_path))
    for epoch, step in ((0, 9), (1, 19), (2, 29)):
        ledger.append({"epoch": epoch, "end_step": step})
    ledger.append({"resume": 1, "step": 10})
    with open(ledger.path, "a") as handle:
        handle.write('{"epoch": 1, "end_st')  # the process died mid-write
    assert ledger.ends() == {0: 9}
    ledger.append({"epoch": 1, "end_step": 21})  # the next run's line starts a line of its own
    assert ledger.ends() == {0: 9, 1: 21}


class _SizelessIter(mx.io.DataIter):
    """NDArrayIter's batches behind a DataIter that tells no size, like most user iterators."""

    def __init__(self):
        images, labels = models.digits_like()
        self._inner = mx.io.NDArrayIter(images, labels, batch_size=models.BATCH)
        super().__init__(models.BATCH)
        self.provide_data, self.provide_label = self._inner.provide_data, self._inner.provide_label

    def reset(self):
        self._inner.reset()

    def next(self):
        return self._inner.next()


def test_a_resume_in_layout_runs_purges_the_train_and_val_runs_too(tmp_path):
    logdir = str(tmp_path / "exp")
    for begin_epoch, lr in ((0, RUN1_LR), (2, RUN2_LR)):  # a second writer and module: as a new process would
        sw = tb.SummaryWriter(logdir)
        callbacks = {"batch_end_callback": tb.scalars(writer=sw, layout="runs"),
                     "eval_end_callback": tb.validation(writer=sw, layout="runs")}  # fmt: skip
        val = mx.io.NDArrayIter(*models.digits_like(32, seed=1), batch_size=models.BATCH)
        models.fit(models.module(), _SizelessIter(), val, num_epoch=4, begin_epoch=begin_epoch,
                   optimizer_params={"learning_rate": lr}, **callbacks)  # fmt: skip
        sw.close()
    train = [(s, round(v, 6)) for s, v in scalars(os.path.join(logdir, "train"), "lr")]
    assert train == _expected(2 * BATCHES, 4 * BATCHES)
    assert [s for s, _ in scalars(os.path.join(logdir, "val"), "accuracy")] == [5, 11, 17, 23]


def test_a_resumed_last_epoch_is_recorded_again_even_when_it_ends_at_the_same_step(tmp_path):
    logdir = str(tmp_path / "exp")
    for begin_epoch in (0, 3):  # the second run redoes epoch 3 exactly: same epoch, same last step
        with tb.SummaryWriter(logdir) as sw:
            models.fit(models.module(), _SizelessIter(), num_epoch=4, begin_epoch=begin_epoch,
                       batch_end_callback=tb.scalars(writer=sw))  # fmt: skip
    assert EpochLedger(logdir).ends() == {0: 5, 1: 11, 2: 17, 3: 23}
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(4 * BATCHES))


def test_tb_init_checks_the_resume_options_before_changing_anything(tmp_path):
    writer = tb.init(str(tmp_path / "kept"))
    with pytest.raises(ValueError, match="batches_per_epoch"):
        tb.init(str(tmp_path / "other"), batches_per_epoch=0)
    with pytest.raises(ValueError, match="initial_step"):
        tb.init(str(tmp_path / "other"), initial_step=-1)
    assert tb.default_writer() is writer and not os.path.exists(tmp_path / "other")
    writer.close()


def test_initial_step_sets_the_first_step_outright(tmp_path):
    logdir = str(tmp_path / "exp")
    tb.init(logdir, initial_step=100)
    try:
        models.fit(models.module(), _SizelessIter(), num_epoch=1, batch_end_callback=tb.scalars())
    finally:
        tb.default_writer().close()
        tb.init(str(tmp_path / "after"))  # later tests get no initial_step
        tb.default_writer().close()
    assert [s for s, _ in scalars(logdir, "train/accuracy")] == list(range(100, 100 + BATCHES))
