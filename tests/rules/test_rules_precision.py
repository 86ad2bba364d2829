"""Precision of the JL002–JL016 rules on realistic, longer modules (one per rule family).

Each module below is the kind of code users actually write: a hand-written solver, a neural-ODE
training script in plain Python, a diffrax-style integrate loop with hand-rolled checkpointing,
and idiomatic code full of near misses. The expected findings are written *on the lines* as
``# expect: JL002`` comments (one code per expected finding), and the test asserts that the
findings are exactly that multiset of (code, line): a missing finding is a recall bug, an extra
one a false positive. The modules are strings (not .py files) so that checking this repository
with ``jaxlint check`` does not report them.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from jaxlint.rules import check_source, fix_source

RULE_CODES = [
    "JL002", "JL003", "JL004", "JL005", "JL006", "JL007", "JL008", "JL009",
    "JL011", "JL013", "JL014", "JL015", "JL016",
]
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>(?:JL\d{3}\s*)+)$")

HANDWRITTEN_SOLVER = """\
'''A small hand-written explicit solver: what users write before reaching for diffrax.'''

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# The RK4 tableau: small constants, fine to close over.
C = np.array([0.0, 0.5, 0.5, 1.0])
B = np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6])
# A forcing table with 50,000 samples: closed over below, baked into every program.
GRID = np.linspace(0.0, 1.0, 50_000)
NUM_STAGES = 4


def forcing(t):
    return jnp.interp(t, GRID, jnp.sin(GRID))  # expect: JL006


def vector_field(t, y, args):
    return -args * y + forcing(t)


def rk4_step(f, t, y, h, args):
    ks = []
    for i in range(NUM_STAGES):  # expect: JL016
        yi = y if i == 0 else y + h * C[i] * ks[-1]
        ks.append(f(t + C[i] * h, yi, args))
    return y + h * sum(b * k for b, k in zip(B, ks))


@functools.partial(jax.jit, static_argnames=("num_steps",))
def integrate_unrolled(y0, t0, t1, args, num_steps):
    h = (t1 - t0) / num_steps
    y = y0
    for n in range(num_steps):  # expect: JL002
        y = rk4_step(vector_field, t0 + n * h, y, h, args)
    return y


@jax.jit
def integrate(y0, ts, args):
    def body(y, t_pair):
        t, t_next = t_pair
        y = rk4_step(vector_field, t, y, t_next - t, args)
        return y, y

    _, ys = lax.scan(body, y0, (ts[:-1], ts[1:]), unroll=True)  # expect: JL003
    _, zs = lax.scan(body, y0, (ts[:-1], ts[1:]), unroll=4)
    return ys, zs


@jax.jit
def save_buffer(y0, accept, i):
    ys = jnp.zeros((4096, 3))  # expect: JL007
    ys = ys.at[0].set(y0)
    ok = jnp.all(accept)
    ys = jnp.where(ok, ys.at[i].set(y0), ys)  # expect: JL011
    small = jnp.zeros((4, 3)).at[i].set(y0)
    return lax.cond(False, lambda: ys, lambda: small)  # expect: JL005


@jax.jit
def norms(tree):
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(tree):
        total = total + jnp.sum(leaf**2)
    return total


def convergence_study(y0, args):
    errors = []
    for num_steps in (10, 20, 40, 80):
        errors.append(integrate_unrolled(y0, 0.0, 1.0, args, num_steps=num_steps))
    for k in range(len(errors) - 1):
        errors[k] = errors[k] - errors[-1]
    return errors
"""

NEURAL_ODE_TRAINING = """\
'''A neural ODE trained in plain Python, with diffrax and equinox.'''

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp


class Func(eqx.Module):
    mlp: eqx.nn.MLP
    scale: jax.Array = eqx.field(static=True)  # expect: JL015
    width: int = eqx.field(static=True, default=64)

    def __call__(self, t, y, args):
        return self.scale * self.mlp(y)


class NeuralODE(eqx.Module):
    func: Func

    def __call__(self, ts, y0):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(self.func),
            diffrax.Tsit5(),
            t0=ts[0],
            t1=ts[-1],
            dt0=ts[1] - ts[0],
            y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=1e-3, atol=1e-6),
            saveat=diffrax.SaveAt(ts=ts),
        )
        return solution.ys


@eqx.filter_value_and_grad
def grad_loss(model, ti, yi):
    y_pred = jax.vmap(model, in_axes=(None, 0))(ti, yi[:, 0])
    return jnp.mean((yi - y_pred) ** 2)


@eqx.filter_jit
def make_step(ti, yi, model, opt_state, optim):
    loss, grads = grad_loss(model, ti, yi)
    updates, opt_state = optim.update(grads, opt_state)
    model = eqx.apply_updates(model, updates)
    return loss, model, opt_state


def train(model, ts, ys, optim, opt_state, steps=1000):
    for step in range(steps):
        loss, model, opt_state = make_step(ts, ys, model, opt_state, optim)
        if step % 100 == 0:
            print(step, loss)
    return model


def endpoints(model, y0):
    return diffrax.diffeqsolve(
        diffrax.ODETerm(model.func),
        diffrax.Tsit5(),
        0.0,
        1.0,
        0.01,
        y0,
        saveat=diffrax.SaveAt(ts=jnp.array([0.0, 1.0])),  # expect: JL014
    )


def tolerance_sweep(model, y0):
    solutions = []
    for rtol in [1e-3, 1e-5, 1e-7]:
        controller = diffrax.PIDController(rtol=rtol, atol=rtol * 1e-3)  # expect: JL008 JL008
        solutions.append(
            diffrax.diffeqsolve(
                diffrax.ODETerm(model.func), diffrax.Tsit5(), 0.0, 1.0, None, y0, stepsize_controller=controller
            )
        )
    for rtol in [1e-3, 1e-5, 1e-7]:
        controller = diffrax.PIDController(rtol=jnp.asarray(rtol), atol=1e-9)
    return solutions


def evaluate(model, ts, batches):
    losses = []
    for batch in batches:
        loss_fn = eqx.filter_jit(lambda m: grad_loss(m, ts, batch)[0])  # expect: JL009
        losses.append(loss_fn(model))
    return losses


def dense_solution(model, y0):
    return diffrax.diffeqsolve(
        diffrax.ODETerm(model.func),
        diffrax.Tsit5(),
        0.0,
        100.0,
        0.01,
        y0,
        saveat=diffrax.SaveAt(dense=True),
        max_steps=None,  # expect: JL013
    )


def main(model, ts, ys, optim, opt_state):
    model = train(model, ts, ys, optim, opt_state)
    predict = eqx.filter_jit(lambda y0: model(ts, y0))
    for y0 in ys[:, 0]:
        predict(y0)
    return model
"""

INTEGRATE_LOOP = """\
'''A diffrax-style integrate loop written by hand, with checkpointed segments and an adjoint.'''

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

OBSERVATIONS = np.load("observations.npy")
MAX_STEPS = 16_384


class State(eqx.Module):
    y: jax.Array
    t: jax.Array
    ys: jax.Array
    n: jax.Array


class Euler(eqx.Module):
    order: int = eqx.field(static=True, default=1)

    def step(self, vf, t, y, dt):
        return y + dt * vf(t, y)


class Interpolant(eqx.Module):
    ts: jax.Array = eqx.field(static=True)  # expect: JL015
    ys: jax.Array


def init_state(y0, t0, ts):
    ys = jnp.where(ts[:, None] == t0, y0, jnp.inf)
    return State(y=y0, t=t0, ys=ys, n=jnp.array(0))


def integrate(solver, vf, y0, t0, dt, ts):
    def cond_fun(state):
        return state.n < MAX_STEPS

    def body_fun(state):
        y = solver.step(vf, state.t, state.y, dt)
        t = state.t + dt
        hit = jnp.any(t >= ts[state.n])
        ys = jnp.where(hit, state.ys.at[state.n].set(y), state.ys)  # expect: JL011
        return State(y=y, t=t, ys=ys, n=state.n + hit)

    return lax.while_loop(cond_fun, body_fun, init_state(y0, t0, ts))


def checkpointed_segments(solver, vf, y0, dt, num_segments):
    y = y0
    for k in range(num_segments):  # expect: JL002
        y = jax.checkpoint(lambda y: solver.step(vf, k * dt, y, dt))(y)  # expect: JL004
    return y


def loss(params, y0):
    def vf(t, y):
        return -params * y + OBSERVATIONS[0]  # expect: JL006

    y = checkpointed_segments(Euler(), vf, y0, 0.01, 50)
    return jnp.sum(y**2)


grad_loss = jax.jit(jax.grad(loss))


def adaptive_step(solver, vf, t, y, dt, error_ok):
    return lax.cond(  # expect: JL016
        error_ok,
        lambda: solver.step(vf, t, y, dt),
        lambda: solver.step(vf, t, y, dt / 2),
    )


def accept_or_reject(solver, vf, t, y, dt, error_ok):
    y_new = solver.step(vf, t, y, dt)
    return lax.cond(error_ok, lambda: y_new, lambda: y)


def solve_saving_steps(term, solver, y0):
    return diffrax.diffeqsolve(
        term,
        solver,
        0.0,
        1.0,
        0.001,
        y0,
        saveat=diffrax.SaveAt(steps=True),
        max_steps=MAX_STEPS * 10,  # expect: JL013
    )


def solve_endpoints(term, solver, y0, t0, t1):
    a = diffrax.diffeqsolve(term, solver, t0, t1, 0.01, y0, saveat=diffrax.SaveAt(ts=[t0, t1]))  # expect: JL014
    b = diffrax.diffeqsolve(term, solver, t0, t1, 0.01, y0, saveat=diffrax.SaveAt(ts=[t0, (t0 + t1) / 2, t1]))
    return a, b
"""

CLEAN_MODEL = """\
'''Idiomatic JAX/equinox code full of near misses: nothing here should be reported.'''

import functools

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

TABLE = np.random.randn(1000, 1000)  # large, but only passed as an argument
A = np.array([[0.0, 0.0], [0.5, 0.0]])  # a small tableau
NUM_LAYERS = 3


class MLP(eqx.Module):
    layers: tuple
    activation: callable = eqx.field(static=True)
    depth: int = eqx.field(static=True, default=NUM_LAYERS)

    @eqx.filter_jit
    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        for i in range(len(self.layers)):
            x = x + i
        return self.layers[-1](x)


@jax.jit
def matvec(table, x):
    return table @ x + TABLE.shape[0]


@functools.partial(jax.jit, static_argnames=("method",))
def solve(y0, ts, method="tsit5"):
    def body(carry, t):
        y, t_prev = carry
        y = y + (t - t_prev) * jnp.sin(y)
        return (y, t), y

    (_, _), ys = lax.scan(body, (y0, ts[0]), ts, unroll=2)
    buffer = jnp.zeros_like(ys).at[0].set(y0)
    return lax.cond(ts[0] < ts[-1], lambda: ys, lambda: buffer)


def vector_field(t, y, args):
    return -y


def diffrax_solve(y0, t1):
    term = diffrax.ODETerm(vector_field)
    return diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        0.0,
        t1,
        0.1,
        y0,
        saveat=diffrax.SaveAt(t0=True, t1=True),
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-6),
        max_steps=16_384,
    )


def host_postprocessing(results, n):
    out = []
    for i in range(n):
        out.append(np.mean(results[i]))
    while len(out) > 10:
        out.pop()
    return np.stack([np.zeros(3)] * n)


def sweep(y0s):
    solutions = []
    for y0 in y0s:
        solutions.append(diffrax_solve(y0, jnp.asarray(1.0)))
    for t1 in jnp.linspace(1.0, 2.0, 5):
        solutions.append(diffrax_solve(y0s[0], t1))
    return solutions


jitted_solve = jax.jit(diffrax_solve)
"""

MODULES = {
    "handwritten_solver.py": HANDWRITTEN_SOLVER,
    "neural_ode_training.py": NEURAL_ODE_TRAINING,
    "integrate_loop.py": INTEGRATE_LOOP,
    "clean_model.py": CLEAN_MODEL,
}
# How many findings each module must produce (a guard on the markers themselves).
EXPECTED_TOTALS = {
    "handwritten_solver.py": 7,
    "neural_ode_training.py": 6,
    "integrate_loop.py": 8,
    "clean_model.py": 0,
}


def expected_findings(source: str) -> Counter:
    """The (code, line) multiset written as ``# expect: JL00X ...`` comments."""
    expected: Counter = Counter()
    for number, line in enumerate(source.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            for code in match.group("codes").split():
                expected[(code, number)] += 1
    return expected


def found_findings(source: str, path: str) -> Counter:
    return Counter((f.code, f.line) for f in check_source(source, path, select=RULE_CODES))


@pytest.mark.parametrize("path", sorted(MODULES))
def test_findings_are_exactly_the_marked_lines(path: str) -> None:
    source = MODULES[path]
    expected = expected_findings(source)
    assert sum(expected.values()) == EXPECTED_TOTALS[path]
    found = found_findings(source, path)
    missing = expected - found
    extra = found - expected
    assert not missing and not extra, f"missing (recall): {sorted(missing)}; extra (false positives): {sorted(extra)}"


def test_every_rule_is_exercised_by_the_modules() -> None:
    codes = {code for source in MODULES.values() for code, _ in expected_findings(source)}
    assert codes == set(RULE_CODES)


def test_traced_findings_name_why_the_code_is_traced() -> None:
    findings = {(f.code, f.line): f.message for f in check_source(HANDWRITTEN_SOLVER, "solver.py", select=RULE_CODES)}
    assert "(`integrate_unrolled` is jitted at solver.py:34)" in findings[("JL002", 38)]
    assert "reached from `integrate_unrolled` (jitted at solver.py:34)" in findings[("JL016", 28)]
    assert "(4 times)" in findings[("JL016", 28)]
    assert "50,000 elements" in findings[("JL006", 19)]
    loop = {(f.code, f.line): f.message for f in check_source(INTEGRATE_LOOP, "loop.py", select=RULE_CODES)}
    assert "reached from `loss` (differentiated at loop.py:67)" in loop[("JL004", 55)]


def test_safe_fixes_rewrite_only_what_they_prove() -> None:
    fixed, applied = fix_source(HANDWRITTEN_SOLVER, "solver.py", select=RULE_CODES)
    assert applied == 1  # JL011 (scalar predicate from jnp.all); JL005's inlining is unsafe (1105502)
    lines = fixed.splitlines()
    assert lines[59] == "    ys = ys.at[i].set(jnp.where(ok, y0, ys[i]))  # expect: JL011"
    # Unsafe fixes (unroll=True, the inlined cond) stay until asked for.
    assert "unroll=True" in fixed and "lax.cond(False" in fixed
    remaining = Counter((f.code, f.line) for f in check_source(fixed, "solver.py", select=RULE_CODES))
    assert remaining == expected_findings(HANDWRITTEN_SOLVER) - Counter({("JL011", 60): 1})


def test_unsafe_fixes_apply_with_unsafe() -> None:
    fixed, applied = fix_source(NEURAL_ODE_TRAINING, "train.py", select=RULE_CODES, unsafe=True)
    assert applied == 3  # JL014 (safe) and two JL008 jnp.asarray wraps (unsafe)
    assert "diffrax.PIDController(rtol=jnp.asarray(rtol), atol=jnp.asarray(rtol * 1e-3))" in fixed
    assert "saveat=diffrax.SaveAt(t0=True, t1=True)," in fixed
    again = Counter(f.code for f in check_source(fixed, "train.py", select=RULE_CODES))
    assert again == Counter({"JL015": 1, "JL009": 1, "JL013": 1})
