"""Read event files back with TensorBoard's own loaders, for assertions on exact values."""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

MODEL_CARD_TAGS = {"model_card", "model/parameters", "model/trainable_parameters", "model/macs_per_sample"}


def event_files(logdir: str | os.PathLike[str]) -> list[str]:
    """Event files directly in ``logdir``, oldest name first."""
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(logdir)), "events.out.tfevents.*")))


def load_events(path: str | os.PathLike[str]) -> list[Any]:
    """Every event of one file as written (no read-time migration), through TensorBoard's loader.

    Like every TensorBoard loader, it stops at the first truncated or corrupt record.
    """
    return list(event_file_loader.LegacyEventFileLoader(os.fspath(path)).Load())


def summary_events(logdir: str | os.PathLike[str]) -> list[Any]:
    """Every event with a summary, across all event files of ``logdir``."""
    return [e for f in event_files(logdir) for e in load_events(f) if e.HasField("summary")]


def accumulate(logdir: str | os.PathLike[str]) -> EventAccumulator:
    """TensorBoard's plugin EventAccumulator for one run, loaded, keeping every point."""
    acc = EventAccumulator(os.fspath(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def scalars(logdir: str | os.PathLike[str], tag: str) -> list[tuple[int, float]]:
    """(step, value) of ``tag`` as TensorBoard's scalars plugin sees them."""
    acc = accumulate(logdir)
    assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def tensors(logdir: str | os.PathLike[str], tag: str) -> list[tuple[int, np.ndarray]]:
    acc = accumulate(logdir)
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def plugin_name(logdir: str | os.PathLike[str], tag: str) -> str:
    return accumulate(logdir).SummaryMetadata(tag).plugin_data.plugin_name
