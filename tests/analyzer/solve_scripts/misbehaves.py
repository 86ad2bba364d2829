"""A script that misbehaves as `MISBEHAVE` says: exit, os_exit, interrupt, hang, thread, print."""

import os
import sys
import threading
import time

import jax
import jax.numpy as jnp

from fixed_solver import ODETerm, SaveAt, diffeqsolve
from stack061 import Euler

how = os.environ.get("MISBEHAVE", "")
print("PRINTED BY THE SCRIPT")
if how == "exit":
    sys.exit(3)
if how == "os_exit":
    os._exit(3)
if how == "interrupt":
    raise KeyboardInterrupt
if how == "hang":
    time.sleep(3600)
if how == "thread":  # a non-daemon thread that never ends
    threading.Thread(target=time.sleep, args=(3600,)).start()


@jax.jit
def solve(y0, ts):
    return diffeqsolve(ODETerm(lambda t, y, args: -y), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts)).ys


print(solve(jnp.ones(3), jnp.linspace(0.0, 1.0, 20)).shape)
