"""More traced roots (custom derivatives and their rules, loop/branch bodies, equinox's
transforms) and the static string switch that keeps NumPy-only helpers out of traced code."""

from __future__ import annotations

from jaxlint.rules._callgraph import summarize_module, traced_functions

SOURCE = '''
import functools as ft
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

@jax.custom_vjp
def f(x):
    return x

def f_fwd(x):
    return x, None

def f_bwd(res, g):
    return (g,)

f.defvjp(f_fwd, f_bwd)

@jax.custom_jvp
def g(x):
    return x

@g.defjvp
def g_jvp(primals, tangents):
    return primals, tangents

@eqx.filter_custom_vjp
def h(vjp_arg, x):
    return x

@h.def_fwd
def h_fwd(perturbed, vjp_arg, x):
    return x, None

@h.def_bwd
def h_bwd(residuals, grad_obj, perturbed, vjp_arg, x):
    return grad_obj

def ck(x):
    return x

def combine(a, b):
    return a + b

def branch_a(x):
    return x

def branch_b(x):
    return x

def mapped(x):
    return x

def body(i, x):
    return x

def vm(x):
    return x

def gr(x):
    return x

def vg(x):
    return x

def wcond(c):
    return c

def wbody(c):
    return c

def host_numpy(x):
    return np.asarray(x).sum()

def device(x):
    return jnp.sum(x)

def mixed(x):
    return jnp.asarray(np.ones(3)) * x

@ft.partial(jax.jit, static_argnames="method")
def driver(x, method="jax"):
    y = jax.checkpoint(ck)(x)
    y = lax.associative_scan(combine, y)
    y = lax.cond(True, branch_a, branch_b, y)
    y = lax.switch(0, [branch_a, branch_b], y)
    y = lax.map(mapped, y)
    y = lax.fori_loop(0, 3, body, y)
    y = eqx.filter_vmap(vm)(y)
    y = eqx.filter_grad(gr)(y)
    y = eqx.filter_value_and_grad(vg)(y)
    y = eqxi.while_loop(wcond, wbody, y, max_steps=3, kind="lax")
    if method == "numpy":
        return host_numpy(y), mixed(y)
    else:
        return device(y)
'''


def test_each_root_kind_with_its_role_and_line() -> None:
    found = traced_functions({"m.py": summarize_module(SOURCE, "m")})["m.py"]
    assert found == {
        "f": "`f` is a custom-derivative function at m.py:10",
        "f_fwd": "`f_fwd` is a custom derivative rule of `f` at m.py:20",
        "f_bwd": "`f_bwd` is a custom derivative rule of `f` at m.py:20",
        "g": "`g` is a custom-derivative function at m.py:22",
        "g_jvp": "`g_jvp` is a custom derivative rule of `g` at m.py:26",
        "h": "`h` is a custom-derivative function at m.py:30",
        "h_fwd": "`h_fwd` is a custom derivative rule of `h` at m.py:34",
        "h_bwd": "`h_bwd` is a custom derivative rule of `h` at m.py:38",
        "ck": "`ck` is checkpointed at m.py:86",
        "combine": "`combine` is the body of lax.associative_scan at m.py:87",
        "branch_a": "`branch_a` is a branch of lax.cond at m.py:88",
        "branch_b": "`branch_b` is a branch of lax.cond at m.py:88",
        "mapped": "`mapped` is the body of lax.map at m.py:90",
        "body": "`body` is the body of lax.fori_loop at m.py:91",
        "vm": "`vm` is vmapped at m.py:92",
        "gr": "`gr` is differentiated at m.py:93",
        "vg": "`vg` is differentiated at m.py:94",
        "wcond": "`wcond` is a function of lax.while_loop at m.py:95",
        "wbody": "`wbody` is a function of lax.while_loop at m.py:95",
        "driver": "`driver` is jitted at m.py:84",
        # the string switch: `device` (jax) and `mixed` (jax and numpy) are followed,
        # `host_numpy` (numpy only, in a `method == "numpy"` branch) is not
        "device": "reached from `driver` (jitted at m.py:84)",
        "mixed": "reached from `driver` (jitted at m.py:84)",
    }


SWITCH = '''
import jax
import numpy as np

def host(x):
    return np.sum(x)

def check(x):
    return np.isfinite(x)

@jax.jit
def run(x, backend: str = "jax", flag=False):
    if backend in ("numpy", "scipy"):
        y = host(x)
    if flag:  # not a string switch: followed
        check(x)
    if "numpy" != backend:
        return x
    return host(x)
'''


def test_string_switch_criterion() -> None:
    found = traced_functions({"s.py": summarize_module(SWITCH, "s")})["s.py"]
    # host() is also called outside any switch (the last line): traced from there
    assert set(found) == {"run", "check", "host"}
    only_switched = SWITCH.replace("    return host(x)\n", "    return x\n")
    found = traced_functions({"s.py": summarize_module(only_switched, "s")})["s.py"]
    assert set(found) == {"run", "check"}


HOST = '''
import jax
from jax.experimental import io_callback


class Config:
    def __init__(self):
        self.n = 1


def log(x):
    print(x)


def save(x):
    return x


def helper(x):
    return x


@jax.jit
def run(x, config):
    jax.debug.callback(log, x)
    io_callback(save, None, helper(x))
    if isinstance(config, Config):
        return x
    return x
'''


def test_host_callbacks_and_class_mentions_are_not_traced() -> None:
    # log/save run on the host (callbacks); isinstance(config, Config) constructs nothing;
    # helper(x) is an argument computed in traced code
    found = traced_functions({"h.py": summarize_module(HOST, "h")})["h.py"]
    assert set(found) == {"run", "helper"}
