"""Root finders for the implicit solvers: `VeryChord` (the default) and optimistix's.

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


class _UseStepSizeTolerance:
    """The value of a root finder's ``rtol``/``atol``/``norm`` that means "take the step-size
    controller's". An object, not None: ``eqx.tree_at`` can then replace it like any leaf."""

    def __repr__(self) -> str:
        return "<taken from `diffeqsolve(..., stepsize_controller=...)`>"


use_stepsize_tol = _UseStepSizeTolerance()


def _is_unset(value: Any) -> bool:
    return value is None or value is use_stepsize_tol


class VeryChord(eqx.Module):
    """Chord root finder with a rate-based convergence test (see the module docstring).

    "Very" chord because the iteration matrix is factorised once per *step*, at
    ``(t0, y0)``, and shared by every stage, not once per root find. This is diffrax's
    default for its implicit solvers, under the same name.

    **Arguments:**

    - `rtol`, `atol`: tolerances of the error norm, ``norm(dw / (atol + rtol * |y0|))``. Left
      unset they are filled by `bind_tolerances` from the step-size controller (what
      `diffeqsolve` does with a `PIDController`); with a constant step size they must be
      given.
    - `norm`: the norm of the scaled update (default root mean square, as the step-size
      controller's). Any function of a flat array to a scalar, e.g. ``optimistix.max_norm``.
    - `kappa`: stop when the estimated remaining error is below ``kappa`` (in units of the
      tolerance). Hairer & Wanner recommend 0.01 to 0.1.
    - `max_steps`: the most iterations per stage before the step is rejected (default: the
      solver's ``root_find_max_steps``, 10).
    """

    rtol: Any = use_stepsize_tol
    atol: Any = use_stepsize_tol
    norm: Callable[[Array], Array] = rms_norm
    kappa: Any = 1e-2
    max_steps: int | None = eqx.field(static=True, default=None)

    def __check_init__(self) -> None:
        if self.max_steps is not None and (
            not isinstance(self.max_steps, int) or self.max_steps < 1
        ):
            raise ValueError(
                f"`VeryChord(max_steps=...)` must be a positive int, got {self.max_steps!r}."
            )
        if not (self.norm is use_stepsize_tol or callable(self.norm)):
            raise TypeError("`VeryChord(norm=...)` must be a function of an array to a scalar.")

    def bind_tolerances(self, rtol: Any, atol: Any) -> "VeryChord":
        """A copy with ``rtol``/``atol`` filled in where this one left them unset."""
        return bind_tolerances(self, rtol, atol)

    def tolerances(self) -> tuple[Any, Any]:
        """``(rtol, atol)``, raising a clear error (at trace time) when either is unset."""
        if _is_unset(self.rtol) or _is_unset(self.atol):
            raise ValueError(
                "The implicit solver's Newton tolerances are unset: with a step-size controller "
                "that has no tolerances (e.g. `ConstantStepSize`), pass them explicitly, e.g. "
                "`Kvaerno5(root_finder=VeryChord(rtol=1e-8, atol=1e-8))`."
            )
        return self.rtol, self.atol

    def solve(
        self,
        residual: Callable[[Array], Array],
        initial_guess: Array,
        chord_solve: Callable[[Array], Array],
        reference: Array,
        skip: Array | bool = False,
        default_max_steps: int = 10,
    ) -> tuple[Array, Array, Array]:
        """Find ``w`` with ``residual(w) = 0``.

        **Arguments:**

        - `residual`: ``F``, a function of a flat vector to a flat vector of the same shape.
        - `initial_guess`: the starting ``w``.
        - `chord_solve`: ``r -> M^{-1} r`` with ``M`` an approximation of ``dF/dw`` (the
          factorised iteration matrix).
        - `reference`: values whose magnitude scales the relative tolerance (the state ``y0``).
        - `skip`: when True, return the guess at once (an earlier stage already failed).
        - `default_max_steps`: the iteration budget when ``max_steps`` is unset.

        **Returns:** ``(w, result, num_iterations)``; ``result`` is `RESULTS.successful` or
        `RESULTS.implicit_nonconvergence`.
        """
        rtol, atol = self.tolerances()
        norm_fn = rms_norm if self.norm is use_stepsize_tol else self.norm
        dtype = initial_guess.dtype
        scale = jnp.asarray(atol, dtype) + jnp.asarray(rtol, dtype) * jnp.abs(reference)
        kappa = jnp.asarray(self.kappa, dtype)
        max_steps = default_max_steps if self.max_steps is None else self.max_steps

        def chord(function: Callable[[Array], Array], guess: Array):
            def keep_going(carry):
                _, _, converged, failed, k = carry
                return ~converged & ~failed & (k < max_steps)

            def iterate(carry):
                w, previous_norm, _, _, k = carry
                update = -chord_solve(function(w))
                w = w + update
                norm = jnp.asarray(norm_fn(update / scale), dtype)
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


Newton = VeryChord
"""The older jaxlint name of `VeryChord` (the same class, kept so existing code runs). It is
a chord method: the Jacobian is not re-evaluated per iteration. For a true Newton method pass
``optimistix.Newton(rtol, atol)``."""


def bind_tolerances(root_finder: Any, rtol: Any, atol: Any) -> Any:
    """``root_finder`` with its unset ``rtol``/``atol`` (None or `use_stepsize_tol`) and an
    unset ``norm`` taken from the step-size controller. Works for `VeryChord` and for any
    optimistix root finder with those fields."""
    fields = [("rtol", rtol), ("atol", atol), ("norm", None)]
    names, values = [], []
    for name, value in fields:
        if not hasattr(root_finder, name):
            continue
        current = getattr(root_finder, name)
        if name == "norm":
            if current is use_stepsize_tol:
                names.append(name)
                values.append(rms_norm)
        elif _is_unset(current) and value is not None:
            names.append(name)
            values.append(value)
    if not names:
        return root_finder
    return eqx.tree_at(
        lambda rf: tuple(getattr(rf, name) for name in names),
        root_finder,
        tuple(values),
        is_leaf=lambda x: x is None,
    )


def with_stepsize_controller_tols(cls: type) -> Callable[..., Any]:
    """``with_stepsize_controller_tols(optimistix.Chord)()``: a root finder of class ``cls``
    whose ``rtol``, ``atol`` and ``norm`` are taken from the step-size controller (as in
    diffrax). ``cls`` is `VeryChord` or an optimistix root finder class."""

    def make(*args: Any, **kwargs: Any) -> Any:
        for name in ("rtol", "atol", "norm"):
            if name in kwargs:
                raise TypeError(
                    f"`with_stepsize_controller_tols({cls.__name__})` takes `{name}` from the "
                    "step-size controller; do not pass it."
                )
        finder = cls(*args, rtol=jnp.inf, atol=jnp.inf, norm=rms_norm, **kwargs)
        return eqx.tree_at(
            lambda rf: (rf.rtol, rf.atol, rf.norm),
            finder,
            (use_stepsize_tol, use_stepsize_tol, use_stepsize_tol),
        )

    return make


def is_very_chord(root_finder: Any) -> bool:
    """Whether ``root_finder`` runs on the per-step chord factorisation (else it is an
    optimistix root finder, called through ``optimistix.root_find``)."""
    return isinstance(root_finder, VeryChord)


def check_root_finder(root_finder: Any, where: str) -> None:
    """A clear error for a root finder the implicit solvers cannot use."""
    if is_very_chord(root_finder):
        return
    module = type(root_finder).__module__ or ""
    if module.split(".")[0] == "optimistix" or _is_optimistix_root_finder(root_finder):
        return
    raise TypeError(
        f"`{where}(root_finder=...)` must be a `VeryChord` or an optimistix root finder "
        f"(e.g. `optimistix.Newton(rtol, atol)`), got {type(root_finder).__name__}."
    )


def _is_optimistix_root_finder(root_finder: Any) -> bool:
    try:
        import optimistix as optx
    except ImportError:
        return False
    return isinstance(root_finder, optx.AbstractRootFinder)


def optimistix_solve(
    root_finder: Any,
    residual: Callable[[Array], Array],
    initial_guess: Array,
    skip: Array | bool,
    max_steps: int,
) -> tuple[Array, Array]:
    """Solve ``residual(w) = 0`` with an optimistix root finder: ``(w, result)``.

    Gradients go through optimistix's implicit adjoint. A failed solve (divergence, too
    many steps, a singular Jacobian) rejects the step like a failed chord iteration."""
    import optimistix as optx

    solution = optx.root_find(
        lambda w, _: residual(w), root_finder, initial_guess, max_steps=max_steps, throw=False
    )
    ok = solution.result == optx.RESULTS.successful
    w = jnp.where(skip, initial_guess, solution.value)
    result = jnp.where(ok | skip, RESULTS.successful, RESULTS.implicit_nonconvergence)
    return w, result.astype(jnp.int32)


__all__ = [
    "VeryChord",
    "Newton",
    "rms_norm",
    "use_stepsize_tol",
    "with_stepsize_controller_tols",
    "bind_tolerances",
]
