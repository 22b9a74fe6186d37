import struct
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

from mxnet_tb import SummaryWriter
from mxnet_tb._io.record import frame, masked_crc32c

from .readback import event_files, load_events


def test_masked_crc_matches_tensorboards_reference_implementation():
    for data in (b"", b"a", b"123456789", bytes(range(256)) * 3):
        assert masked_crc32c(data) == pywrap_tensorflow.masked_crc32c(data)


def test_frame_layout_is_length_crc_payload_crc():
    payload = b"hello event"
    record = frame(payload)
    assert len(record) == 8 + 4 + len(payload) + 4
    assert struct.unpack("<Q", record[:8])[0] == len(payload)
    assert struct.unpack("<I", record[8:12])[0] == masked_crc32c(record[:8])
    assert record[12:-4] == payload
    assert struct.unpack("<I", record[-4:])[0] == masked_crc32c(payload)


def test_first_record_is_file_version(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_scalar("x", 1.0)
    first = load_events(event_files(logdir)[0])[0]
    assert first.file_version == "brain.Event:2"
    assert first.wall_time > 0


def _write_steps(logdir, n):
    with SummaryWriter(logdir) as sw:
        for step in range(n):
            sw.add_scalar("x", float(step), global_step=step)
    (path,) = event_files(logdir)
    return path


def test_truncated_last_record_still_reads_all_earlier_records(logdir):
    path = _write_steps(logdir, 10)
    data = Path(path).read_bytes()
    for cut in (1, 3, 5, 9, 17):  # inside the payload CRC, the payload, the header
        with open(path, "wb") as f:
            f.write(data[:-cut])
        steps = [e.step for e in load_events(path) if e.HasField("summary")]
        assert steps == list(range(9))


def test_flipped_byte_in_the_middle_is_detected_by_crc(logdir):
    path = _write_steps(logdir, 10)
    data = bytearray(Path(path).read_bytes())
    records = []
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        records.append((offset, length))
        offset += 16 + length
    mid_offset, _ = records[5]
    data[mid_offset + 12 + 2] ^= 0x40  # a payload byte of the fifth scalar event
    with open(path, "wb") as f:
        f.write(data)
    reader = pywrap_tensorflow.PyRecordReader_New(path)
    with pytest.raises(errors.DataLossError, match="crc32"):
        for _ in range(len(records)):
            reader.GetNext()
            event_pb2.Event.FromString(reader.record())
    steps = [e.step for e in load_events(path) if e.HasField("summary")]
    assert steps == [0, 1, 2, 3]
