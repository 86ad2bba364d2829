"""Type-aware traced context: methods resolved through annotations, bindings and the class
hierarchy of the checked project, with the "why traced" chain through each method call."""

from __future__ import annotations

import textwrap

from jaxlint.rules._callgraph import summarize_module, traced_functions

Sources = dict[str, tuple[str, str]]  # display path -> (module, source)


def traced(sources: Sources, entry_points: tuple[str, ...] = (), unresolved: list[str] | None = None) -> dict[str, dict[str, str]]:
    summaries = {
        path: summarize_module(textwrap.dedent(text), module, path.endswith("__init__.py"))
        for path, (module, text) in sources.items()
    }
    found = traced_functions(summaries, entry_points, unresolved)
    return {path: mine for path, mine in found.items() if mine}


# A solver hierarchy over two modules (the base in one, the overrides in another), and a
# driver that reaches it in several ways.
SOLVERS: Sources = {
    "pkg/__init__.py": ("pkg", "from pkg.base import AbstractSolver\nfrom pkg.solvers import Euler, Heun\n"),
    "pkg/base.py": ("pkg.base", '''
        import abc
        import equinox as eqx

        class AbstractSolver(eqx.Module):
            @abc.abstractmethod
            def step(self, y): ...

            def order(self):
                return 1
    '''),
    "pkg/solvers.py": ("pkg.solvers", '''
        import jax.numpy as jnp
        from pkg.base import AbstractSolver

        class Euler(AbstractSolver):
            def step(self, y):
                return y + jnp.sin(y)

        class Heun(Euler):
            def step(self, y):
                return helper(y)

        def helper(y):
            return y

        class Unrelated:
            def step(self, y):
                return y

            def __call__(self, y):
                return y
    '''),
}


def with_driver(driver: str) -> Sources:
    return {**SOLVERS, "pkg/run.py": ("pkg.run", driver)}


ALL_STEPS = {"pkg/base.py": {"AbstractSolver.step"}, "pkg/solvers.py": {"Euler.step", "Heun.step", "helper"}}


def names(found: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    return {path: set(mine) for path, mine in found.items()}


def test_annotated_field_reaches_every_override_across_modules() -> None:
    found = traced(with_driver('''
        import equinox as eqx
        from pkg.base import AbstractSolver

        class Integrator(eqx.Module):
            solver: AbstractSolver

            def loop(self, y):
                return self.solver.step(y)

        @eqx.filter_jit
        def run(integrator: Integrator, y):
            return integrator.loop(y)
    '''))
    assert names(found) == {**ALL_STEPS, "pkg/run.py": {"run", "Integrator.loop"}}
    assert found["pkg/solvers.py"]["Euler.step"] == (
        "`Euler.step` ← `self.solver.step` in `run.Integrator.loop` ← … ← `run` (jitted at pkg/run.py:11)"
    )
    assert found["pkg/run.py"]["Integrator.loop"] == (
        "`Integrator.loop` ← `integrator.loop` in `run.run` ← `run` (jitted at pkg/run.py:11)"
    )
    # reached through a plain call after the dispatch: the method it landed on is named
    assert found["pkg/solvers.py"]["helper"] == (
        "`helper` ← `Heun.step` ← `self.solver.step` in `run.Integrator.loop` ← … ← `run` (jitted at pkg/run.py:11)"
    )


def test_annotated_parameter() -> None:
    found = traced(with_driver('''
        import jax
        from pkg import AbstractSolver

        @jax.jit
        def run(solver: "AbstractSolver | None", y):
            return solver.step(y)
    '''))
    assert names(found) == {**ALL_STEPS, "pkg/run.py": {"run"}}
    assert found["pkg/solvers.py"]["Heun.step"] == "`Heun.step` ← `solver.step` in `run.run` ← `run` (jitted at pkg/run.py:5)"


def test_binding_to_a_constructor_call_reaches_that_class_and_its_subclasses() -> None:
    found = traced(with_driver('''
        import jax
        from pkg.solvers import Euler, Heun

        def run(y):
            solver = Heun()
            other = Euler()
            return solver.step(y), other.order()

        jitted = jax.jit(run)
    '''))
    # Heun.step only (Heun has no subclass); Euler.order is inherited from the base
    assert names(found) == {
        "pkg/base.py": {"AbstractSolver.order"},
        "pkg/solvers.py": {"Heun.step", "helper"},
        "pkg/run.py": {"run"},
    }


def test_self_method_reaches_overrides_in_subclasses() -> None:
    found = traced({**SOLVERS, "pkg/driver.py": ("pkg.driver", '''
        import jax
        from pkg.base import AbstractSolver

        class Driver(AbstractSolver):
            @jax.jit
            def run(self, y):
                return self.step(y)

            def step(self, y):
                return y
    ''')})
    # `self` is a Driver: its own step (no subclass overrides it); the others are unrelated
    assert names(found) == {"pkg/driver.py": {"Driver.run", "Driver.step"}}


def test_instance_call_reaches_dunder_call() -> None:
    found = traced(with_driver('''
        import jax
        from pkg.solvers import Unrelated

        @jax.jit
        def run(model: Unrelated, y):
            return model(y)

        def not_called(model: Unrelated):
            return model
    '''))
    assert names(found) == {"pkg/solvers.py": {"Unrelated.__call__"}, "pkg/run.py": {"run"}}
    assert found["pkg/solvers.py"]["Unrelated.__call__"] == (
        "`Unrelated.__call__` ← `model` in `run.run` ← `run` (jitted at pkg/run.py:5)"
    )


def test_jit_of_bound_method_and_of_module_instance() -> None:
    found = traced(with_driver('''
        import equinox as eqx
        import jax
        from pkg.solvers import Heun, Unrelated

        def main(y):
            solver = Heun()
            step = jax.jit(solver.step)
            model = Unrelated()
            return step(y), eqx.filter_jit(model)(y)
    '''))
    assert names(found) == {"pkg/solvers.py": {"Heun.step", "helper", "Unrelated.__call__"}}
    assert found["pkg/solvers.py"]["Heun.step"] == "`step` is jitted at pkg/run.py:8"
    assert found["pkg/solvers.py"]["Unrelated.__call__"] == "`__call__` is jitted at pkg/run.py:10"


def test_unannotated_parameter_typed_by_call_sites() -> None:
    found = traced(with_driver('''
        import equinox as eqx
        from pkg.base import AbstractSolver

        def loop(*, solver, y):
            def body(carry):
                return solver.step(carry)
            return body(y)

        @eqx.filter_jit
        def solve(solver: AbstractSolver, y):
            return loop(solver=solver, y=y)
    '''))
    assert names(found) == {**ALL_STEPS, "pkg/run.py": {"solve", "loop", "loop.<locals>.body"}}
    assert found["pkg/solvers.py"]["Euler.step"] == (
        "`Euler.step` ← `solver.step` in `run.loop.body` ← `solve` (jitted at pkg/run.py:10)"
    )


def test_field_assigned_in_init_and_loop_over_a_typed_tuple() -> None:
    found = traced({"m.py": ("m", '''
        import jax

        class Layer:
            def __call__(self, x):
                return x

        class Other:
            def __call__(self, x):
                return x

        class MLP:
            layers: tuple[Layer, ...]

            def __init__(self, head):
                self.layers = (Layer(), Layer())
                self.head = Other()

            def __call__(self, x):
                for layer in self.layers:
                    x = layer(x)
                return self.head(x)

        @jax.jit
        def apply(model: MLP, x):
            return model(x)
    ''')})
    assert names(found) == {"m.py": {"apply", "MLP.__call__", "Layer.__call__", "Other.__call__"}}


def test_unresolvable_and_cyclic_types_are_ignored() -> None:
    found = traced({"m.py": ("m", '''
        import jax
        from elsewhere import Solver

        class A(B):
            x: "A"

            def f(self):
                y = self.x
                y = y.x
                return y.f()

        class B(A):
            pass

        @jax.jit
        def run(s: Solver, a: A):
            s.step()
            return a.f()
    ''')})
    assert names(found) == {"m.py": {"run", "A.f"}}


def test_super_call_reaches_the_base_method_only() -> None:
    found = traced({"m.py": ("m", '''
        import jax

        class Base:
            def step(self, y):
                return y

        class Child(Base):
            def step(self, y):
                return super().step(y)

        class Sibling(Base):
            def step(self, y):
                return y

        @jax.jit
        def run(c: Child, y):
            return c.step(y)
    ''')})
    assert names(found) == {"m.py": {"run", "Child.step", "Base.step"}}
    assert found["m.py"]["Base.step"] == (
        "`Base.step` ← `super().step` in `m.Child.step` ← … ← `run` (jitted at m.py:16)"
    )


def test_summary_with_types_round_trips_through_the_cache_format() -> None:
    from jaxlint.rules._cache_format import dumps, loads

    for path, (module, text) in with_driver('''
        import equinox as eqx
        from pkg.base import AbstractSolver

        def loop(*, solver, y):
            return solver.step(y), jax.jit(solver.step)

        class Child(AbstractSolver):
            inner: "AbstractSolver"

            def step(self, y):
                return super().step(self.inner.step(y))

        @eqx.filter_jit
        def solve(solver: AbstractSolver, y):
            return loop(solver=solver, y=y)
    ''').items():
        summary = summarize_module(textwrap.dedent(text), module, path.endswith("__init__.py"))
        assert loads(dumps(summary)) == summary
