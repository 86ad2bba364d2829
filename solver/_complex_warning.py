"""The warning for complex numbers in a solve (diffrax 0.7 warns in the same case).

Complex states are supported: explicit stages run in complex arithmetic, implicit stages are
solved for the real and imaginary parts as one real system (so vector fields that are not
holomorphic, using ``conj`` or ``abs``, work too), and the error norm takes ``|.|``. What
needs care is differentiation: JAX's gradients with respect to complex inputs are conjugated
cotangents, a convention users often do not expect. The warning (kept for parity with
diffrax, whose tests and users filter it) is raised once per `diffeqsolve` call (at trace
time under ``jit``) whenever an array-like leaf of ``terms``, ``y0`` or ``args`` is complex.
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Args, PyTree, Y

COMPLEX_WARNING = (
    "Complex dtype in `terms`, `y0` or `args`: the solve runs in complex arithmetic; note "
    "that `jax.grad` with respect to complex inputs returns conjugated cotangents (JAX's "
    "convention). Split into real and imaginary parts if that is not what you want."
)


def warn_if_complex(terms: PyTree, y0: Y, args: Args) -> None:
    """Warn (``UserWarning``, pointing at the caller of `diffeqsolve`) if anything array-like
    among the inputs is complex."""
    leaves = jax.tree_util.tree_leaves((terms, y0, args))
    if any(eqx.is_array_like(x) and jnp.iscomplexobj(x) for x in leaves):
        warnings.warn(COMPLEX_WARNING, UserWarning, stacklevel=3)


__all__ = ["warn_if_complex", "COMPLEX_WARNING"]
