"""Text summaries, stored as TensorBoard 2.x's text plugin reads them: a string tensor with text metadata.

The text is rendered as Markdown in the TEXT tab.

Example::

    >>> text_value("notes", "lr = 0.1").tensor.string_val
    [b'lr = 0.1']
"""

from __future__ import annotations

from typing import Any

from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.text import metadata

__all__ = ["text_value"]


def text_value(tag: str, text: Any) -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` holding ``text`` (a str) under ``tag``."""
    if not isinstance(text, str):
        raise TypeError(f"text for tag {tag!r} must be a str; got {type(text).__name__}: {text!r:.80}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"text for tag {tag!r} is not valid Unicode (lone surrogate?)") from None
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, string_val=[data], tensor_shape=tensor_shape_pb2.TensorShapeProto()
    )
    return summary_pb2.Summary.Value(
        tag=tag, metadata=metadata.create_summary_metadata(display_name=tag, description=""), tensor=tensor
    )
