"""The training doctor's internals: rules (``rules.py``) and what it tells the user (``report.py``)."""
