"""mxnet_tb: TensorBoard for Apache MXNet.

Example::

    >>> from mxnet_tb import SummaryWriter
    >>> sw = SummaryWriter(logdir="./logs")        # doctest: +SKIP
    >>> sw.add_scalar("loss", 0.5, global_step=0)  # doctest: +SKIP
    >>> sw.close()                                 # doctest: +SKIP
"""

from ._event_file import EventWriteError, WriterClosedError
from ._version import __version__
from .summaries.image import make_image_grid
from .writer import StepOrderWarning, SummaryWriter

__all__ = [
    "EventWriteError",
    "StepOrderWarning",
    "SummaryWriter",
    "WriterClosedError",
    "__version__",
    "make_image_grid",
]
