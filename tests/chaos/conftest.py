"""The ``chaos`` marker and the run length: ``--chaos-minutes N`` (when this folder is on the
command line, e.g. ``pytest tests/chaos --chaos-minutes 30``) or ``ETCDWIRE_CHAOS_MINUTES``."""

from __future__ import annotations

import os

import pytest

DEFAULT_MINUTES = 1.5
ENV = "ETCDWIRE_CHAOS_MINUTES"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-minutes",
        type=float,
        default=None,
        help=f"how long the chaos workload runs (default {DEFAULT_MINUTES}, or ${ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: faults injected into a real cluster under a mixed workload"
    )


@pytest.fixture
def chaos_minutes(request: pytest.FixtureRequest) -> float:
    given = request.config.getoption("--chaos-minutes", default=None)
    if given is None:
        given = float(os.environ.get(ENV, DEFAULT_MINUTES))
    return float(given)
