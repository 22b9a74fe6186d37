"""Audio summaries: samples in, a WAV clip in an audio-plugin tensor out.

Float samples are clipped to ``[-1, 1]`` (MXBoard's overflowed) and stored as 16-bit PCM; int16 samples are
taken as PCM as they are. Shapes: ``(frames,)`` for mono or ``(frames, channels)`` with up to
``MAX_CHANNELS`` channels. TensorBoard serves the clip as ``audio/wav``.

Example::

    >>> value = audio_value("tone", np.sin(np.linspace(0, 440 * 2 * np.pi, 44100)), 44100)
    >>> value.tensor.tensor_shape.dim[0].size, value.tensor.tensor_shape.dim[1].size
    (1, 2)
"""

from __future__ import annotations

import io
import math
import wave
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.audio import metadata

from .._values.convert import to_float

__all__ = ["MAX_CHANNELS", "audio_value", "encode_wav", "to_pcm16"]

MAX_CHANNELS = 8  # browsers play at most 8 channels; a larger count is a (channels, frames) array by mistake
MAX_SAMPLE_RATE = 2**32 - 1  # the WAV header's field


def to_pcm16(audio: np.ndarray, *, name: str = "audio") -> np.ndarray:
    """``audio`` as int16 ``(frames, channels)``; TypeError/ValueError on a bad dtype, shape or value.

    Dtype, shape and size are checked before anything the size of the clip is allocated.
    """
    _check_shape(audio, name)
    if audio.dtype.kind == "f":
        if not np.all(np.isfinite(audio)):
            bad = int(np.count_nonzero(~np.isfinite(audio)))
            raise ValueError(f"{name} holds {bad} NaN or Inf samples of {audio.size}; samples must be finite")
        work = np.float64 if audio.dtype == np.float64 else np.float32
        scaled = np.clip(audio.astype(work, copy=False), -1.0, 1.0) * work(32767.0)
        pcm = np.rint(scaled).astype(np.int16)
    elif audio.dtype == np.int16:
        pcm = audio
    else:
        raise TypeError(
            f"{name} must be float16/32/64 in [-1, 1] or int16 PCM; got dtype {audio.dtype} (shape {audio.shape})"
        )
    return pcm[:, np.newaxis] if pcm.ndim == 1 else pcm


def _check_shape(audio: np.ndarray, name: str) -> None:
    if audio.dtype.kind != "f" and audio.dtype != np.int16:
        raise TypeError(
            f"{name} must be float16/32/64 in [-1, 1] or int16 PCM; got dtype {audio.dtype} (shape {audio.shape})"
        )
    if audio.ndim not in (1, 2):
        raise ValueError(f"{name} must be (frames,) or (frames, channels); got shape {audio.shape}")
    frames, channels = (audio.shape[0], 1) if audio.ndim == 1 else audio.shape
    if frames == 0 or channels == 0:
        raise ValueError(f"{name} is empty: shape {audio.shape}")
    if channels > MAX_CHANNELS:
        raise ValueError(
            f"{name} of shape {audio.shape} would have {channels} channels; expected (frames, channels) with at "
            f"most {MAX_CHANNELS} channels (transpose a (channels, frames) array)"
        )
    if frames * channels * 2 > 2**32 - 64:
        raise ValueError(f"{name} is too long for a WAV file: {frames:,} frames x {channels} channels")


def check_sample_rate(sample_rate: Any, *, name: str = "sample_rate") -> int:
    """A whole number of samples per second from 1 to 2**32 - 1."""
    rate = to_float(sample_rate, name=name)
    if not (math.isfinite(rate) and rate == int(rate) and 1 <= rate <= MAX_SAMPLE_RATE):
        raise ValueError(f"{name} must be a whole number of Hz from 1 to {MAX_SAMPLE_RATE}; got {sample_rate!r}")
    return int(rate)


def encode_wav(pcm: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of an int16 ``(frames, channels)`` array (Python's ``wave`` writer)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(pcm.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return buffer.getvalue()


def audio_value(tag: str, audio: np.ndarray, sample_rate: Any) -> summary_pb2.Summary.Value:
    """A ``Summary.Value`` holding one WAV clip under ``tag``: the plugin's ``[clips, 2]`` (clip, label) tensor."""
    name = f"audio for tag {tag!r}"
    rate = check_sample_rate(sample_rate)
    wav = encode_wav(to_pcm16(audio, name=name), rate)
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=1), tensor_shape_pb2.TensorShapeProto.Dim(size=2)]
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, string_val=[wav, b""], tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims)
    )
    encoding = metadata.Encoding.Value("WAV")
    summary_metadata = metadata.create_summary_metadata(display_name=tag, description="", encoding=encoding)
    return summary_pb2.Summary.Value(tag=tag, metadata=summary_metadata, tensor=tensor)
