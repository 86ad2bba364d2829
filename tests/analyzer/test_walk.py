"""The walk sees every op through the MLIR bindings: nested regions, calls, constants, callbacks."""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlint.analyzer import measure_call
from jaxlint.analyzer.lower import lower_call
from jaxlint.analyzer.walk import element_bytes, walk_module


def test_element_bytes():
    assert element_bytes("f32") == 4
    assert element_bytes("f64") == 8
    assert element_bytes("bf16") == 2
    assert element_bytes("i1") == 1
    assert element_bytes("ui8") == 1
    assert element_bytes("complex<f64>") == 16


def test_nested_jit_call_is_inlined_once_per_call_site():
    @jax.jit
    def inner(x):
        return jnp.sin(x) * 2.0

    def outer(x):
        return inner(x) + inner(x + 1.0) + inner(x + 2.0)

    once = measure_call(lambda x: inner(x), jnp.ones(3))
    thrice = measure_call(outer, jnp.ones(3))
    inner_body = once.figures["ops_inlined"] - 1  # minus main's return
    # jax deduplicates the callee: one func.func, three call sites.
    assert thrice.figures["calls"] == 3
    # Inlined: the body three times, no call ops. Not inlined: the body once plus three call ops.
    assert thrice.figures["ops_inlined"] - thrice.figures["ops"] == 3 * inner_body - (inner_body + 3)


def test_non_splat_constants_are_counted_in_bytes_and_splats_are_free():
    table = np.arange(1000, dtype=np.float32)

    def closes_over(x):
        return x + jnp.asarray(table)[:3] + jnp.full(3, 7.0)

    m = measure_call(closes_over, jnp.ones(3))
    assert m.figures["constant_bytes"] == 4000


def test_host_callbacks_are_custom_calls_by_target():
    def with_callback(x):
        return jax.pure_callback(lambda v: np.asarray(v) * 2, jax.ShapeDtypeStruct((3,), jnp.float32), x)

    m = measure_call(with_callback, jnp.ones(3, jnp.float32))
    assert m.figures["custom_calls"] == 1
    (target,) = m.custom_call_targets
    assert "callback" in target


def test_region_depth_and_loops_through_nested_bodies():
    def nested(x):
        def outer_body(i, c):
            return lax.fori_loop(0, 3, lambda j, d: lax.cond(d.sum() > 0, jnp.sin, jnp.cos, d), c)

        return lax.fori_loop(0, 5, outer_body, x)

    m = measure_call(nested, jnp.ones(3))
    assert m.figures["loops"] == 2
    assert m.figures["branches"] == 1
    assert m.figures["max_depth"] == 3  # while > while > case


def test_walk_records_every_function_and_the_entry():
    program = lower_call(lambda x: lax.scan(lambda c, v: (c + v, c), 0.0, x)[1], (jnp.ones(4),))
    walk = walk_module(program.module)
    assert walk.entry == "main"
    assert len(walk.functions) >= 2
    assert any(site.depth == 1 for body in walk.functions.values() for site in body.calls)
