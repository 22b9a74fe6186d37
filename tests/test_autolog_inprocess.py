"""``tb.autolog()`` in-process: what it adds to ``fit``, what it leaves alone, and that it undoes itself exactly."""

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest

import mxnet_tb as tb
from tests import mxnet_models, readback


@pytest.fixture
def autolog_off():
    """Whatever a test does, autolog is off again afterwards."""
    yield
    tb.autolog(disable=True)


def only_run(logdir):
    (run,) = (p for p in Path(logdir).iterdir() if p.is_dir())
    return run


def test_disable_puts_back_fit_argparse_and_import_exactly(tmp_path, autolog_off):
    fit = mx.module.BaseModule.__dict__["fit"]
    parse = argparse.ArgumentParser.__dict__["parse_known_args"]
    meta_path = list(sys.meta_path)
    tb.autolog(logdir=str(tmp_path))
    assert mx.module.BaseModule.__dict__["fit"] is not fit
    assert argparse.ArgumentParser.__dict__["parse_known_args"] is not parse
    import mxboard

    assert mxboard.SummaryWriter is tb.SummaryWriter
    from mxboard.writer import SummaryWriter

    assert SummaryWriter is tb.SummaryWriter
    tb.autolog(disable=True)
    assert mx.module.BaseModule.__dict__["fit"] is fit
    assert "fit" not in vars(mx.mod.Module) and "fit" not in vars(mx.mod.BucketingModule)
    assert argparse.ArgumentParser.__dict__["parse_known_args"] is parse
    assert sys.meta_path == meta_path
    assert "mxboard" not in sys.modules and "mxboard.writer" not in sys.modules
    with pytest.raises(ImportError):
        import mxboard
    assert list(tmp_path.iterdir()) == []  # no fit: no run directory, no empty event files


class Recorder:
    def __init__(self):
        self.batches = []

    def __call__(self, param):
        self.batches.append((param.epoch, param.nbatch))


@pytest.mark.parametrize("style", ["none", "single", "list"])
def test_the_scripts_callbacks_still_run_and_ours_follow(tmp_path, autolog_off, style):
    recorder = Recorder()
    given = {"none": None, "single": recorder, "list": [recorder]}[style]
    tb.autolog(logdir=str(tmp_path), grads=False)
    mxnet_models.fit(mxnet_models.module(), num_epoch=1, batch_end_callback=given)
    tb.autolog(disable=True)
    assert recorder.batches == ([] if style == "none" else [(0, b) for b in range(6)])
    run = only_run(tmp_path)
    assert [s for s, _ in readback.scalars(run, "train/accuracy")] == list(range(6))
    assert not any(t.startswith("grads/") for t in readback.accumulate(run).Tags()["tensors"])  # grads=False


class CountingMonitor(mx.mon.Monitor):
    def __init__(self):
        super().__init__(2, pattern="fc1_weight")
        self.printed = 0

    def toc_print(self):
        self.printed += 1
        self.toc()


def test_a_monitor_the_script_passes_is_kept_and_no_grad_monitor_added(tmp_path, autolog_off):
    monitor = CountingMonitor()
    tb.autolog(logdir=str(tmp_path))
    mxnet_models.fit(mxnet_models.module(), num_epoch=1, monitor=monitor)
    tb.autolog(disable=True)
    assert monitor.printed == 6
    tags = readback.accumulate(only_run(tmp_path)).Tags()["tensors"]
    assert "train/accuracy" in tags and not any(t.startswith("grads/") for t in tags)


def test_weights_adds_a_weight_monitor_beside_the_grad_monitor(tmp_path, autolog_off):
    tb.autolog(logdir=str(tmp_path), weights=True, every=3)
    mxnet_models.fit(mxnet_models.module(), num_epoch=1)
    tb.autolog(disable=True)
    run = only_run(tmp_path)
    assert [s for s, _ in readback.scalars(run, "grads/norm/fc1_weight")] == [0]
    assert [s for s, _ in readback.scalars(run, "weights/update_ratio/fc1_weight")] == [0]
    assert [s for s, _ in readback.scalars(run, "train/accuracy")] == [0, 3]  # every=3


def test_only_options_parsed_from_sys_argv_are_the_runs_hparams(tmp_path, autolog_off, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.25", "--layers", "2,3"])
    tb.autolog(logdir=str(tmp_path))
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--layers")
    parser.add_argument("--gpus", default=None)
    parser.parse_args()
    other = argparse.ArgumentParser()
    other.add_argument("--secret", default="library")
    other.parse_args(["--secret", "explicit list"])  # a library's parser: not the run's options
    mxnet_models.fit(mxnet_models.module(), num_epoch=1)
    tb.autolog(disable=True)
    from tensorboard.plugins.hparams import metadata

    acc = readback.accumulate(only_run(tmp_path))
    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    hparams = metadata.parse_session_start_info_plugin_data(content).hparams
    assert set(hparams) == {"lr", "layers", "autolog/command", "autolog/python", "autolog/mxnet", "autolog/mxnet_tb"}
    assert hparams["lr"].number_value == 0.25 and hparams["layers"].string_value == "2,3"
    assert hparams["autolog/command"].string_value == "train.py --lr 0.25 --layers 2,3"
    ((_, table),) = readback.tensors(only_run(tmp_path), "autolog/run")
    assert b"| gpus | `None` |" in table.item() and b"secret" not in table.item()


def test_a_bad_argument_fails_and_leaves_the_current_run_on(tmp_path, autolog_off):
    directory = tb.autolog(logdir=str(tmp_path))
    patched = mx.module.BaseModule.__dict__["fit"]
    with pytest.raises(ValueError, match="every"):
        tb.autolog(every=0)
    with pytest.raises(TypeError, match="grads must be a bool"):
        tb.autolog(grads="yes")
    assert mx.module.BaseModule.__dict__["fit"] is patched
    mxnet_models.fit(mxnet_models.module(), num_epoch=1)
    tb.autolog(disable=True)
    assert str(only_run(tmp_path)) == directory


def test_a_working_mxboard_is_used_and_a_broken_one_replaced(tmp_path):
    for name, body in (("working", "SummaryWriter = 'the real MXBoard'\n"), ("broken", "raise TypeError('protos')\n")):
        (tmp_path / name / "mxboard").mkdir(parents=True)
        (tmp_path / name / "mxboard" / "__init__.py").write_text(body)
    code = (
        "import sys, mxnet_tb as tb; sys.path.insert(0, sys.argv[1]); tb.autolog(logdir=sys.argv[2]); "
        "import mxboard; print(mxboard.SummaryWriter, 'mxnet' in sys.modules)"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / name), str(tmp_path / "runs")],
            capture_output=True, text=True, check=True,
        ).stdout
        for name in ("working", "broken")
    ]  # fmt: skip
    assert outputs == ["the real MXBoard False\n", "<class 'mxnet_tb.writer.SummaryWriter'> False\n"]


class Keyed(mx.io.DataIter):
    """NDArrayIter batches with the bucket key and shapes a BucketingModule reads from each batch."""

    def __init__(self, inner):
        super().__init__(inner.batch_size)
        self.inner = inner

    provide_data = property(lambda self: self.inner.provide_data)
    provide_label = property(lambda self: self.inner.provide_label)

    def reset(self):
        self.inner.reset()

    def next(self):
        batch = self.inner.next()
        batch.bucket_key, batch.provide_data, batch.provide_label = 8, self.provide_data, self.provide_label
        return batch


def bucketing_module():
    return mx.mod.BucketingModule(
        lambda key: (mxnet_models.cnn_symbol(), ("data",), ("softmax_label",)), default_bucket_key=8, context=mx.cpu()
    )


def sequential_module():
    features = mx.sym.Activation(
        mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, name="conv0"), act_type="relu"
    )
    head = mx.sym.SoftmaxOutput(
        mx.sym.FullyConnected(mx.sym.flatten(mx.sym.var("features")), num_hidden=2, name="fc1"), name="softmax"
    )
    sequence = mx.mod.SequentialModule()
    sequence.add(mx.mod.Module(features, label_names=None, context=mx.cpu()))
    sequence.add(mx.mod.Module(head, data_names=("features",), context=mx.cpu()), take_labels=True, auto_wiring=True)
    return sequence


@pytest.mark.parametrize("make", [bucketing_module, sequential_module], ids=["BucketingModule", "SequentialModule"])
def test_bucketing_and_sequential_module_fits_are_instrumented(tmp_path, autolog_off, make):
    tb.autolog(logdir=str(tmp_path))
    train, val = (Keyed(it) for it in mxnet_models.iterators())
    module = make()
    sequential = isinstance(module, mx.mod.SequentialModule)
    with pytest.warns(UserWarning, match="no gradient/weight monitor") if sequential else contextlib.nullcontext():
        module.fit(
            train, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1}, initializer=mx.init.Xavier()
        )
    tb.autolog(disable=True)
    run = only_run(tmp_path)
    assert [s for s, _ in readback.scalars(run, "train/accuracy")] == list(range(12))  # one step per batch
    assert [s for s, _ in readback.scalars(run, "val/accuracy")] == [5, 11]
    assert [s for s, _ in readback.tensors(run, "weights/hist/fc1_weight")] == [5, 11]
    tags = readback.accumulate(run).Tags()["tensors"]
    assert ("grads/norm/fc1_weight" in tags) == (not sequential)


def test_each_worker_of_a_distributed_job_gets_its_own_run(tmp_path, autolog_off, monkeypatch):
    monkeypatch.setenv("DMLC_ROLE", "worker")
    assert tb.autolog(logdir=str(tmp_path)).endswith(f"_{os.getpid()}")
    monkeypatch.delenv("DMLC_ROLE")
    assert not tb.autolog(logdir=str(tmp_path)).endswith(f"_{os.getpid()}")


def test_two_runs_of_one_process_never_share_a_directory(tmp_path, autolog_off):
    runs = [tb.autolog(logdir=str(tmp_path)) for _ in range(3)]  # within one second, none created yet
    assert len(set(runs)) == 3
