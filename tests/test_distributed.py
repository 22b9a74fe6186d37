"""Distributed training (MXNet's parameter-server kvstore): who logs, where, and what.

The job tests launch a real local job on loopback -- one scheduler, one server and two workers running
``dist_job.py`` -- and read its logs back. The other tests check role, rank and mode handling in this process.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

import mxnet_tb as tb
from mxnet_tb._training import distributed as _distributed
from mxnet_tb._training.hooks import ExecutorHooks
from mxnet_tb._training.resume import LEDGER_NAME

from . import mxnet_models as models
from .readback import MODEL_CARD_TAGS, accumulate, event_files, load_events, scalars

SCRIPT = Path(__file__).with_name("dist_job.py")
JOB_TIMEOUT = 120  # seconds; the job takes about 6 on two cores
STEPS = 2 * models.SAMPLES // models.BATCH  # 2 epochs of 6 batches
PARAMS = ("conv0_weight", "conv0_bias", "fc1_weight", "fc1_bias")
GRAD_STATS = ("norm", "mean", "std", "max_abs", "nonfinite")
RUN_TAGS = {
    "train/accuracy", "train/samples_per_sec", "train/lr", "val/accuracy", "weights/filters/conv0_weight",
    *(f"grads/{stat}/{p}" for stat in (*GRAD_STATS, "hist") for p in PARAMS),
    *(f"weights/{stat}/{p}" for stat in ("norm", "hist") for p in PARAMS),
    "grads/global_norm",
    *MODEL_CARD_TAGS,
}  # fmt: skip


def _expected_lr(step):
    return 0.1 * 0.5 ** (step // 4)  # FactorScheduler(step=4, factor=0.5) after step + 1 updates


# -- the real job -------------------------------------------------------------------------------------------


def _job_env(port, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMLC_", "PS_", "MXNET_TB_", "DIST_JOB_"))}
    env.pop("MXNET_UPDATE_ON_KVSTORE", None)
    env.update(
        DMLC_PS_ROOT_URI="127.0.0.1",
        DMLC_PS_ROOT_PORT=str(port),
        DMLC_NODE_HOST="127.0.0.1",  # workers and servers bind and announce loopback only
        DMLC_NUM_SERVER="1",
        DMLC_NUM_WORKER="2",
        PS_VERBOSE="0",
        OMP_NUM_THREADS="1",
    )
    env.update(extra)
    return env


def _run_job(tmp_path, port, extra_env, workers_logdir=None):
    """Run scheduler, server and two workers to completion; kill every process group on any failure.

    The workers log to ``tmp_path/logs``, or to ``workers_logdir`` (an ``s3://`` URL, say).
    """
    logs, out = tmp_path / "logs", tmp_path / "out"
    out.mkdir()
    roles = {"scheduler": "scheduler", "server": "server", "worker-a": "worker", "worker-b": "worker"}
    procs, outputs = {}, {}
    try:
        for name, role in roles.items():
            home = tmp_path / name  # each process's own cwd; servers and the scheduler get their own logdir
            home.mkdir()
            env = _job_env(port, extra_env)
            env.update(
                DMLC_ROLE=role,
                MXNET_TB_LOGDIR=str((workers_logdir or logs) if role == "worker" else home / "logs"),
                DIST_JOB_SHARD="0" if name == "worker-a" else "1",
                DIST_JOB_OUT=str(out),
            )
            outputs[name] = open(home / "output.txt", "wb")  # noqa: SIM115 - closed in finally
            procs[name] = subprocess.Popen(
                [sys.executable, str(SCRIPT)],
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=outputs[name],
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        deadline = time.monotonic() + JOB_TIMEOUT
        while any(p.poll() is None for p in procs.values()):
            failed = [n for n, p in procs.items() if p.returncode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        for proc in procs.values():
            if proc.poll() is None:  # not reaped: its pid is still its process group's id
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for handle in outputs.values():
            handle.close()
    codes = {name: proc.returncode for name, proc in procs.items()}
    if any(codes.values()):
        logs_text = "\n".join(
            f"--- {n} (exit {codes[n]}):\n{(tmp_path / n / 'output.txt').read_text()[-3000:]}" for n in procs
        )
        pytest.fail(f"distributed job failed or timed out after {JOB_TIMEOUT}s: {codes}\n{logs_text}")
    records = {}
    for rank in (0, 1):
        records[rank] = json.loads((out / f"worker-{rank}.json").read_text())
        records[rank]["arrays"] = dict(np.load(out / f"worker-{rank}.npz"))
    assert {r["pid"] for r in records.values()} == {procs["worker-a"].pid, procs["worker-b"].pid}
    return types.SimpleNamespace(logs=logs, records=records, procs=procs)


def _runs(logdir):
    """Directories holding event files, relative to logdir (TensorBoard's runs)."""
    return {os.path.relpath(d, logdir) for d, _, files in os.walk(logdir) if any(".tfevents." in f for f in files)}


def _assert_servers_wrote_nothing(tmp_path):
    for name in ("scheduler", "server"):
        home = tmp_path / name
        assert not (home / "logs").exists(), name  # tb.init created no directory either
        assert [p.name for p in home.rglob("*") if ".tfevents." in p.name] == [], name


def _assert_steps_and_no_duplicates(run):
    acc = accumulate(run)
    assert set(acc.Tags()["tensors"]) == RUN_TAGS | {"__run_graph__"}  # tb.params logs the graph once
    for tag in RUN_TAGS:
        steps = [e.step for e in acc.Tensors(tag)]
        if tag in MODEL_CARD_TAGS:  # once, when tb.params first runs
            assert steps == [STEPS // 2 - 1], tag
        elif tag.startswith(("grads/", "train/accuracy", "train/lr")):
            assert steps == list(range(STEPS)), tag
        elif tag == "train/samples_per_sec":  # not at an epoch's first batch
            assert steps == [s for s in range(STEPS) if s % (STEPS // 2)], tag
        else:  # validation and epoch-end values at each epoch's last step
            assert steps == [STEPS // 2 - 1, STEPS - 1], tag
    events = [e for f in event_files(run) for e in load_events(f) if e.HasField("summary")]
    by_tag = {}
    for event in events:
        for value in event.summary.value:
            by_tag.setdefault(value.tag, []).append(event.step)
    assert all(steps == sorted(steps) for steps in by_tag.values())  # monotonic in the file, as written


def _norm(array):
    return float(np.linalg.norm(array.astype(np.float64)))


def _applied_lr(records, step, name="fc1_weight"):
    """The learning rate the job really applied at ``step``: the weight change against the summed gradient."""
    arrays = records[0]["arrays"]
    delta = arrays[f"after/{step}/{name}"] - arrays[f"before/{step}/{name}"]
    summed = sum(r["arrays"][f"grad/{step}/{name}"] for r in records.values()) / (models.BATCH * 2)  # rescale_grad
    return -float(np.vdot(delta, summed) / np.vdot(summed, summed))


def test_per_worker_job_logs_one_run_per_worker_with_its_own_gradients(tmp_path, root_port):
    job = _run_job(tmp_path, root_port, {})  # default mode, default update_on_kvstore=True
    assert sorted(os.listdir(job.logs)) == ["worker-0", "worker-1"]
    assert _runs(job.logs) == {"worker-0", "worker-1"}
    for rank, record in job.records.items():
        run = job.logs / f"worker-{rank}"
        assert (record["num_workers"], record["kvstore"], record["update_on_kvstore"]) == (2, "dist_sync", True)
        assert record["logdir"] == str(run)
        assert record["steps"] == STEPS
        files = event_files(run)  # one event file per worker, named with its host and pid
        assert len(files) == 1 and f".{socket.gethostname()}.{record['pid']}." in os.path.basename(files[0])
        _assert_steps_and_no_duplicates(run)
        arrays = record["arrays"]
        for name in PARAMS:
            logged = [v for _, v in scalars(run, f"grads/norm/{name}")]
            own = [_norm(arrays[f"grad/{s}/{name}"]) for s in range(STEPS)]
            assert logged == pytest.approx(own, rel=1e-5), name  # this worker's own gradients...
            pulled = [_norm(arrays[f"after/{s}/{name}"]) for s in range(STEPS)]
            used = [_norm(arrays[f"before/{s}/{name}"]) for s in range(STEPS)]
            for step in range(STEPS):  # ...not what the gradient arrays hold after update()
                assert logged[step] != pytest.approx(pulled[step], rel=1e-3), (name, step)
                assert logged[step] != pytest.approx(used[step], rel=1e-3), (name, step)
        lr = [v for _, v in scalars(run, "train/lr")]
        assert lr == pytest.approx([_expected_lr(s) for s in range(STEPS)])
    # the servers applied exactly that schedule (the workers' own optimizers never advance)
    assert [_applied_lr(job.records, s) for s in range(STEPS)] == pytest.approx(
        [_expected_lr(s) for s in range(STEPS)], rel=1e-3
    )
    first = [v for _, v in scalars(job.logs / "worker-0", "grads/norm/fc1_weight")]
    second = [v for _, v in scalars(job.logs / "worker-1", "grads/norm/fc1_weight")]
    assert all(a != pytest.approx(b, rel=1e-3) for a, b in zip(first, second))  # different data, no shared run
    _assert_servers_wrote_nothing(tmp_path)


def test_rank0_job_logs_one_run_with_the_summed_gradients(tmp_path, root_port):
    job = _run_job(tmp_path, root_port, {"MXNET_TB_DIST_MODE": "rank0", "MXNET_UPDATE_ON_KVSTORE": "0"})
    assert _runs(job.logs) == {"."}
    listed = sorted(os.listdir(job.logs))
    assert listed == sorted([LEDGER_NAME, *(os.path.basename(f) for f in event_files(job.logs))])  # no worker-<rank>/
    rank0, rank1 = job.records[0], job.records[1]
    assert (rank0["update_on_kvstore"], rank1["update_on_kvstore"]) == (False, False)
    (events,) = event_files(job.logs)
    assert f".{rank0['pid']}." in os.path.basename(events)
    assert rank0["logdir"] == rank1["logdir"] == str(job.logs)
    assert (rank0["clock_step"], rank0["listeners_left"]) == (STEPS - 1, 1)
    assert (rank1["clock_step"], rank1["listeners_left"]) == (-1, 0)  # rank 1 counted nothing, unhooked
    _assert_steps_and_no_duplicates(job.logs)
    for name in PARAMS:
        logged = [v for _, v in scalars(job.logs, f"grads/norm/{name}")]
        summed = [
            _norm(rank0["arrays"][f"grad/{s}/{name}"] + rank1["arrays"][f"grad/{s}/{name}"]) for s in range(STEPS)
        ]
        own = [_norm(rank0["arrays"][f"grad/{s}/{name}"]) for s in range(STEPS)]
        assert logged == pytest.approx(summed, rel=1e-5), name
        assert all(a != pytest.approx(b, rel=1e-3) for a, b in zip(logged, own)), name
    global_norms = [v for _, v in scalars(job.logs, "grads/global_norm")]  # of the job's summed gradients
    squares = [
        sum(_norm(rank0["arrays"][f"grad/{s}/{p}"] + rank1["arrays"][f"grad/{s}/{p}"]) ** 2 for p in PARAMS)
        for s in range(STEPS)
    ]
    assert global_norms == pytest.approx(np.sqrt(squares), rel=1e-5)
    lr = [v for _, v in scalars(job.logs, "train/lr")]
    assert lr == pytest.approx([_expected_lr(s) for s in range(STEPS)])
    assert [_applied_lr(job.records, s) for s in range(STEPS)] == pytest.approx(lr, rel=1e-3)
    _assert_servers_wrote_nothing(tmp_path)


# -- roles, ranks and modes in this process -----------------------------------------------------------------


class DistKVStore:
    """Stands in for a worker's distributed kvstore: what mxnet_tb reads of one."""

    def __init__(self, rank, num_workers=2, type="dist_sync"):
        self.rank, self.num_workers, self.type = rank, num_workers, type


def _worker(dist_env, num_workers=2):
    dist_env.setenv("DMLC_ROLE", "worker")
    dist_env.setenv("DMLC_NUM_WORKER", str(num_workers))


def _batch_end(module=None):
    metric = mx.metric.create("acc")
    return mx.model.BatchEndParam(epoch=0, nbatch=0, eval_metric=metric, locals={"self": module})


@pytest.mark.parametrize("role", ["server", "scheduler"])
def test_servers_and_schedulers_create_no_directory_and_no_file(dist_env, tmp_path, role):
    dist_env.setenv("DMLC_ROLE", role)
    dist_env.chdir(tmp_path)
    for dist_mode in ("per_worker", "rank0"):
        writer = tb.init(logdir=str(tmp_path / "logs"), dist_mode=dist_mode)
        assert tb.default_writer() is writer
        assert writer.get_logdir() == str(tmp_path / "logs")
        writer.add_scalar("x", 1.0, 0)
        writer.add_histogram("h", np.ones(3), 0)
        writer.add_text("t", "text")
        tb.scalars()(_batch_end())
        tb.validation()(_batch_end())
        writer.flush()
        writer.close()
    assert os.listdir(tmp_path) == []


def test_per_worker_mode_waits_for_the_rank_and_logs_to_worker_rank(dist_env, tmp_path):
    _worker(dist_env)
    assert tb.init(logdir=str(tmp_path), flush_secs=5) is None  # the rank comes with the kvstore
    with pytest.raises(tb.RankUnknownError, match=r"rank of this worker .* is not known yet"):
        tb.default_writer()
    assert os.listdir(tmp_path) == []
    _distributed.observe(types.SimpleNamespace(_kvstore=DistKVStore(rank=1)))  # a module whose kvstore exists
    assert (_distributed.rank(), _distributed.num_workers()) == (1, 2)
    writer = tb.default_writer()
    assert writer.get_logdir() == str(tmp_path / "worker-1")
    writer.add_scalar("x", 2.0, 3)
    writer.close()
    assert scalars(tmp_path / "worker-1", "x") == [(3, 2.0)]


def test_the_kvstore_passed_to_init_tells_the_rank_at_once(dist_env, tmp_path):
    _worker(dist_env, num_workers=3)
    writer = tb.init(logdir=str(tmp_path), kvstore=DistKVStore(rank=2, num_workers=3))
    assert writer.get_logdir() == str(tmp_path / "worker-2")
    assert _distributed.num_workers() == 3


def test_a_bucketing_modules_kvstore_is_found(dist_env):
    _worker(dist_env)
    bucketing = types.SimpleNamespace(_curr_module=types.SimpleNamespace(_kvstore=DistKVStore(rank=1)))
    _distributed.observe(bucketing)
    assert _distributed.rank() == 1


def test_local_kvstores_tell_nothing(dist_env):
    _worker(dist_env)
    _distributed.observe(types.SimpleNamespace(_kvstore=DistKVStore(rank=0, num_workers=1, type="local")))
    assert _distributed.rank() is None


def test_a_single_worker_is_rank_0_without_a_kvstore(dist_env, tmp_path):
    _worker(dist_env, num_workers=1)
    assert tb.init(logdir=str(tmp_path)).get_logdir() == str(tmp_path / "worker-0")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_rank0_mode_rank_0_logs_to_the_logdir_itself(dist_env, tmp_path, how):
    _worker(dist_env)
    if how == "environment":
        dist_env.setenv("MXNET_TB_DIST_MODE", "rank0")
    writer = tb.init(logdir=str(tmp_path), dist_mode="rank0" if how == "argument" else None, kvstore=DistKVStore(0))
    assert type(writer) is tb.SummaryWriter
    assert writer.get_logdir() == str(tmp_path)


def test_rank0_mode_other_workers_log_nothing_and_unhook_their_monitors(dist_env, tmp_path):
    _worker(dist_env)
    writer = tb.init(logdir=str(tmp_path / "logs"), dist_mode="rank0", kvstore=DistKVStore(rank=1))
    assert writer.get_logdir() == str(tmp_path / "logs")
    monitors = [tb.GradMonitor(interval=1), tb.WeightMonitor(interval=1), tb.ActivationMonitor(interval=1)]
    mod = models.module()
    train, val = models.iterators()
    mod.bind(train.provide_data, train.provide_label)
    for monitor in monitors:
        mod.install_monitor(monitor)
    models.fit(
        mod,
        train,
        val,
        num_epoch=1,
        batch_end_callback=tb.scalars(),
        eval_end_callback=tb.validation(),
        epoch_end_callback=tb.params(),
    )
    tb.default_writer().add_scalar("x", 1.0)
    tb.default_writer().close()
    assert os.listdir(tmp_path) == []
    (exe,) = mod._exec_group.execs
    assert not hasattr(exe, ExecutorHooks.ATTRIBUTE)  # the monitors gave MXNet its own methods back
    assert {"forward", "backward"}.isdisjoint(vars(exe)) and "update" not in vars(mod)
    assert exe._monitor_callback is None  # ActivationMonitor never slowed a batch down
    assert mod._mxnet_tb_clock.step == -1  # nothing counted batches


def test_rank0_mode_needs_the_rank(dist_env):
    _worker(dist_env)
    tb.init(logdir="unused", dist_mode="rank0")
    with pytest.raises(tb.RankUnknownError, match="'rank0' mode needs it"):
        tb.scalars()(_batch_end())


def test_the_writer_that_writes_nothing_checks_every_call_and_writes_nothing(dist_env, tmp_path):
    dist_env.setenv("DMLC_ROLE", "server")
    writer = tb.init(logdir=str(tmp_path / "logs"))
    assert type(writer) is tb.SummaryWriter  # the same writer, over a sink that writes nothing
    writer.add_scalar("x", 1.0, 0)
    writer.add_scalars("loss", {"train": 1.0, "val": 2.0}, 0)
    writer.run("train").add_scalar("x", 1.0, 0)
    writer.add_image("img", np.zeros((3, 4, 4)), 0)
    writer.add_embedding("emb", np.ones((2, 3)), labels=["a", "b"])
    writer.add_hparams({"lr": 0.1}, {"hp/acc": 0.5}, name="trial")
    writer.add_text("t", "text")
    writer.add_graph(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2))
    for name in [n for n in vars(tb.SummaryWriter) if n.startswith("add_")]:  # validation runs as everywhere
        with pytest.raises(TypeError):
            getattr(writer, name)("tag", object(), bogus=True)
    with pytest.raises(ValueError, match="NaN"):
        writer.add_histogram("h", np.array([np.nan]))
    with writer:
        pass
    assert writer.get_logdir() == str(tmp_path / "logs") and writer.dropped_events == 0
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("setup", "call", "error", "message"),
    [
        ({}, lambda: tb.init(logdir="x", dist_mode="rank1"), ValueError,
         r"dist_mode must be one of \('per_worker', 'rank0'\); got 'rank1'"),
        ({"MXNET_TB_DIST_MODE": "all"}, lambda: tb.init(logdir="x"), ValueError,
         r"\$MXNET_TB_DIST_MODE must be one of .*; got 'all'"),
        ({"DMLC_ROLE": "client"}, lambda: tb.init(logdir="x"), ValueError,
         r"\$DMLC_ROLE must be one of .*got 'client'"),
        ({"DMLC_ROLE": "worker", "DMLC_NUM_WORKER": "two"}, lambda: tb.init(logdir="x"), ValueError,
         r"\$DMLC_NUM_WORKER must be an int >= 1; got 'two'"),
        ({}, lambda: tb.init(logdir="x", kvstore="dist_sync"), TypeError, "kvstore must be an MXNet KVStore; got str"),
        ({"DMLC_ROLE": "worker", "DMLC_NUM_WORKER": "2"}, lambda: tb.init(logdir="x", flush_sec=5), TypeError,
         "flush_sec"),
        ({}, lambda: _distributed.observe(DistKVStore(rank=2, num_workers=2)), ValueError,
         "kvstore 'dist_sync' reports rank 2 of num_workers 2"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_bad_value(dist_env, tmp_path, setup, call, error, message):
    dist_env.chdir(tmp_path)
    for name, value in setup.items():
        dist_env.setenv(name, value)
    with pytest.raises(error, match=message):
        call()
    assert os.listdir(tmp_path) == []
