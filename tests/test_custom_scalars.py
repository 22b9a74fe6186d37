"""add_custom_scalars and its chart helpers: the custom_scalars plugin's Layout proto, merged across calls."""

import pytest
from tensorboard.plugins.custom_scalar import layout_pb2, metadata

from mxnet_tb import SummaryWriter

from .readback import accumulate, summary_events, tensors


def layouts(logdir):
    assert accumulate(logdir).SummaryMetadata(metadata.CONFIG_SUMMARY_TAG).plugin_data.plugin_name == "custom_scalars"
    return [
        (step, layout_pb2.Layout.FromString(data.item())) for step, data in tensors(logdir, metadata.CONFIG_SUMMARY_TAG)
    ]


def test_layout_and_helpers_merge_into_one_dashboard(logdir):
    with SummaryWriter(logdir) as sw:
        sw.add_custom_scalars({"loss": {"both": ["Multiline", ["loss/train", "loss/valid"]]}})
        sw.add_custom_scalars_marginchart(["acc", "acc_lo", "acc_hi"], category="eval", title="acc")
        sw.add_custom_scalars_multilinechart(["loss/.*"], category="loss", title="both")  # replaces "both"
    steps = [step for step, _ in layouts(logdir)]
    assert steps == [0, 1, 2]
    _, last = layouts(logdir)[-1]
    expected = layout_pb2.Layout()
    loss = expected.category.add(title="loss")
    loss.chart.add(title="both").multiline.tag.extend(["loss/.*"])
    margin = expected.category.add(title="eval").chart.add(title="acc").margin
    margin.series.add(value="acc", lower="acc_lo", upper="acc_hi")
    assert last == expected


@pytest.mark.parametrize(
    "layout, error, match",
    [
        ({}, TypeError, "non-empty dict"),
        ({"c": {"t": ["Bars", ["x"]]}}, ValueError, "'Multiline', \\[tags\\]\\] or \\['Margin'"),
        ({"c": {"t": ["Margin", ["a", "b"]]}}, ValueError, "needs \\[value, lower, upper\\]"),
        ({"c": {"t": ["Multiline", "loss"]}}, TypeError, "non-empty list of str"),
        ({"c": {"t": ["Multiline", [3]]}}, TypeError, "tag of chart 't' in category 'c'"),
        ({"": {"t": ["Multiline", ["x"]]}}, TypeError, "category must be a non-empty str"),
    ],
)
def test_bad_layouts_raise_and_log_nothing(logdir, layout, error, match):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=match):
        sw.add_custom_scalars(layout)
    assert summary_events(logdir) == []
