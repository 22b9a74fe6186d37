"""Shared fixtures."""

import pytest


@pytest.fixture
def logdir(tmp_path):
    return str(tmp_path / "logs")
