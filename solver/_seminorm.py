"""`adjoint_rms_seminorm`: a cheaper error norm for the backward solve of `BacksolveAdjoint`.

The backward solve integrates the augmented state ``(y, a_y, a_θ)``: the state itself, its
adjoint ``a_y`` and the parameter adjoint ``a_θ = -∫ a_y ∂f/∂θ dt``. Nothing in the right-hand
side depends on ``a_θ``: it is a pure integral, accumulated but never fed back. So an error in
``a_θ`` made in one step does not grow in later steps, and the step size need not control it;
only ``(y, a_y)`` need to be accurate for ``a_θ`` to be as accurate as the quadrature of the
step allows. Measuring the error of a step on ``(y, a_y)`` only (a *seminorm* of the augmented
state: zero on some non-zero vectors) takes far fewer steps when ``θ`` is large, e.g. a
neural network (Kidger, Chen & Lyons, "Hey, that's not an ODE": faster ODE adjoints via
seminorms, ICML 2021).

Use it as the backward solve's controller norm::

    BacksolveAdjoint(stepsize_controller=PIDController(rtol=..., atol=..., norm=adjoint_rms_seminorm))
"""

from __future__ import annotations

import jax

from ._custom_types import PyTree
from ._step_size_controller import rms_norm


def adjoint_rms_seminorm(x: PyTree) -> jax.Array:
    """The RMS norm of ``(y, a_y)``, ignoring the parameter adjoints.

    ``x`` is the backward solve's augmented state: ``(y, a_y, a_θ)`` here, or diffrax's layout
    ``(y, a_y, a_args, a_terms)``; both start with ``y`` and ``a_y``."""
    if not isinstance(x, tuple) or len(x) not in (3, 4):
        raise ValueError(
            "`adjoint_rms_seminorm` is a norm for `BacksolveAdjoint`'s backward solve, whose "
            f"state is a tuple (y, a_y, parameter adjoints...); got {type(x).__name__}."
        )
    y, a_y = x[0], x[1]
    return rms_norm((y, a_y))


__all__ = ["adjoint_rms_seminorm"]
