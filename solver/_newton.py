"""The Newton (chord) root finder used by the implicit solvers.

Every implicit stage of `ImplicitEuler` and the Kvaerno methods solves, for the stage
displacement ``w`` (the stage value minus everything already known)::

    F(w) = w - gamma * increment(t_i, base + w) = 0

where ``increment(t, y) = f(t, y) * dt``. The *chord* method (a simplified Newton method)
iterates ``w <- w - M^{-1} F(w)`` with ``M = I - gamma * d increment/dy`` evaluated once per
step at ``(t0, y0)``, LU-factorised once and reused for every iteration of every stage: one
vector-field evaluation and two triangular solves per iteration instead of a new Jacobian.

Convergence is judged from the observed contraction rate (Hairer & Wanner, *Solving ODEs II*,
section IV.8). With ``theta_k = |dw_k| / |dw_{k-1}|`` the distance to the root after update k
is about ``theta_k / (1 - theta_k) * |dw_k|``; the iteration stops when that is below
``kappa`` in the step controller's error norm (so ``kappa = 0.01`` leaves the Newton error at
1 % of what the controller tolerates). It fails, and the step is rejected with
`RESULTS.implicit_nonconvergence`, when the iteration diverges (``theta >= 1`` from the
third update on), when the rate predicts it cannot converge within ``max_steps``, when
``max_steps`` is reached, or when a value is not finite.

Gradients do not go through the iteration: `jax.lax.custom_root` differentiates the root by
the implicit function theorem, with the exact Jacobian at the root (a dense linear solve),
so reverse mode works although the iteration is a ``while_loop``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Array
from ._results import RESULTS


def rms_norm(x: Array) -> Array:
    """Root mean square of a flat vector (0 for an empty one)."""
    if x.size == 0:
        return jnp.zeros((), x.dtype)
    return jnp.sqrt(jnp.mean(jnp.square(x)))


class Newton(eqx.Module):
    """Chord (quasi-Newton) root finder with a rate-based convergence test.

    **Arguments:**

    - `rtol`, `atol`: tolerances of the error norm, ``|dw_i| / (atol + rtol * |y0_i|)``
      (root mean square). Left as ``None`` they are filled by `bind_tolerances` from the
      step-size controller (what `diffeqsolve` does with a `PIDController`); with a
      constant step size they must be given.
    - `max_steps`: the most iterations per stage before the step is rejected.
    - `kappa`: stop when the estimated remaining error is below ``kappa`` (in units of the
      tolerance). Hairer & Wanner recommend 0.01 to 0.1.
    """

    rtol: Any = None
    atol: Any = None
    max_steps: int = eqx.field(static=True, default=10)
    kappa: Any = 1e-2

    def __check_init__(self) -> None:
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(
                f"`Newton(max_steps=...)` must be a positive int, got {self.max_steps!r}."
            )

    def bind_tolerances(self, rtol: Any, atol: Any) -> "Newton":
        """A copy with ``rtol``/``atol`` filled in where this one left them ``None``."""
        new_rtol = rtol if self.rtol is None else self.rtol
        new_atol = atol if self.atol is None else self.atol
        return Newton(rtol=new_rtol, atol=new_atol, max_steps=self.max_steps, kappa=self.kappa)

    def tolerances(self) -> tuple[Any, Any]:
        """``(rtol, atol)``, raising a clear error (at trace time) when either is unset."""
        if self.rtol is None or self.atol is None:
            raise ValueError(
                "The implicit solver's Newton tolerances are unset: with a step-size controller "
                "that has no tolerances (e.g. `ConstantStepSize`), pass them explicitly, e.g. "
                "`Kvaerno5(root_finder=Newton(rtol=1e-8, atol=1e-8))`."
            )
        return self.rtol, self.atol

    def solve(
        self,
        residual: Callable[[Array], Array],
        initial_guess: Array,
        chord_solve: Callable[[Array], Array],
        reference: Array,
        skip: Array | bool = False,
    ) -> tuple[Array, Array, Array]:
        """Find ``w`` with ``residual(w) = 0``.

        **Arguments:**

        - `residual`: ``F``, a function of a flat vector to a flat vector of the same shape.
        - `initial_guess`: the starting ``w``.
        - `chord_solve`: ``r -> M^{-1} r`` with ``M`` an approximation of ``dF/dw`` (the
          factorised iteration matrix).
        - `reference`: values whose magnitude scales the relative tolerance (the state ``y0``).
        - `skip`: when True, return the guess at once (an earlier stage already failed).

        **Returns:** ``(w, result, num_iterations)``; ``result`` is `RESULTS.successful` or
        `RESULTS.implicit_nonconvergence`.
        """
        rtol, atol = self.tolerances()
        dtype = initial_guess.dtype
        scale = jnp.asarray(atol, dtype) + jnp.asarray(rtol, dtype) * jnp.abs(reference)
        kappa = jnp.asarray(self.kappa, dtype)
        max_steps = self.max_steps

        def chord(function: Callable[[Array], Array], guess: Array):
            def keep_going(carry):
                _, _, converged, failed, k = carry
                return ~converged & ~failed & (k < max_steps)

            def iterate(carry):
                w, previous_norm, _, _, k = carry
                update = -chord_solve(function(w))
                w = w + update
                norm = rms_norm(update / scale)
                # Contraction rate; the first update has none, so it only passes as converged
                # when it is itself within kappa (as if the rate were 1/2).
                rate = norm / jnp.where(k == 0, 1, previous_norm)
                safe_gap = jnp.where(rate < 1, 1 - rate, 1)
                remaining = jnp.where(k == 0, norm, rate / safe_gap * norm)
                converged = (norm == 0) | (((k == 0) | (rate < 1)) & (remaining <= kappa))
                # From the third update on, a rate >= 1 diverges, and a geometric forecast of
                # the remaining error after the iterations left says whether convergence is
                # still possible. The first rate (second update over the correction of the
                # predictor) is too noisy to give up on: on stiff problems it is often >= 1
                # for iterations that then converge quickly.
                iterations_left = max_steps - 1 - k
                # lax.pow takes an integer exponent as is (no int/float promotion, so strict
                # dtype promotion passes).
                forecast = lax.pow(rate, iterations_left + 1) / safe_gap * norm
                hopeless = (k > 1) & ((rate >= 1) | (forecast > kappa))
                failed = ~jnp.isfinite(norm) | (~converged & hopeless)
                return w, norm, converged, failed, k + 1

            init = (
                guess,
                jnp.ones((), dtype),
                jnp.asarray(False),
                jnp.asarray(skip),
                jnp.asarray(0, jnp.int32),
            )
            w, _, converged, _, k = lax.while_loop(keep_going, iterate, init)
            failure = ~converged
            # Auxiliary outputs are floats: `custom_root` gives integer aux outputs integer
            # tangents, which JAX then rejects (it expects float0).
            return w, (failure.astype(dtype), k.astype(dtype))

        def tangent_solve(linear_map: Callable[[Array], Array], rhs: Array) -> Array:
            # The exact derivative of F at the root, as a dense matrix (columns F'(e_i)).
            basis = jnp.eye(rhs.shape[0], dtype=rhs.dtype)
            matrix = jax.vmap(linear_map)(basis).T
            return jnp.linalg.solve(matrix, rhs)

        w, (failure, num_iterations) = lax.custom_root(
            residual, initial_guess, chord, tangent_solve, has_aux=True
        )
        result = jnp.where(failure > 0, RESULTS.implicit_nonconvergence, RESULTS.successful)
        return w, result.astype(jnp.int32), num_iterations.astype(jnp.int32)


__all__ = ["Newton", "rms_norm"]
