"""Property-based: whatever a caller passes, only a TypeError/ValueError naming an argument escapes, the writer
stays usable, its files stay readable, and nothing is written outside the log directory."""

import inspect
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mxnet_tb as tb
from mxnet_tb import StepOrderWarning, SummaryWriter

from .readback import load_events

SETTINGS = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "100")),
    deadline=None,
    derandomize="CI" in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)

NASTY_TAGS = [
    "",
    " ",
    "..",
    ".",
    "../../x",
    "/abs",
    "a/../../b",
    "a\\b",
    "nul\x00byte",
    "x" * 5000,
    "\ud800",
    "é/ü",
    "a//b",
]
tags = st.one_of(
    st.sampled_from(NASTY_TAGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
)
steps = st.one_of(
    st.none(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.booleans(),
)
dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_, np.complex64])


@st.composite
def arrays(draw, max_dims=4):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=6))
    return draw(hnp.arrays(dtype, shape))


values = st.one_of(
    arrays(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.text(max_size=5),
    st.none(),
    st.just(np.array([object()], dtype=object)),
    st.just(np.zeros((2**31, 0))),  # huge dims, no elements
    st.lists(st.floats(allow_nan=True), max_size=4),
)


anything = st.one_of(
    st.integers(-3, 3),
    st.floats(),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=3),
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    logdir = root / "logs"
    writer = SummaryWriter(str(logdir), max_queue=16)
    yield root, logdir, writer
    writer.close()


def _attempt(call, *args, **kwargs):
    """Call; only TypeError/ValueError may escape, and their message must name one of the call's arguments."""
    parameters = set(inspect.signature(call).parameters) | set(kwargs)
    names = parameters | {p.split("_")[0] for p in parameters} | {"tag", "value", "step", "run", "name", "bins"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StepOrderWarning)
        try:
            call(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            assert any(name in message for name in names), f"{type(exc).__name__} names no argument: {message}"


def _still_usable(writer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StepOrderWarning)
        writer.add_scalar("still/usable", 1.0)


@SETTINGS
@given(tag=tags, value=values, step=steps)
def test_add_scalar(hostile, tag, value, step):
    writer = hostile[2]
    _attempt(writer.add_scalar, tag, value, step)
    _attempt(writer.add_scalars, tag, {tag if isinstance(tag, str) else "x": value}, step)
    _still_usable(writer)


@SETTINGS
@given(
    tag=tags,
    value=values,
    step=steps,
    bins=st.one_of(st.sampled_from(["default", "auto", "fd", "nope"]), st.integers(-3, 300), arrays(max_dims=2)),
)
def test_add_histogram(hostile, tag, value, step, bins):
    writer = hostile[2]
    _attempt(writer.add_histogram, tag, value, step, bins)
    _still_usable(writer)


@SETTINGS
@given(tag=tags, image=values, step=steps, formats=st.sampled_from(["CHW", "HWC", "HW", "NCHW", "NHWC", "XYZ", 3]))
def test_add_image_and_video(hostile, tag, image, step, formats):
    writer = hostile[2]
    _attempt(writer.add_image, tag, image, step, dataformats=formats)
    _attempt(writer.add_images, tag, image, step, dataformats=formats)
    _attempt(writer.add_video, tag, image, step)
    _still_usable(writer)


@SETTINGS
@given(tag=tags, audio=values, rate=st.one_of(st.integers(-5, 10**6), st.floats(), st.none()), step=steps)
def test_add_audio(hostile, tag, audio, rate, step):
    writer = hostile[2]
    _attempt(writer.add_audio, tag, audio, rate, step)
    _still_usable(writer)


@SETTINGS
@given(tag=tags, labels=values, predictions=values, thresholds=st.one_of(st.integers(-2, 300), st.none()), step=steps)
def test_add_pr_curve(hostile, tag, labels, predictions, thresholds, step):
    writer = hostile[2]
    _attempt(writer.add_pr_curve, tag, labels, predictions, thresholds, step)
    _still_usable(writer)


@SETTINGS
@given(
    tag=tags,
    counts=st.lists(values, min_size=6, max_size=6),
    thresholds=st.one_of(st.none(), st.integers(-2, 9)),
    step=steps,
)
def test_add_pr_curve_raw(hostile, tag, counts, thresholds, step):
    writer = hostile[2]
    _attempt(writer.add_pr_curve_raw, tag, *counts, global_step=step, num_thresholds=thresholds)
    _still_usable(writer)


@SETTINGS
@given(
    tag=tags,
    figures=st.lists(st.one_of(values, st.floats(allow_nan=True, allow_infinity=True)), min_size=5, max_size=5),
    limits=values,
    counts=values,
    step=steps,
)
def test_add_histogram_raw(hostile, tag, figures, limits, counts, step):
    writer = hostile[2]
    _attempt(writer.add_histogram_raw, tag, *figures, limits, counts, global_step=step)
    _still_usable(writer)


@SETTINGS
@given(tag=tags, figure=st.one_of(values, tags), step=steps)
def test_add_figure(hostile, tag, figure, step):
    writer = hostile[2]
    _attempt(writer.add_figure, tag, figure, step)
    _still_usable(writer)


@SETTINGS
@given(chart=st.one_of(st.lists(tags, max_size=4), tags, values), category=tags, title=tags)
def test_add_custom_scalar_charts(hostile, chart, category, title):
    writer = hostile[2]
    _attempt(writer.add_custom_scalars_multilinechart, chart, category, title)
    _attempt(writer.add_custom_scalars_marginchart, chart, category, title)
    _still_usable(writer)


@SETTINGS
@given(
    kwargs=st.dictionaries(
        st.sampled_from(["max_queue", "flush_secs", "filename_suffix", "verbose", "strict", "purge_step", "dist_mode"]),
        st.one_of(anything, tags),
    )
)
def test_init_and_writer_options(hostile, kwargs):
    root = hostile[0]
    _attempt(tb.init, str(root / "logs" / "init"), **kwargs)
    _attempt(SummaryWriter, str(root / "logs" / "direct"), **{k: v for k, v in kwargs.items() if k != "dist_mode"})
    writer = tb.default_writer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StepOrderWarning)
        writer.add_scalar("still/usable", 1.0)


@SETTINGS
@given(tags_=st.one_of(st.lists(tags, max_size=3), tags, anything), step=steps, size=st.one_of(st.integers(), anything))
def test_add_summary_later(hostile, tags_, step, size):
    writer = hostile[2]
    _attempt(writer.add_summary_later, tags_, list, step, size=size)
    _attempt(writer.add_summary_later, ("later",), tags_, step)
    _still_usable(writer)


def test_every_public_add_method_is_driven_here():
    driven = set()
    for name, function in globals().items():
        if name.startswith("test_") and callable(function):
            source = inspect.getsource(function)
            driven |= {m for m in dir(SummaryWriter) if m.startswith("add_") and f"writer.{m}," in source}
    assert driven == {m for m in dir(SummaryWriter) if m.startswith("add_")}


@SETTINGS
@given(tag=tags, embedding=values, labels=st.one_of(st.none(), st.lists(tags, max_size=4), values), step=steps)
def test_add_embedding(hostile, tag, embedding, labels, step):
    writer = hostile[2]
    _attempt(writer.add_embedding, tag, embedding, labels=labels, global_step=step)
    _still_usable(writer)


@SETTINGS
@given(tag=tags, text=st.one_of(st.text(), values), step=steps)
def test_add_text_and_mesh(hostile, tag, text, step):
    writer = hostile[2]
    _attempt(writer.add_text, tag, text, step)
    _attempt(writer.add_mesh, tag, text, global_step=step)
    _still_usable(writer)


@SETTINGS
@given(name=tags, key=tags, value=st.one_of(st.floats(), st.text(max_size=4), st.none(), values))
def test_add_hparams_and_custom_scalars(hostile, name, key, value):
    writer = hostile[2]
    hparams = {key: value} if isinstance(key, str) else {"k": value}
    _attempt(writer.add_hparams, hparams, {"m" if not isinstance(key, str) else key: value}, name=name)
    _attempt(writer.add_custom_scalars, {key: {key: ["Multiline", [key]]}} if isinstance(key, str) else {1: 2})
    _still_usable(writer)


@SETTINGS
@given(net=st.one_of(tags, values))
def test_add_graph(hostile, net):
    writer = hostile[2]
    _attempt(writer.add_graph, net)
    _still_usable(writer)


@SETTINGS
@given(kwargs=st.dictionaries(st.sampled_from(["frequent", "prefix", "auto_reset", "layout", "writer"]), anything))
def test_scalars_factory(kwargs):
    _attempt(tb.scalars, **kwargs)


@SETTINGS
@given(kwargs=st.dictionaries(st.sampled_from(["every", "histograms", "stats", "images", "writer"]), anything))
def test_params_factory(kwargs):
    _attempt(tb.params, **kwargs)


@SETTINGS
@given(kwargs=st.dictionaries(st.sampled_from(["prefix", "writer", "layout"]), anything))
def test_validation_factory(kwargs):
    _attempt(tb.validation, **kwargs)


@SETTINGS
@given(
    kind=st.sampled_from(["GradMonitor", "WeightMonitor", "ActivationMonitor"]),
    kwargs=st.dictionaries(
        st.sampled_from(
            ["interval", "pattern", "stats", "histograms", "writer", "reduce", "on_nonfinite", "global_norm"]
        ),
        anything,
    ),
)
def test_monitors(kind, kwargs):
    _attempt(getattr(tb, kind), **kwargs)


def test_zz_every_file_is_readable_and_inside_the_logdir(hostile):
    root, logdir, writer = hostile
    writer.flush()
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            assert os.path.commonpath([str(logdir), path]) == str(logdir), f"written outside the logdir: {path}"
            found.append(path)
            if name.startswith("events.out.tfevents."):
                events = load_events(path)
                assert events[0].file_version == "brain.Event:2"
    assert any("events.out.tfevents." in path for path in found)
