"""JL017 python-loop-over-layers: what counts as repeated layers, and one finding per loop."""

from __future__ import annotations

import textwrap

from jaxlint.rules import check_source

FLOW = """\
import equinox as eqx
import jax


class Coupling(eqx.Module):
    scale: float

    def __call__(self, x):
        return x * self.scale, self.scale

    def inverse(self, x):
        return x / self.scale, -self.scale


class Flow(eqx.Module):
    layers: list
    couplings: list
    shared: list
    given: list
    few: list

    def __init__(self, n_layers, given):
        layers = []
        for i in range(n_layers):
            layers.append(Coupling(0.5))
            layers.append(Coupling(2.0))
        self.layers = layers
        self.couplings = [Coupling(0.1) for _ in range(n_layers)]
        self.shared = [Coupling(1.0)] * n_layers
        self.given = given
        self.few = [Coupling(0.3) for _ in range(3)]

    @eqx.filter_jit
    def forward(self, x):
        for layer in self.layers:  # JL017
            x, _ = layer(x)
        for i, coupling in enumerate(self.couplings[1:]):  # JL017
            x, _ = coupling.inverse(x)
        for a, b in zip(self.shared, self.given):  # JL017 (a: shared)
            x, _ = a(x)
            x, _ = b(x)
        for layer in self.given:
            x, _ = layer(x)
        for layer in self.few:
            x, _ = layer(x)
        for i in range(len(self.couplings)):  # JL002's loop (a size), not JL017
            x, _ = self.couplings[i](x)

        def closure(y):
            for layer in reversed(self.layers):  # JL017 inside a closure of the method
                y, _ = layer.inverse(y)
            return y

        return closure(x)

    def eager(self, x):
        for layer in self.layers:
            x, _ = layer(x)
        return x
"""


def _lines(code: str, rule: str) -> list[int]:
    return sorted(f.line for f in check_source(textwrap.dedent(code), "flow.py") if f.code == rule)


def test_fires_on_loops_over_layers_built_per_count() -> None:
    expected = [i for i, line in enumerate(FLOW.splitlines(), 1) if line.rstrip().endswith(("# JL017", "(a: shared)", "of the method"))]
    assert len(expected) == 4
    assert _lines(FLOW, "JL017") == expected


def test_one_finding_per_loop_jl002_keeps_the_size_loop() -> None:
    size_loop = next(i for i, line in enumerate(FLOW.splitlines(), 1) if "JL002's loop" in line)
    assert size_loop in _lines(FLOW, "JL002")
    assert size_loop not in _lines(FLOW, "JL017")


def test_message_names_the_builder_and_the_rewrite() -> None:
    findings = [f for f in check_source(FLOW, "flow.py") if f.code == "JL017"]
    first = findings[0].message
    assert "`self.layers`" in first and "`range(n_layers)` at line 24" in first
    assert "lax.scan" in first and "`forward` is jitted at flow.py:" in first


def test_untraced_and_caller_given_layers_are_quiet() -> None:
    code = FLOW.replace("    @eqx.filter_jit\n", "")
    assert _lines(code, "JL017") == []
