"""The pure log parser of ``mxnet-tb import-log``: older and current MXNet line formats, and the step rules."""

import math

import pytest

from mxnet_tb.cli.logparse import assign_steps, parse_lines

# MXNet 0.9-era Speedometer: one line per metric, each with the speed, metric names prefixed 'Train-'.
OLD_PER_METRIC = [
    "2017-03-01 10:00:01,100 Node[0] Epoch[0] Batch [20]\tSpeed: 1000.50 samples/sec\tTrain-accuracy=0.250000",
    "2017-03-01 10:00:01,100 Node[0] Epoch[0] Batch [20]\tSpeed: 1000.50 samples/sec\tTrain-cross-entropy=2.100000",
    "2017-03-01 10:00:02,100 Node[0] Epoch[0] Batch [40]\tSpeed: 1100.25 samples/sec\tTrain-accuracy=0.500000",
    "2017-03-01 10:00:02,100 Node[0] Epoch[0] Batch [40]\tSpeed: 1100.25 samples/sec\tTrain-cross-entropy=1.500000",
    "2017-03-01 10:00:03,000 Node[0] Epoch[0] Resetting Data Iterator",
    "2017-03-01 10:00:03,000 Node[0] Epoch[0] Time cost=3.500",
    "2017-03-01 10:00:03,000 Node[0] Epoch[0] Train-accuracy=0.550000",
    "2017-03-01 10:00:04,000 Node[0] Epoch[0] Validation-accuracy=0.600000",
    "2017-03-01 10:00:05,000 Node[0] Epoch[1] Batch [20]\tSpeed: 990.00 samples/sec\tTrain-accuracy=0.700000",
    "2017-03-01 10:00:05,000 Node[0] Epoch[1] Batch [20]\tSpeed: 990.00 samples/sec\tTrain-cross-entropy=0.900000",
]

# MXNet 0.11-1.2 Speedometer: all metrics on one line, single batch index; no-metric form 'Iter[...]'.
OLD_ONE_LINE = [
    "INFO:root:Epoch[3] Batch [300]\tSpeed: 1234.56 samples/sec\taccuracy=0.912000\tce=0.310000",
    "INFO:root:Iter[3] Batch [400]\tSpeed: 2000.00 samples/sec",
    "INFO:root:Epoch[3] Train-accuracy=0.920000",
    "INFO:root:Epoch[3] Time cost=12.345",
    "INFO:root:Epoch[3] Validation-accuracy=0.880000",
    "INFO:root:Epoch[3] Validation-ce=0.400000",
]


def test_old_per_metric_speedometer_lines_keep_one_point_per_step():
    log = parse_lines(OLD_PER_METRIC)
    assert (log.lines, log.ignored, log.malformed) == (10, 1, [])  # 'Resetting Data Iterator' carries no number
    steps = assign_steps(log)
    assert steps.batches_per_epoch == 41  # largest Speedometer index 40, plus one
    assert steps.learned
    assert steps.points == {
        "train/samples_per_sec": {20: 1000.5, 40: 1100.25, 61: 990.0},
        "train/accuracy": {20: 0.25, 40: 0.5, 61: 0.7},
        "train/cross-entropy": {20: 2.1, 40: 1.5, 61: 0.9},
        "train/epoch_time": {40: 3.5},
        "train/epoch_accuracy": {40: 0.55},
        "val/accuracy": {40: 0.6},
    }
    assert steps.replaced == 3  # the speed repeated on each metric's line


def test_one_line_speedometer_and_epoch_lines_with_given_batches_per_epoch():
    steps = assign_steps(parse_lines(OLD_ONE_LINE), batches_per_epoch=500)
    assert steps.points == {
        "train/samples_per_sec": {1800: 1234.56, 1900: 2000.0},
        "train/accuracy": {1800: 0.912},
        "train/ce": {1800: 0.31},
        "train/epoch_accuracy": {1999: 0.92},
        "train/epoch_time": {1999: 12.345},
        "val/accuracy": {1999: 0.88},
        "val/ce": {1999: 0.4},
    }
    assert (steps.batches_per_epoch, steps.learned, steps.notes, steps.replaced) == (500, False, [], 0)


def test_range_form_uses_the_end_of_the_range():
    lines = [
        "Epoch[0] Batch [0-100]\tSpeed: 10.00 samples/sec\taccuracy=0.100000",
        "Epoch[0] Batch [100-200]\tSpeed: 20.00 samples/sec\taccuracy=0.200000",
        "Epoch[1] Batch [0-100]\tSpeed: 30.00 samples/sec\taccuracy=0.300000",
    ]
    steps = assign_steps(parse_lines(lines))
    assert steps.batches_per_epoch == 201
    assert steps.points["train/accuracy"] == {100: 0.1, 200: 0.2, 301: 0.3}


def test_monitor_counts_pin_down_batches_per_epoch_and_steps():
    # Monitor(interval=2) on 6 batches per epoch; Speedometer(frequent=2) alone would suggest 5.
    lines = [
        "INFO:root:Batch:       1 fc1_weight                     0.5\t",
        "INFO:root:Batch:       3 fc1_weight                     0.25\t",
        "INFO:root:Epoch[0] Batch [0-2]\tSpeed: 100.00 samples/sec\taccuracy=0.500000",
        "INFO:root:Batch:       5 fc1_weight                     0.125\t",
        "INFO:root:Epoch[0] Batch [2-4]\tSpeed: 100.00 samples/sec\taccuracy=0.750000",
        "INFO:root:Epoch[0] Validation-accuracy=0.800000",
        "INFO:root:Batch:       7 fc1_weight                     nan\t",
        "INFO:root:Batch:       9 fc1_weight                     2.0\t",
        "INFO:root:Epoch[1] Batch [0-2]\tSpeed: 100.00 samples/sec\taccuracy=1.000000",
        "INFO:root:Batch:      11 fc1_weight                     4.0\t",  # batch 10 is in epoch 1: B >= 6
        "INFO:root:Epoch[1] Batch [2-4]\tSpeed: 100.00 samples/sec\taccuracy=0.875000",
    ]
    steps = assign_steps(parse_lines(lines[:-2]))
    assert steps.batches_per_epoch == 5  # the smallest size the first lines allow (batch 6 in epoch 1)
    steps = assign_steps(parse_lines(lines))
    assert steps.batches_per_epoch == 6  # batch 6 in epoch 1 and batch 10 too: exactly 6
    monitor = steps.points["monitor/fc1_weight"]
    assert sorted(monitor) == [0, 2, 4, 6, 8, 10]
    assert [monitor[s] for s in (0, 2, 4, 8, 10)] == [0.5, 0.25, 0.125, 2.0, 4.0]
    assert math.isnan(monitor[6])
    assert steps.points["train/accuracy"] == {2: 0.5, 4: 0.75, 8: 1.0, 10: 0.875}
    assert steps.points["val/accuracy"] == {5: 0.8}


def test_a_monitor_count_that_starts_again_continues_from_its_epoch():
    # A resumed run (fit(begin_epoch=2)) appended to the log: the new Monitor counts from 1 again.
    lines = [
        "Batch:       1 w   1.0",
        "Epoch[0] Batch [3]\tSpeed: 1.00 samples/sec",
        "Batch:       1 w   2.0",
        "Epoch[2] Batch [3]\tSpeed: 1.00 samples/sec",
    ]
    steps = assign_steps(parse_lines(lines))
    assert steps.batches_per_epoch == 4
    assert steps.points["monitor/w"] == {0: 1.0, 8: 2.0}


def test_without_batch_lines_epoch_values_use_the_epoch_number():
    steps = assign_steps(parse_lines(["Epoch[0] Validation-acc=0.5", "Epoch[1] Validation-acc=0.6"]))
    assert steps.batches_per_epoch is None
    assert steps.points == {"val/acc": {0: 0.5, 1: 0.6}}
    assert steps.notes == ["no batch lines: epoch-level values are logged at step = epoch number"]


def test_broken_mxnet_lines_are_counted_and_other_lines_ignored():
    lines = [
        "INFO:root:start with arguments Namespace(batch_size=128, lr=0.1)",
        "INFO:root:Epoch[0] Batch [10]\tSpeed: fast samples/sec",  # not a number
        "INFO:root:Batch:      11 fc1_output                     [0.1 0.2]\t",  # non-scalar statistic
        "INFO:root:Epoch[x] Time cost=1.0",
        "INFO:root:Epoch[0] Batch [10]\tSpeed: 5.00 samples/sec\taccuracy=0.500000",
        "",
    ]
    log = parse_lines(lines)
    assert [number for number, _ in log.malformed] == [2, 3, 4]
    assert log.malformed[0][1] == "INFO:root:Epoch[0] Batch [10]\tSpeed: fast samples/sec"
    assert (log.lines, log.ignored) == (6, 2)
    assert [(r.tag, r.value, r.epoch, r.batch, r.line) for r in log.records] == [
        ("train/samples_per_sec", 5.0, 0, 10, 5),
        ("train/accuracy", 0.5, 0, 10, 5),
    ]


def test_given_batches_per_epoch_too_small_is_noted():
    steps = assign_steps(parse_lines(["Epoch[0] Batch [300]\tSpeed: 1.00 samples/sec"]), batches_per_epoch=100)
    assert steps.notes == ["line 1: batch index 300 of epoch 0 is not below --batches-per-epoch 100"]
    assert steps.points == {"train/samples_per_sec": {300: 1.0}}


def test_bad_batches_per_epoch_is_refused_with_its_value():
    with pytest.raises(ValueError, match="batches_per_epoch must be an int >= 1; got 0"):
        assign_steps(parse_lines([]), batches_per_epoch=0)


# fit.py's first line and a Speedometer(frequent=4) that never prints batch 5 or 6 of 7 (100 examples, batch 16).
FIT_PY_LOG = [
    "2026-12-01 10:00:00,000 Node[0] start with arguments Namespace(aug='crop batch_size=8', batch_size=16, "
    "disp_batches=4, kv_store='device', lr=0.1, model_prefix='model/digits', num_epochs=2, num_examples=100)",
    "2026-12-01 10:00:01,000 Node[0] Epoch[0] Batch [0-4]\tSpeed: 100.00 samples/sec\taccuracy=0.500000",
    "2026-12-01 10:00:02,000 Node[0] Epoch[0] Validation-accuracy=0.750000",
    "2026-12-01 10:00:03,000 Node[0] Epoch[1] Batch [0-4]\tSpeed: 100.00 samples/sec\taccuracy=0.875000",
    "2026-12-01 10:00:04,000 Node[0] Epoch[1] Validation-accuracy=1.000000",
]


def test_fit_py_arguments_line_gives_exact_batches_per_epoch():
    log = parse_lines(FIT_PY_LOG)
    assert log.ignored == 1 and log.malformed == []  # the arguments line is read, not imported
    steps = assign_steps(log)
    assert (steps.batches_per_epoch, steps.source, steps.notes) == (7, "arguments", [])  # ceil(100 / 16)
    assert steps.points["train/accuracy"] == {4: 0.5, 11: 0.875}
    assert steps.points["val/accuracy"] == {6: 0.75, 13: 1.0}


def test_without_arguments_the_size_is_a_guess_and_says_which_option_fixes_it():
    steps = assign_steps(parse_lines(FIT_PY_LOG[1:]))
    assert (steps.batches_per_epoch, steps.source) == (5, "guessed")
    assert steps.notes == [
        "5 batches per epoch is a guess (the largest batch index printed, plus one; too small if the Speedometer "
        "skipped an epoch's last batches): pass --batches-per-epoch B to set it"
    ]


def test_arguments_that_the_batch_lines_contradict_or_a_dist_kvstore_are_not_used():
    wrong = FIT_PY_LOG[0].replace("num_examples=100", "num_examples=40")  # 3 batches, but batch 4 was printed
    steps = assign_steps(parse_lines([wrong, *FIT_PY_LOG[1:]]))
    assert (steps.batches_per_epoch, steps.source) == (5, "guessed")
    assert steps.notes[0] == (
        "line 2: batch index 4 of epoch 0 does not fit the 3 batches per epoch of line 1's num_examples=40, "
        "batch_size=16"
    )
    dist = FIT_PY_LOG[0].replace("kv_store='device'", "kv_store='dist_sync'")
    steps = assign_steps(parse_lines([dist, *FIT_PY_LOG[1:]]))
    assert steps.source == "guessed" and "dist kvstore" in steps.notes[0]


def test_a_tensor_printed_once_per_device_is_one_batch_not_a_restart():
    # Monitor(3) on a module with two CPU contexts: every tensor twice per count (as MXNet 1.9.1 prints it).
    lines = [
        "Batch:       1 fc1_output                     0.25\t",
        "Batch:       1 fc1_output                     0.75\t",
        "Batch:       1 fc1_weight                     0.5\t",
        "Batch:       1 fc1_weight                     0.5\t",
        "Epoch[0] Batch [0-2]\tSpeed: 100.00 samples/sec\taccuracy=0.500000",
        "Batch:       4 fc1_output                     1.25\t",
        "Batch:       4 fc1_output                     1.5\t",
        "Batch:       4 fc1_weight                     0.625\t",
        "Batch:       4 fc1_weight                     0.625\t",
        "Epoch[0] Batch [2-4]\tSpeed: 100.00 samples/sec\taccuracy=0.750000",
        "Epoch[0] Validation-accuracy=0.800000",
    ]
    steps = assign_steps(parse_lines(lines), batches_per_epoch=6)
    assert steps.points["monitor/fc1_output"] == {0: 0.25, 3: 1.25}  # the first device's value
    assert steps.points["monitor/fc1_weight"] == {0: 0.5, 3: 0.625}
    assert (steps.replaced, steps.duplicates) == (0, 4)
    assert steps.notes == [
        "4 monitor values were printed again for the same batch (one line per device); the first of each was kept"
    ]


def test_points_that_cannot_be_written_are_skipped_with_their_line_not_fatal():
    lines = [
        "Epoch[0] Batch [1]\tSpeed: 1.00 samples/sec",
        f"Epoch[{2**62}] Batch [1]\tSpeed: 2.00 samples/sec",
        "Epoch[0] Batch [2]\tSpeed: 3.00 samples/sec\tacc\x07=0.5\tce=0.25",  # a control character in a name
    ]
    steps = assign_steps(parse_lines(lines), batches_per_epoch=4)
    assert steps.points == {"train/samples_per_sec": {1: 1.0, 2: 3.0}, "train/ce": {2: 0.25}}
    assert [number for number, _ in steps.skipped] == [2, 3]
    assert steps.skipped[0][1] == f"step {2**64 + 1} is beyond TensorBoard's int64 steps"
    assert steps.skipped[1][1].startswith("'train/acc\\x07' is not a usable tag: ")
