"""The parts of ``tb.autolog``: fit instrumentation, the run's record, and the ``mxboard`` stand-in."""
