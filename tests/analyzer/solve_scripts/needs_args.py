"""A plain script that needs its command-line arguments (`-- ARGS` after jaxlint's own)."""

import sys

import jax
import jax.numpy as jnp

from fixed_solver import ODETerm, SaveAt, diffeqsolve
from stack061 import Euler

if len(sys.argv) != 3 or sys.argv[1] != "--points":
    raise SystemExit(f"usage: needs_args.py --points N (got {sys.argv[1:]})")
points = int(sys.argv[2])


@jax.jit
def solve(y0, ts):
    return diffeqsolve(ODETerm(lambda t, y, args: -y), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts)).ys


print("points", solve(jnp.ones(2), jnp.linspace(0.0, 1.0, points)).shape)
