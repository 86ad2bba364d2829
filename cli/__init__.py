"""jaxlint: find the code that makes a JAX program grow with a size that should only change shapes.

The package has three parts, one top-level folder each in the repository:

- :mod:`jaxlint.solver`   an ODE solver engine whose program does not grow with save points;
- :mod:`jaxlint.analyzer` lowers calls at several sizes n and fits how the program grows;
- :mod:`jaxlint.rules`    libcst lint rules for the source patterns behind such growth.

This root module holds only the version and the :func:`case` marker used by
``jaxlint scale file.py`` to find the functions to measure.
"""

from __future__ import annotations

from typing import Callable, TypeVar

__version__ = "0.1.0"

_F = TypeVar("_F", bound=Callable)

CASE_MARKER = "__jaxlint_case__"


def case(fn: _F) -> _F:
    """Mark ``fn(n) -> (callable, args[, kwargs])`` as a scale case.

    ``jaxlint scale file.py`` (without ``::NAME``) runs every function so marked.
    """
    setattr(fn, CASE_MARKER, True)
    return fn


__all__ = ["__version__", "case", "CASE_MARKER"]
