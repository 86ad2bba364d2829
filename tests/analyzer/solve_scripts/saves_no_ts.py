"""Solves that save no `ts`: t1 only, every step, dense output (n is not save points here)."""

import jax
import jax.numpy as jnp

import stepsaver


@jax.jit
def final(y0):
    return stepsaver.diffeqsolve(y0, saveat=stepsaver.SaveAt(t1=True)).ys  # SITE: t1


@jax.jit
def every_step(y0):
    return stepsaver.diffeqsolve(y0, saveat=stepsaver.SaveAt(steps=True), max_steps=32).ys  # SITE: steps


@jax.jit
def dense(y0):
    return stepsaver.diffeqsolve(y0, saveat=stepsaver.SaveAt(dense=True), max_steps=32).ys  # SITE: dense


print(final(jnp.ones(2)).shape, every_step(jnp.ones(2)).shape, dense(jnp.ones(2)).shape)
