import pytest

from mxnet_tb import SummaryWriter

from .readback import plugin_name, summary_events, tensors


def test_text_is_stored_for_tensorboards_text_plugin(logdir):
    notes = ["# Run notes\nlr = **0.1**", "ünïcödé ✓", ""]
    with SummaryWriter(logdir) as sw:
        for step, text in enumerate(notes):
            sw.add_text("notes", text, global_step=step)
    assert plugin_name(logdir, "notes") == "text"
    read = tensors(logdir, "notes")
    assert [step for step, _ in read] == [0, 1, 2]
    assert [array.item().decode("utf-8") for _, array in read] == notes
    assert all(array.shape == () for _, array in read)


@pytest.mark.parametrize(
    "text, error", [(b"bytes", TypeError), (3, TypeError), (None, TypeError), ("\udc80", ValueError)]
)
def test_bad_text_raises_naming_the_tag(logdir, text, error):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match="text for tag 'notes'"):
        sw.add_text("notes", text)
    assert summary_events(logdir) == []
