"""Gluon: an Estimator event handler, a one-call watch for hand-written loops, per-batch metric logging.

Importing this package imports MXNet (``import mxnet_tb`` alone does not).

Estimator::

    >>> est.fit(train_data, val_data=val_data, epochs=5,
    ...         event_handlers=[tb.gluon.EstimatorHandler(every=50)])   # doctest: +SKIP

Hand-written loop::

    >>> handle = tb.gluon.watch(net, trainer, every=100)                # doctest: +SKIP
    >>> ...; trainer.step(batch_size); handle.log_metrics(acc, loss=loss)
"""

from ._estimator import EstimatorHandler
from ._metrics import log_metrics
from ._watch import Watch, watch

__all__ = ["EstimatorHandler", "Watch", "log_metrics", "watch"]
