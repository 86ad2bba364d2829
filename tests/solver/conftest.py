"""Solver tests run in double precision (convergence orders and tight tolerances need it).

The context manager keeps x64 local to these modules, so other test folders that count ops
in float32 are unaffected when the whole suite runs in one process.
"""

import jax
import pytest


@pytest.fixture(autouse=True, scope="module")
def _double_precision():
    with jax.enable_x64(True):
        yield
