"""The log directory's record of epoch ends: planted files are never followed or waited on; s3:// keeps it too."""

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from mxnet_tb._training.resume import LEDGER_NAME, EpochLedger


def test_epoch_ends_are_recorded_and_a_resume_cancels_later_ones(tmp_path):
    ledger = EpochLedger(str(tmp_path))
    for epoch, end in ((0, 5), (1, 11), (2, 17)):
        ledger.append({"epoch": epoch, "end_step": end})
    ledger.append({"resume": 1})
    ledger.append({"epoch": 1, "end_step": 11})
    assert ledger.ends() == {0: 5, 1: 11}


def test_a_torn_last_line_stays_on_its_own(tmp_path):
    (tmp_path / LEDGER_NAME).write_text('{"epoch": 0, "end_step": 5}\n{"epoch": 1, "end_')
    ledger = EpochLedger(str(tmp_path))
    ledger.append({"epoch": 1, "end_step": 11})
    assert ledger.ends() == {0: 5, 1: 11}


def _in_child(code, timeout=60):
    """Run ``code`` in a child process with 1 GB of address space, so a hang or a runaway read cannot hurt."""
    script = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n" + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)


def test_a_fifo_planted_as_the_ledger_neither_hangs_reading_nor_writing(tmp_path):
    os.mkfifo(tmp_path / LEDGER_NAME)
    result = _in_child(
        f"""
        from mxnet_tb._training.resume import EpochLedger
        ledger = EpochLedger({str(tmp_path)!r})
        print(ledger.ends())
        ledger.append({{"epoch": 0, "end_step": 5}})
        print("done")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["{}", "done"]
    assert "cannot record epoch ends" in result.stderr  # said once, training goes on


def test_a_ledger_linked_to_dev_zero_is_not_read_or_written_through(tmp_path):
    os.symlink("/dev/zero", tmp_path / LEDGER_NAME)
    result = _in_child(
        f"""
        from mxnet_tb._training.resume import EpochLedger
        ledger = EpochLedger({str(tmp_path)!r})
        print(ledger.ends())
        ledger.append({{"epoch": 0, "end_step": 5}})
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{}"
    assert os.path.islink(tmp_path / LEDGER_NAME)


def test_an_s3_logdir_keeps_its_ledger_in_the_bucket_and_nothing_locally(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"s3://{s3_env.bucket}/{uuid.uuid4().hex}/run"
    ledger = EpochLedger(url)
    ledger.append({"epoch": 0, "end_step": 5})
    ledger.append({"epoch": 1, "end_step": 11})
    assert EpochLedger(url).ends() == {0: 5, 1: 11}
    assert os.listdir(tmp_path) == []  # no local directory named like the URL
    key = url[len(f"s3://{s3_env.bucket}/") :] + "/" + LEDGER_NAME
    body = s3_env.client().get_object(Bucket=s3_env.bucket, Key=key)["Body"].read()
    assert body.count(b"\n") == 2


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8\n", b"[1, 2]\n", b'{"epoch": "x"}\n'])
def test_lines_that_are_not_ours_are_skipped(tmp_path, content):
    (tmp_path / LEDGER_NAME).write_bytes(content + b'{"epoch": 0, "end_step": 5}\n')
    assert EpochLedger(str(tmp_path)).ends() == {0: 5}
