import tracemalloc

import mxnet as mx
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mxnet_tb import SummaryWriter
from mxnet_tb.summaries.histogram import DEFAULT_BUCKET_LIMITS, histogram_proto

from .readback import plugin_name, summary_events, tensors


def _reference_default_counts(values):
    """TensorBoard's C++ rule, by search: bucket i holds v with limit[i-1] <= v < limit[i]."""
    index = np.searchsorted(DEFAULT_BUCKET_LIMITS, np.asarray(values, dtype=np.float64).ravel(), side="right")
    return np.bincount(np.minimum(index, len(DEFAULT_BUCKET_LIMITS) - 1), minlength=len(DEFAULT_BUCKET_LIMITS))


def _expand(proto):
    """The proto's buckets as full-length counts over DEFAULT_BUCKET_LIMITS (undoing the collapse of empties)."""
    counts = np.zeros(len(DEFAULT_BUCKET_LIMITS))
    index = np.searchsorted(DEFAULT_BUCKET_LIMITS, list(proto.bucket_limit))
    assert np.array_equal(DEFAULT_BUCKET_LIMITS[index], list(proto.bucket_limit))
    counts[index] = list(proto.bucket)
    return counts


def test_default_bucket_limits_are_tensorboards():
    positive = DEFAULT_BUCKET_LIMITS[DEFAULT_BUCKET_LIMITS > 0]
    assert positive[0] == 1e-12 and positive[-2] < 1e20 <= positive[-2] * 1.1
    assert np.allclose(positive[1:-1] / positive[:-2], 1.1)
    assert np.array_equal(DEFAULT_BUCKET_LIMITS, -DEFAULT_BUCKET_LIMITS[::-1])
    assert len(DEFAULT_BUCKET_LIMITS) == 2 * 774 + 3


def test_default_buckets_match_a_search_on_every_edge_and_random_scales():
    edges = DEFAULT_BUCKET_LIMITS[1:-1]
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, -np.inf),
            rng.standard_normal(100_000) * np.exp(rng.uniform(-60, 60, 100_000)),
            [0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 5e-13, -5e-13, 1e20, -1e20],
        ]
    )
    proto = histogram_proto(values, "default")
    assert np.array_equal(_expand(proto), _reference_default_counts(values))
    assert proto.num == values.size


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint8", "bool"])
def test_default_buckets_for_every_dtype(dtype):
    values = (np.random.default_rng(1).standard_normal(5000) * 50).astype(dtype)
    proto = histogram_proto(values, "default")
    assert np.array_equal(_expand(proto), _reference_default_counts(values.astype(np.float64)))
    as64 = values.astype(np.float64)
    assert (proto.min, proto.max, proto.num) == (as64.min(), as64.max(), values.size)
    assert proto.sum == pytest.approx(as64.sum()) and proto.sum_squares == pytest.approx((as64**2).sum())


def test_empty_runs_collapse_into_one_bucket_like_tensorboard():
    proto = histogram_proto(np.array([-1.0, 1.0]), "default")
    counts = list(proto.bucket)
    assert sum(counts) == 2 and counts.count(0.0) <= 3
    assert all(a < b for a, b in zip(proto.bucket_limit, proto.bucket_limit[1:]))


@pytest.mark.parametrize("bins", [1, 7, 200, "auto", "fd", "sturges", "sqrt", "doane", "scott", "stone", "rice"])
def test_int_and_rule_bins_match_numpy(bins):
    values = np.random.default_rng(2).standard_normal(10_000).astype(np.float32)
    counts, edges = np.histogram(values.astype(np.float64), bins=bins)
    proto = histogram_proto(values, bins)
    assert list(proto.bucket) == counts.tolist()
    assert np.allclose(list(proto.bucket_limit), edges[1:])


def test_constant_input_with_int_bins():
    proto = histogram_proto(np.full(10, 3.0), 4)
    assert sum(proto.bucket) == 10 and proto.min == proto.max == 3.0


def test_explicit_edges_keep_values_outside_them_in_extra_buckets():
    proto = histogram_proto(np.array([-5.0, 0.5, 1.5, 1.7, 9.0]), [0.0, 1.0, 2.0])
    assert list(proto.bucket_limit) == [0.0, 1.0, 2.0, 9.0]
    assert list(proto.bucket) == [1.0, 1.0, 2.0, 1.0]


@pytest.mark.parametrize(
    "bins, message",
    [
        (0, "between 1"),
        ("nope", "must be 'default'"),
        ([1.0], "at least 2"),
        ([2.0, 1.0], "increasing"),
        ([[1.0, 2.0]], "1-D"),
        ([0.0, np.nan], "finite"),
        (object(), "bins"),
    ],
)
def test_bad_bins_raise(bins, message):
    with pytest.raises((TypeError, ValueError), match=message):
        histogram_proto(np.arange(5.0), bins, tag="t")


def test_nonfinite_values_raise_with_counts_and_nothing_is_logged(logdir):
    values = np.array([1.0, np.nan, np.inf, -np.inf, np.nan, 2.0])
    with SummaryWriter(logdir) as sw:
        with pytest.raises(ValueError, match=r"'w'.*2 NaN and 2 Inf of 6"):
            sw.add_histogram("w", values)
        with pytest.raises(ValueError, match="1 NaN"):
            sw.add_histogram("w", mx.nd.array([np.nan, 1.0], dtype="float16"))
    assert summary_events(logdir) == []


@pytest.mark.parametrize("values", [np.array([]), np.zeros((3, 0)), []])
def test_empty_values_raise(logdir, values):
    with SummaryWriter(logdir) as sw, pytest.raises(ValueError, match="empty"):
        sw.add_histogram("w", values)


@pytest.mark.parametrize("values", ["abc", np.array(["a"]), np.array([1j]), {"a": 1}, None])
def test_non_numeric_values_raise_type_error(logdir, values):
    with SummaryWriter(logdir) as sw, pytest.raises(TypeError, match="values for tag 'w'"):
        sw.add_histogram("w", values)


def test_histograms_read_back_through_both_tensorboard_loaders(logdir):
    data = [np.random.default_rng(i).normal(0, 10.0 / (i + 1), size=(10, 3, 8, 8)) for i in range(3)]
    with SummaryWriter(logdir) as sw:
        for i, values in enumerate(data):
            sw.add_histogram("norml_dist", mx.nd.array(values), global_step=i, bins=200)
    assert plugin_name(logdir, "norml_dist") == "histograms"
    read = tensors(logdir, "norml_dist")
    assert [step for step, _ in read] == [0, 1, 2]
    for (_, buckets), values in zip(read, data):
        counts, _edges = np.histogram(values.astype(np.float32).astype(np.float64), bins=200)
        assert buckets[:, 2].tolist() == counts.tolist()
        assert buckets[0, 0] == pytest.approx(values.astype(np.float32).min())
    legacy = EventAccumulator(logdir, size_guidance={"histograms": 0})
    legacy.Reload()
    histo = legacy.Histograms("norml_dist")[2].histogram_value
    assert histo.num == 1920 and histo.min == pytest.approx(data[2].astype(np.float32).min())


def test_large_input_keeps_memory_bounded():
    values = np.random.default_rng(3).standard_normal(3 * 10**7).astype(np.float32)  # 120 MB
    for bins in ("default", "auto", 100):
        tracemalloc.start()
        proto = histogram_proto(values, bins)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert proto.num == values.size and sum(proto.bucket) == values.size
        assert peak < 80 * 2**20, (bins, peak)  # chunks of 1M, never a float64 copy of the whole input (240 MB)
