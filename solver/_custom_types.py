"""Type aliases shared by the solver modules.

They document intent in signatures; nothing here is checked at run time. A "PyTree" is any
nesting of tuples, lists, dicts, ``eqx.Module`` s and arrays; states ``y``, arguments ``args``
and vector-field outputs are all PyTrees.
"""

from __future__ import annotations

from typing import Any, Union

import jax
import numpy as np

PyTree = Any
"""Any JAX PyTree (arrays at the leaves)."""

Array = jax.Array

RealScalarLike = Union[float, int, np.floating, np.integer, jax.Array]
"""A real scalar: a Python number or a 0-d array (possibly traced)."""

BoolScalarLike = Union[bool, np.bool_, jax.Array]
IntScalarLike = Union[int, np.integer, jax.Array]

Y = PyTree
"""The state of the ODE: any PyTree of floating arrays."""

VF = PyTree
"""A vector-field evaluation (``term.vf``). For an ``ODETerm`` it has the structure of ``Y``."""

Control = PyTree
"""What a term's vector field is multiplied by over a step; for ODEs, ``t1 - t0``."""

Args = PyTree
"""Static or dynamic extra arguments passed to every vector-field call."""

DenseInfo = dict[str, PyTree]
"""What a solver step returns for dense output: keyword arguments of its
``interpolation_cls`` (besides ``t0``/``t1``). The dict has a fixed set of keys per solver so
that accepted steps can be stored in fixed-size buffers (leading axis ``max_steps``)."""

SolverState = PyTree
"""Whatever a solver carries from one step to the next (e.g. the FSAL derivative), or None."""

ControllerState = PyTree
"""Whatever a step-size controller carries from one step to the next."""

class InvalidArgumentError(ValueError, RuntimeError):
    """A value of an argument to `diffeqsolve` is wrong (e.g. save times outside
    ``[t0, t1]``), found before the solve runs. Both a ``ValueError`` and the
    ``RuntimeError`` diffrax raises (at run time) for the same mistakes."""


__all__ = [
    "InvalidArgumentError",
    "PyTree",
    "Array",
    "RealScalarLike",
    "BoolScalarLike",
    "IntScalarLike",
    "Y",
    "VF",
    "Control",
    "Args",
    "DenseInfo",
    "SolverState",
    "ControllerState",
]
