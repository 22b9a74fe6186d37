"""A real distributed Gluon job (``Trainer(kvstore='dist_sync')``, two workers on two CPU contexts each) under
``tb.gluon.watch``: the per_worker / rank0 rules of the Module API, and each worker's own gradients."""

from pathlib import Path

import numpy as np
import pytest

from . import test_distributed as module_jobs
from .readback import scalars

GLUON_SCRIPT = Path(__file__).with_name("dist_gluon_job.py")
BATCHES = 4
PARAM = "cnn_dense1_weight"


@pytest.fixture
def run_job(monkeypatch):
    monkeypatch.setattr(module_jobs, "SCRIPT", GLUON_SCRIPT)  # the Module job's launcher, this job's script
    return module_jobs._run_job


def _assert_own_gradients(run_dir, record):
    norms = scalars(run_dir, f"grads/norm/{PARAM}")
    assert [s for s, _ in norms] == list(range(BATCHES))
    expected = [np.linalg.norm(record["arrays"][f"{s}/{PARAM}"]) for s in range(BATCHES)]
    assert [v for _, v in norms] == pytest.approx(expected, rel=1e-5)
    assert [s for s, _ in scalars(run_dir, "train/loss")] == list(range(BATCHES))


def test_per_worker_job_logs_one_run_per_worker_with_its_own_gradients(tmp_path, root_port, run_job):
    job = run_job(tmp_path, root_port, {"MXNET_TB_DIST_MODE": "per_worker"})
    assert module_jobs._runs(job.logs) == {"worker-0", "worker-1"}
    for rank in (0, 1):
        _assert_own_gradients(job.logs / f"worker-{rank}", job.records[rank])
    first = [job.records[r]["arrays"][f"0/{PARAM}"] for r in (0, 1)]
    assert not np.allclose(*first)  # different data: the runs really are each worker's own


def test_rank0_job_logs_only_rank_0(tmp_path, root_port, run_job):
    job = run_job(tmp_path, root_port, {"MXNET_TB_DIST_MODE": "rank0"})
    assert module_jobs._runs(job.logs) == {"."}
    _assert_own_gradients(job.logs, job.records[0])
