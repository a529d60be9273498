"""Settings for the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_compiling_process_for_the_suite():
    """A kernel variant missing from numba's disk cache is compiled by a child process that
    exits COMPILER_IDLE_SECONDS (1 s) after its last compile, so that its memory never adds up
    with a large run's. From a clean checkout the suite compiles a few dozen variants, most of
    them more than a second apart: it keeps the child for its whole session, so that the
    functions every kernel calls are compiled once rather than once a variant."""
    try:
        from optbench import kernels
    except ImportError:  # no numba: nothing is compiled
        yield
        return
    idle = kernels.COMPILER_IDLE_SECONDS
    kernels.COMPILER_IDLE_SECONDS = 3600.0
    try:
        yield
    finally:
        kernels.COMPILER_IDLE_SECONDS = idle
