import importlib.util
import os
import re

import jax
import pytest

HERE = os.path.dirname(__file__)
PROGRAMS_PATH = os.path.join(HERE, "growth_programs.py")


def load_programs():
    spec = importlib.util.spec_from_file_location("growth_programs", PROGRAMS_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def programs():
    return load_programs()


@pytest.fixture(scope="session")
def marked_lines():
    """`# LINE: name` markers in growth_programs.py -> their line numbers."""
    with open(PROGRAMS_PATH) as handle:
        return {
            match.group(1): number
            for number, text in enumerate(handle, start=1)
            if (match := re.search(r"# LINE: (\w+)", text))
        }


@pytest.fixture(scope="module")
def double_precision():
    """float64 for a module's tests (the residual cases are, like the published table); the
    global flag is left as it was (the case files turn x64 on at import, as user scripts do)."""
    before = jax.config.jax_enable_x64
    with jax.enable_x64(True):
        yield
    jax.config.update("jax_enable_x64", before)
