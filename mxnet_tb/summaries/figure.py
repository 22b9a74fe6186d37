"""Matplotlib figures rendered to RGBA pixels with the Agg renderer (matplotlib is an optional extra).

Example::

    >>> import matplotlib.figure
    >>> figure_to_rgba(matplotlib.figure.Figure(figsize=(2, 1), dpi=50)).shape
    (50, 100, 4)
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["figure_to_rgba"]

INSTALL_HINT = "add_figure needs matplotlib: pip install 'mxnet-tb[figures]' (or pip install matplotlib)"


def figure_to_rgba(figure: Any, close: bool = True) -> np.ndarray:
    """A uint8 ``(H, W, 4)`` rendering of a matplotlib ``Figure``; closed in pyplot afterwards if ``close``."""
    try:
        import matplotlib.figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if not isinstance(figure, matplotlib.figure.Figure):
        raise TypeError(f"figure must be a matplotlib Figure; got {type(figure).__name__}: {figure!r:.80}")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.array(canvas.buffer_rgba(), dtype=np.uint8)  # a copy: the buffer dies with the canvas
    if close and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(figure)
    return pixels
