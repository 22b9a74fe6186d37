"""The doctor's rules on hand-made statistics: each threshold, patience, baseline, window and explanation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mxnet_tb._doctor.report import report_markdown
from mxnet_tb._doctor.rules import Diagnosis, Thresholds


def grads(d, step, **norms):
    names = list(norms)
    d.record(
        step,
        "grads",
        names,
        {"norm": np.array([norms[n] for n in names]), "nonfinite": np.zeros(len(names))},
        [100] * len(names),
    )


def counted(verdict):
    return {rule: n for rule, n in verdict.counts.items() if n}


def test_vanishing_needs_rms_below_the_threshold_on_a_weight_and_not_exactly_zero():
    d = Diagnosis(Thresholds())
    grads(d, 0, fc0_weight=0.99e-6, fc1_weight=1.01e-6, fc0_bias=1e-12, fc2_weight=0.0)  # rms = norm / 10
    verdict = d.conclude(0)
    assert counted(verdict) == {"vanishing_gradients": 1}
    assert verdict.alarms[0].tensors == [("grads/fc0_weight", pytest.approx(0.99e-7))]


def test_exploding_compares_with_the_first_nonzero_norm():
    d = Diagnosis(Thresholds(exploding_growth=100.0))
    grads(d, 0, fc_weight=0.0)
    grads(d, 1, fc_weight=2.0)  # the baseline
    grads(d, 2, fc_weight=199.0)
    grads(d, 3, fc_weight=200.0)
    assert [counted(d.conclude(s)) for s in range(4)] == [{}, {}, {}, {"exploding_tensors": 1}]


def test_update_ratio_out_of_band_needs_patience_and_skips_exact_zeros():
    d = Diagnosis(Thresholds(update_ratio_band=(1e-6, 0.5), update_ratio_patience=3))
    results = []
    for step, ratio in enumerate([0.6, 0.7, 0.0, 0.6, 0.7, 0.8, 0.9]):
        d.record(step, "update_ratio", ["fc_weight"], {"update_ratio": np.array([ratio])})
        results.append(counted(d.conclude(step + 1)).get("update_ratio", 0))  # a step's ratio: with the next
    assert results == [0, 0, 0, 0, 0, 1, 1]  # the zero (frozen) restarts the count


def test_tiny_update_ratios_are_explained_by_vanishing_gradients():
    d = Diagnosis(Thresholds(update_ratio_patience=1))
    grads(d, 0, fc_weight=1e-9)
    assert counted(d.conclude(0)) == {"vanishing_gradients": 1}
    d.record(0, "update_ratio", ["fc_weight"], {"update_ratio": np.array([1e-12])})
    grads(d, 1, fc_weight=1e-3)
    verdict = d.conclude(1)
    assert counted(verdict) == {}
    (alarm,) = verdict.alarms
    assert alarm.rule == "update_ratio" and alarm.explained_by == "vanishing_gradients" and verdict.changed
    assert "| update_ratio | explained by vanishing_gradients | 1 |" in report_markdown(d.fired, d.explained)


def test_dead_relu_and_saturation_use_the_role_of_each_output():
    d = Diagnosis(Thresholds(saturation_patience=1))
    names = ["relu0_output", "relu1_output", "sig0_output", "tanh0_output", "fc0_output"]
    stats = {
        "zero_fraction": np.array([0.99, 0.989, 1.0, 1.0, 1.0]),
        "sigmoid_saturation": np.array([0, 0, 0.5, 1.0, 1.0]),
        "tanh_saturation": np.array([0, 0, 1.0, 0.49, 1.0]),
        "nonfinite": np.zeros(5),
    }
    roles = {"relu0_output": "relu", "relu1_output": "relu", "sig0_output": "sigmoid", "tanh0_output": "tanh"}
    d.record(0, "activations", names, stats, roles=roles)
    verdict = d.conclude(0)
    assert counted(verdict) == {"dead_relu": 1, "saturated_activation": 1}
    assert [a.tensors for a in verdict.alarms] == [
        [("activations/relu0_output", 0.99)],
        [("activations/sig0_output", 0.5)],
    ]


def test_nonfinite_counts_nan_entries_and_nan_norms_of_every_kind():
    d = Diagnosis(Thresholds())
    d.record(0, "grads", ["a_weight"], {"norm": np.array([1.0]), "nonfinite": np.array([3.0])}, [10])
    d.record(0, "activations", ["x_output"], {"nonfinite": np.array([0.0])})
    d.record(0, "weights", ["w_weight"], {"norm": np.array([math.inf])})  # a norm-only batch: Inf or NaN
    verdict = d.conclude(0)
    assert counted(verdict) == {"nonfinite_tensors": 2}
    assert [name for name, _ in verdict.alarms[0].tensors] == ["grads/a_weight", "weights/w_weight"]


def test_a_dead_relu_after_exploding_weights_is_explained_not_counted():
    d = Diagnosis(Thresholds())
    grads(d, 0, fc_weight=1.0)
    d.conclude(0)
    grads(d, 1, fc_weight=1e6)
    d.record(
        1,
        "activations",
        ["relu0_output"],
        {"zero_fraction": np.array([1.0]), "nonfinite": np.zeros(1)},
        roles={"relu0_output": "relu"},
    )
    verdict = d.conclude(1)
    assert counted(verdict) == {"exploding_tensors": 1}
    assert [(a.rule, a.explained_by) for a in verdict.alarms] == [
        ("exploding_tensors", None),
        ("dead_relu", "exploding_tensors"),
    ]


def test_statistics_of_later_steps_wait_for_their_own_conclusion():
    d = Diagnosis(Thresholds())
    grads(d, 5, fc_weight=1e-9)  # recorded before step 0 is concluded (an encoder thread ran ahead)
    grads(d, 0, fc_weight=1.0)
    assert counted(d.conclude(0)) == {}
    assert counted(d.conclude(5)) == {"vanishing_gradients": 1}


def test_loss_not_decreasing_fires_once_two_windows_are_in_and_only_above_the_converged_level():
    d = Diagnosis(Thresholds(loss_window=5))
    flat = [counted(d.loss(step, 2.3)) for step in range(12)]
    assert flat.index({"loss_not_decreasing": 1}) == 9  # first step + 2 * window - 1
    falling = Diagnosis(Thresholds(loss_window=5))
    assert all(not counted(falling.loss(step, 2.3 * 0.9**step)) for step in range(30))
    converged = Diagnosis(Thresholds(loss_window=5))
    values = [2.3] + [0.1] * 30  # fell below 10% of the first loss, then flat: converged, not stalled
    assert all(not counted(converged.loss(step, v)) for step, v in enumerate(values))


def test_a_nan_loss_fires_nonfinite_loss_and_a_stalled_loss_after_another_alert_is_explained():
    d = Diagnosis(Thresholds(loss_window=2))
    assert counted(d.loss(0, math.nan)) == {"nonfinite_loss": 1}
    verdicts = [d.loss(step, 1.0) for step in range(1, 6)]
    assert [counted(v) for v in verdicts] == [{}] * 5
    assert verdicts[-1].alarms[0].explained_by == "nonfinite_loss"


def test_the_default_loss_pattern_takes_training_losses_not_validation_or_accuracy():
    d = Diagnosis(Thresholds())
    taken = [
        "loss",
        "train/loss",
        "train/cross-entropy",
        "train/ce",
        "train/softmax_loss",
        "train/mse",
        "nll-loss",
        "train/softmaxcrossentropyloss",
    ]
    left = ["val/loss", "val/cross-entropy", "train/accuracy", "train/lr", "alerts/nonfinite_loss", "train/balance"]
    assert [t for t in taken if d.is_loss(t)] == taken
    assert [t for t in left if d.is_loss(t)] == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("vanishing_rms", 0.0, ValueError),
        ("exploding_growth", math.inf, ValueError),
        ("update_ratio_band", (1.0,), TypeError),
        ("update_ratio_patience", 0, ValueError),
        ("loss_window", 2.5, ValueError),
        ("weight_pattern", 3, TypeError),
        ("saturated_fraction", 1.5, ValueError),
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(field, value, error):
    with pytest.raises(error, match=field):
        Thresholds(**{field: value})


def test_saturation_needs_its_patience_so_weights_exploding_one_step_later_explain_it():
    d = Diagnosis(Thresholds(saturation_patience=2))
    roles = {"tanh0_output": "tanh"}
    saturated = {"tanh_saturation": np.array([0.9]), "nonfinite": np.zeros(1)}
    grads(d, 0, fc_weight=1.0)
    d.record(
        0, "activations", ["tanh0_output"], {"tanh_saturation": np.array([0.1]), "nonfinite": np.zeros(1)}, roles=roles
    )
    assert counted(d.conclude(0)) == {}
    grads(d, 1, fc_weight=20.0)  # the first update blew the weights up: the units saturate
    d.record(1, "activations", ["tanh0_output"], saturated, roles=roles)
    assert counted(d.conclude(1)) == {}
    grads(d, 2, fc_weight=500.0)  # and now the norm has grown past exploding_growth
    d.record(2, "activations", ["tanh0_output"], saturated, roles=roles)
    verdict = d.conclude(2)
    assert counted(verdict) == {"exploding_tensors": 1}
    assert [(a.rule, a.explained_by) for a in verdict.alarms][-1] == ("saturated_activation", "exploding_tensors")


def test_a_gradient_orders_of_magnitude_below_the_largest_vanishes_though_above_the_absolute_floor():
    d = Diagnosis(Thresholds(vanishing_rms=1e-7, vanishing_ratio=1e-4))
    grads(d, 0, fc0_weight=0.99e-3, fc1_weight=1.0e-2, out_weight=10.0)  # rms 1e-4, 1e-3, 1 (size 100)
    verdict = d.conclude(0)
    assert counted(verdict) == {"vanishing_gradients": 1}
    assert verdict.alarms[0].tensors == [("grads/fc0_weight", pytest.approx(0.99e-4))]
