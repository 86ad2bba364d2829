"""Progress meters: report how far a running solve has got (``diffeqsolve(progress_meter=)``).

The loop runs compiled, so a meter cannot print from Python as it goes. Instead it carries a
small state through the loop and reports through host callbacks: ``init()`` before the first
step, ``step(state, progress)`` after every step with ``progress = (t - t0) / (t1 - t0)`` in
``[0, 1]``, ``close(state)`` after the last. The decision to report is taken on the device
(``lax.cond``), so a meter that reports every 2 % makes ~50 host calls, not one per step.

Under ``vmap`` the batch shares one meter: it shows the least advanced solve. Under reverse-mode
differentiation with `RecursiveCheckpointAdjoint`, recomputed steps report again.
`NoProgressMeter` (the default) adds nothing to the program.
"""

from __future__ import annotations

import abc
import itertools
from typing import Any

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import io_callback

from ._custom_types import Array, RealScalarLike


class AbstractProgressMeter(eqx.Module):
    """What `diffeqsolve` calls to report progress (module docstring)."""

    @abc.abstractmethod
    def init(self) -> Any:
        """The meter's state before the first step (a PyTree of arrays, or None)."""

    @abc.abstractmethod
    def step(self, state: Any, progress: RealScalarLike) -> Any:
        """Report ``progress`` in ``[0, 1]`` if due; the new state."""

    @abc.abstractmethod
    def close(self, state: Any) -> None:
        """Report the end of the solve."""


class NoProgressMeter(AbstractProgressMeter):
    """Reports nothing and adds no operations (the default)."""

    def init(self) -> None:
        return None

    def step(self, state: None, progress: RealScalarLike) -> None:
        del state, progress
        return None

    def close(self, state: None) -> None:
        del state


def _unbatched_min(x: Array) -> Array:
    """The least value across a vmapped batch, as one unbatched scalar: the decision to report
    is then one branch for the whole batch (a batched predicate would run both branches)."""
    return -eqxi.unvmap_max(-x)


_PERCENT = jax.ShapeDtypeStruct((), jnp.float32)


def _print_percent(progress: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Print ``progress`` as a percentage and return it shaped like ``last`` (the next report
    depends on the returned value, which keeps the reports in order). Under ``vmap`` the
    arguments may carry a spurious batch axis: the least progress is printed."""
    value = float(np.min(np.asarray(progress)))
    print(f"{100 * value:.2f}%", flush=True)
    return np.full(np.shape(last), value, np.float32)


def _print_end(last: np.ndarray) -> np.ndarray:
    """``100.00%``, unless the last step's report already said so."""
    if float(np.min(np.asarray(last))) < 1:
        print("100.00%", flush=True)
    return np.ones(np.shape(last), np.float32)


class TextProgressMeter(AbstractProgressMeter):
    """Prints the progress as a percentage on its own line: ``0.00%`` at the start, then each
    time it has grown by ``minimum_increase`` (a fraction, 0.02 = every 2 %) since the last
    line, and ``100.00%`` at the end."""

    minimum_increase: float = eqx.field(static=True, default=0.02)

    def init(self) -> Array:
        zero = jnp.zeros((), jnp.float32)
        return io_callback(_print_percent, _PERCENT, zero, zero)

    def step(self, state: Array, progress: RealScalarLike) -> Array:
        progress = _unbatched_min(lax.stop_gradient(jnp.asarray(progress)).astype(jnp.float32))
        last = eqxi.unvmap_max(state)
        # Inside a vmapped loop everything in the body is batched; the decision must not be
        # (a batched `cond` runs both branches). The report is a pure callback: IO effects
        # are not allowed under a vmapped `cond`.
        due = eqxi.nonbatchable(progress >= last + self.minimum_increase)
        report = lambda: jax.pure_callback(
            _print_percent, _PERCENT, progress, last, vmap_method="expand_dims"
        )
        return lax.cond(due, report, lambda: last)

    def close(self, state: Array) -> None:
        io_callback(_print_end, _PERCENT, eqxi.unvmap_max(state))


# tqdm bars live on the host, keyed by an id that the device state carries: each callback
# returns it, so the data dependence orders open -> updates -> close.
_BARS: dict[int, Any] = {}
_NEXT_ID = itertools.count()
_KEY = jax.ShapeDtypeStruct((), jnp.int32)


def _open_bar() -> np.ndarray:
    import tqdm  # presence checked when the meter is built

    key = next(_NEXT_ID)
    _BARS[key] = tqdm.tqdm(
        total=100.0, unit="%", bar_format="{percentage:.2f}%|{bar}| [{elapsed}<{remaining}]"
    )
    return np.asarray(key, np.int32)


def _update_bar(key: np.ndarray, progress: np.ndarray) -> np.ndarray:
    bar = _BARS.get(int(np.max(np.asarray(key))))
    if bar is not None:  # None: e.g. recomputed steps after the bar was closed
        bar.n = 100 * float(np.min(np.asarray(progress)))
        bar.refresh()
    return np.asarray(key, np.int32)


def _close_bar(key: np.ndarray) -> np.ndarray:
    bar = _BARS.pop(int(np.max(np.asarray(key))), None)
    if bar is not None:
        bar.n = 100.0
        bar.close()
    return np.asarray(key, np.int32)


class TqdmProgressMeter(AbstractProgressMeter):
    """A `tqdm <https://tqdm.github.io>`_ progress bar, refreshed every ``refresh_steps``
    steps. Needs ``tqdm`` installed (it is not a dependency of jaxlint)."""

    refresh_steps: int = eqx.field(static=True, default=20)

    def __check_init__(self) -> None:
        try:
            import tqdm  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "`TqdmProgressMeter` needs the `tqdm` package: `pip install tqdm` (or use "
                "`TextProgressMeter`)."
            ) from error

    def init(self) -> tuple[Array, Array]:
        return io_callback(_open_bar, _KEY), jnp.zeros((), jnp.int32)

    def step(self, state: tuple[Array, Array], progress: RealScalarLike) -> tuple[Array, Array]:
        key, count = eqxi.unvmap_max(state[0]), eqxi.unvmap_max(state[1])
        progress = _unbatched_min(lax.stop_gradient(jnp.asarray(progress)).astype(jnp.float32))
        update = lambda: jax.pure_callback(
            _update_bar, _KEY, key, progress, vmap_method="expand_dims"
        )
        key = lax.cond(eqxi.nonbatchable(count % self.refresh_steps == 0), update, lambda: key)
        return key, count + 1

    def close(self, state: tuple[Array, Array]) -> None:
        io_callback(_close_bar, _KEY, eqxi.unvmap_max(state[0]))


__all__ = ["AbstractProgressMeter", "NoProgressMeter", "TextProgressMeter", "TqdmProgressMeter"]
