"""add_audio, read back with TensorBoard's loader and decoded with Python's wave module."""

import io
import wave

import numpy as np
import pytest
from tensorboard.plugins.audio import metadata

from mxnet_tb import SummaryWriter

from .readback import accumulate, summary_events, tensors


def clips(logdir, tag):
    out = []
    for step, array in tensors(logdir, tag):
        assert array.shape == (1,)  # TensorBoard's loader keeps the clips, dropping the written label column
        with wave.open(io.BytesIO(array[0])) as wav:
            frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, wav.getnchannels())
            out.append((step, wav.getframerate(), wav.getsampwidth(), frames))
    return out


def test_mono_float_audio_is_clipped_16_bit_wav_with_its_rate(logdir):
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -7.0], np.float32)  # MXBoard overflowed on +-3, -7
    with SummaryWriter(logdir) as sw:
        sw.add_audio("voice", samples, sample_rate=16000, global_step=5)
    ((step, rate, width, frames),) = clips(logdir, "voice")
    assert (step, rate, width) == (5, 16000, 2)
    assert frames[:, 0].tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767]
    content = accumulate(logdir).SummaryMetadata("voice").plugin_data
    assert content.plugin_name == "audio"
    assert metadata.parse_plugin_metadata(content.content).encoding == metadata.Encoding.Value("WAV")
    (event,) = summary_events(logdir)  # as written: the plugin's [clips, 2] (clip, label) layout
    assert [d.size for d in event.summary.value[0].tensor.tensor_shape.dim] == [1, 2]


def test_stereo_int16_pcm_is_kept_exactly(logdir):
    pcm = np.array([[1, -1], [300, -300], [32767, -32768]], np.int16)
    with SummaryWriter(logdir) as sw:
        sw.add_audio("stereo", pcm, sample_rate=44100.0)
    ((_, rate, _, frames),) = clips(logdir, "stereo")
    assert rate == 44100 and frames.tolist() == pcm.tolist()


def test_ndarray_audio(logdir):
    mx = pytest.importorskip("mxnet")
    with SummaryWriter(logdir) as sw:
        sw.add_audio("nd", mx.nd.array([0.25, -0.25], dtype="float16"), sample_rate=8000)
    ((_, rate, _, frames),) = clips(logdir, "nd")
    assert rate == 8000 and frames[:, 0].tolist() == [8192, -8192]


@pytest.mark.parametrize(
    "audio, rate, error, match",
    [
        (np.zeros(4, np.int32), 8000, TypeError, r"float16/32/64 .*int16 PCM; got dtype int32 \(shape \(4,\)\)"),
        (np.zeros((2, 44100)), 8000, ValueError, r"44100 channels; expected \(frames, channels\)"),
        (np.zeros((2, 2, 2)), 8000, ValueError, r"\(frames,\) or \(frames, channels\); got shape \(2, 2, 2\)"),
        (np.zeros(0), 8000, ValueError, "empty"),
        (np.array([0.1, np.nan]), 8000, ValueError, "1 NaN or Inf"),
        (np.zeros(4), 0, ValueError, "sample_rate must be a whole number of Hz"),
        (np.zeros(4), 44.1, ValueError, "sample_rate"),
        (np.zeros(4), float("inf"), ValueError, "sample_rate"),
    ],
)
def test_bad_audio_raises_and_logs_nothing(logdir, audio, rate, error, match):
    with SummaryWriter(logdir) as sw, pytest.raises(error, match=match):
        sw.add_audio("bad", audio, sample_rate=rate)
    assert summary_events(logdir) == []
