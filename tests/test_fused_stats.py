"""Fused statistics and histograms of many tensors equal those of each tensor alone (NumPy references)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mxnet_tb._training.fused_stats import fused_histograms, fused_stats, segments
from mxnet_tb._training.stats import STAT_NAMES, host_stats
from mxnet_tb.summaries.histogram import histogram_proto

FLOATS = st.floats(width=32, allow_nan=True, allow_infinity=True)
tensor = st.one_of(
    hnp.arrays(np.float32, st.integers(0, 40), elements=FLOATS),
    hnp.arrays(np.float32, st.integers(1, 40), elements=st.floats(-1e6, 1e6, width=32)),
    hnp.arrays(np.float64, st.integers(0, 10), elements=st.one_of(st.floats(-1e150, 1e150), st.just(np.nan))),
)


def _reference_stats(values):
    if values.size == 0:
        return {stat: (0.0 if stat == "nonfinite" else np.nan) for stat in STAT_NAMES}
    return host_stats(values, STAT_NAMES)


def _check_against_each_alone(tensors):
    flat = np.concatenate(tensors) if tensors else np.zeros(0, np.float32)
    fused = fused_stats(flat, [t.size for t in tensors], STAT_NAMES)
    for i, values in enumerate(tensors):
        finite = values[np.isfinite(values)].astype(np.float64)
        spread = float(np.abs(finite).max()) if finite.size else 0.0  # sums in another order: their error bound
        for stat, expected in _reference_stats(values).items():
            slack = 1e-12 * spread if stat in ("mean", "std") else 1e-300
            assert fused[stat][i] == pytest.approx(expected, rel=1e-9, abs=slack, nan_ok=True), (i, stat)


@settings(max_examples=150, deadline=None)
@given(tensors=st.lists(tensor, max_size=6), dtype=st.sampled_from([np.float32, np.float64]))
def test_every_statistic_of_every_tensor_is_that_tensor_alone(tensors, dtype):
    _check_against_each_alone([t.astype(dtype) for t in tensors])


def test_statistics_on_gradient_like_tensors_of_very_different_scales():
    rng = np.random.default_rng(0)
    tensors = [(rng.standard_normal(n) * scale).astype(np.float32) for n, scale in [(4096, 1e-4), (32, 3.0), (9, 1e8)]]
    tensors[1][[3, 7]] = [np.nan, -np.inf]
    _check_against_each_alone(tensors)


def test_tensors_are_reduced_in_bounded_groups_with_the_same_numbers(monkeypatch):
    import mxnet_tb._training.fused_stats as fused

    rng = np.random.default_rng(1)
    tensors = [rng.standard_normal(n).astype(np.float32) for n in (5, 300, 1, 0, 70, 2000)]
    whole = fused_stats(np.concatenate(tensors), [t.size for t in tensors], STAT_NAMES)
    monkeypatch.setattr(fused, "GROUP_VALUES", 64)
    seg = segments([t.size for t in tensors])
    assert len(seg.groups(64)) > 3
    grouped = fused_stats(np.concatenate(tensors), seg, STAT_NAMES)
    for stat in STAT_NAMES:
        np.testing.assert_allclose(grouped[stat], whole[stat], rtol=1e-12, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(tensors=st.lists(tensor, min_size=1, max_size=5))
def test_histograms_equal_the_default_histogram_of_each_tensors_finite_values(tensors):
    flat = np.concatenate(tensors)
    counted = fused_histograms(flat, [t.size for t in tensors])
    for i, values in enumerate(tensors):
        finite = values[np.isfinite(values)]
        assert counted.num[i] == finite.size
        if not finite.size:
            continue
        proto = histogram_proto(finite)
        limits, counts = counted.buckets(i)
        assert limits.tolist() == list(proto.bucket_limit)
        assert counts.astype(float).tolist() == list(proto.bucket)
        assert (counted.min[i], counted.max[i]) == (proto.min, proto.max)
        magnitude = float(np.abs(finite.astype(np.float64)).sum())  # summation order may differ: its error bound
        assert counted.sum[i] == pytest.approx(proto.sum, rel=1e-9, abs=1e-12 * magnitude + 1e-300)
        assert counted.sum_squares[i] == pytest.approx(proto.sum_squares, rel=1e-9)


def test_bool_and_integer_tensors_are_counted_like_the_histogram_summary():
    tensors = [np.array([True, False, True]), np.array([0, 5, -3, 1000])]
    for values in tensors:
        counted = fused_histograms(values.reshape(-1), [values.size])
        proto = histogram_proto(values)
        assert counted.buckets(0)[1].astype(float).tolist() == list(proto.bucket)


@pytest.mark.parametrize(
    "flat, sizes, message",
    [
        (np.zeros(3), [2], "1-D NumPy array of 2 values"),
        (np.zeros((2, 2)), [4], "1-D NumPy array of 4 values"),
        ([1.0, 2.0], [2], "1-D NumPy array of 2 values"),
        (np.zeros(2), [3, -1], "segment sizes must be >= 0"),
    ],
)
def test_a_flat_array_that_does_not_fit_its_sizes_is_refused(flat, sizes, message):
    with pytest.raises(ValueError, match=message):
        fused_stats(flat, sizes, ("norm",))
    with pytest.raises(ValueError, match=message):
        fused_histograms(flat, sizes)


def test_unknown_statistic_is_refused():
    with pytest.raises(ValueError, match="unknown statistic 'p99'"):
        fused_stats(np.zeros(2), [2], ("p99",))
