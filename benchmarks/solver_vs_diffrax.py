"""jaxlint.solver against diffrax 0.7.2 on the same problems, as ratios measured in one run.

    python benchmarks/solver_vs_diffrax.py [--rounds 7] [--runs 50]

Cases (float64, Tsit5, PIDController(rtol=1e-4, atol=1e-6), dt0=None, SaveAt(ts=...) with
1000 points passed as an argument, both libraries called through `jax.jit` identically):
- lorenz:     the Lorenz system on [0, 10], forward solve.
- neural_ode: dy/dt = eqx.nn.MLP(2 -> 2, width 64, depth 2, softplus)(y) on [0, 2];
              `jax.grad` of the mean squared saved states with respect to the MLP's
              parameters (default adjoint of each library: recursive checkpointing).
- rober:      Robertson's stiff kinetics on [0, 100] with Kvaerno5,
              PIDController(rtol=1e-10, atol=1e-10), dt0=2e-4, saved at 11 times spread over
              [0, 100] (most fall inside steps); also the largest error at the saved times
              against SciPy's Radau at rtol 1e-13, in units of the tolerance
              (|error| / (atol + rtol |y|)).

Each case runs in one fresh process holding both libraries, and every timing alternates
between them so that both see the same machine load (this machine is shared):
- ops: StableHLO ops with func.call inlined (`jaxlint.analyzer.measure_call`), exact;
- compile: CPU seconds of `lowered.compile()`, `--rounds` rounds alternating the libraries;
  each round perturbs rtol by 1e-9 (relative) so that no compile is served from a cache;
- run: seconds per call, best of `--rounds` alternating batches of `--runs` calls;
- steps: num_steps (num_accepted_steps).
Ratios are jaxlint / diffrax of the medians (compile) and of the bests (run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, statistics, time
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import equinox as eqx
import diffrax
import jaxlint.solver as jls
from jaxlint.analyzer import measure_call

CASE, ROUNDS, RUNS = {case!r}, {rounds}, {runs}
LIBS = {{"jaxlint": jls, "diffrax": diffrax}}


def lorenz(t, y, args):
    sigma, rho, beta = args
    return jnp.stack([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


class Field(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return self.mlp(y)


def rober(t, y, args):
    fast = 3e7 * y[1] ** 2
    slow = 0.04 * y[0] - 1e4 * y[1] * y[2]
    return jnp.stack([-slow, slow - fast, fast])


def make(lib, rtol):
    if CASE == "rober":
        def fn(y0, ts):
            sol = lib.diffeqsolve(
                lib.ODETerm(rober), lib.Kvaerno5(), 0.0, 100.0, 2e-4, y0, saveat=lib.SaveAt(ts=ts),
                stepsize_controller=lib.PIDController(rtol=1e-10 * rtol / 1e-4, atol=1e-10),
                max_steps=4096,
            )
            return sol.ys, sol.stats["num_steps"], sol.stats["num_accepted_steps"]
        return fn

    def solve(term, t1, y0, args, ts):
        sol = lib.diffeqsolve(
            term, lib.Tsit5(), 0.0, t1, None, y0, args, saveat=lib.SaveAt(ts=ts),
            stepsize_controller=lib.PIDController(rtol=rtol, atol=1e-6),
        )
        return sol.ys, sol.stats["num_steps"], sol.stats["num_accepted_steps"]

    if CASE == "lorenz":
        def fn(y0, args, ts):
            return solve(lib.ODETerm(lorenz), 10.0, y0, args, ts)
        return fn

    def fn(params, y0, ts):
        def loss(p):
            ys, steps, accepted = solve(lib.ODETerm(eqx.combine(p, static)), 2.0, y0, None, ts)
            return jnp.mean(ys ** 2), (steps, accepted)
        grads, (steps, accepted) = jax.grad(loss, has_aux=True)(params)
        return grads, steps, accepted
    return fn


if CASE == "rober":
    import numpy as np
    from scipy.integrate import solve_ivp
    save_ts = np.array([0.0, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2, 0.3, 1.0, 3.0, 30.0, 100.0])
    inputs = (jnp.array([1.0, 0.0, 0.0]), jnp.asarray(save_ts))
    reference = solve_ivp(lambda t, y: np.asarray(rober(t, y, None)), (0.0, 100.0), [1.0, 0.0, 0.0],
                          method="Radau", t_eval=save_ts, rtol=1e-13, atol=1e-16).y.T
elif CASE == "lorenz":
    inputs = (jnp.array([1.0, 1.0, 1.0]), (jnp.asarray(10.0), jnp.asarray(28.0), jnp.asarray(8.0 / 3.0)),
              jnp.linspace(0.0, 10.0, 1000))
else:
    model = Field(eqx.nn.MLP(2, 2, width_size=64, depth=2, activation=jax.nn.softplus, key=jax.random.PRNGKey(0)))
    params, static = eqx.partition(model, eqx.is_array)
    inputs = (params, jnp.array([2.0, 0.0]), jnp.linspace(0.0, 2.0, 1000))

out = {{name: dict(compile=[]) for name in LIBS}}
for name, lib in LIBS.items():
    out[name]["ops"] = measure_call(make(lib, 1e-4), *inputs).figures["ops_inlined"]
for i in range(ROUNDS):
    for name, lib in LIBS.items():
        lowered = jax.jit(make(lib, 1e-4 * (1 + 1e-9 * i))).lower(*inputs)
        start = time.process_time()
        lowered.compile()
        out[name]["compile"].append(time.process_time() - start)
compiled = {{name: jax.jit(make(lib, 1e-4)).lower(*inputs).compile() for name, lib in LIBS.items()}}
for name, fn in compiled.items():
    result = jax.block_until_ready(fn(*inputs))
    out[name]["steps"], out[name]["accepted"] = int(result[1]), int(result[2])
    if CASE == "rober":
        scaled = np.abs(np.asarray(result[0]) - reference) / (1e-10 + 1e-10 * np.abs(reference))
        out[name]["error"] = float(scaled.max())
    out[name]["run"] = float("inf")
for _ in range(ROUNDS):
    for name, fn in compiled.items():
        start = time.perf_counter()
        for _ in range(RUNS):
            jax.block_until_ready(fn(*inputs))
        out[name]["run"] = min(out[name]["run"], (time.perf_counter() - start) / RUNS)
print(json.dumps(out))
"""


def run_case(case: str, rounds: int, runs: int) -> dict:
    code = CHILD.format(case=case, rounds=rounds, runs=runs)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--cases", default="lorenz,neural_ode,rober")
    options = parser.parse_args()
    for case in options.cases.split(","):
        data = run_case(case, options.rounds, options.runs)
        ours, theirs = data["jaxlint"], data["diffrax"]
        rows = [
            ("StableHLO ops (inlined)", ours["ops"], theirs["ops"], "{:.0f}", "≤ 0.8"),
            ("XLA compile, CPU s (median)", median(ours["compile"]), median(theirs["compile"]), "{:.3f}", "≤ 1.0"),
            ("XLA compile, CPU s (min)", min(ours["compile"]), min(theirs["compile"]), "{:.3f}", "≤ 1.0"),
            ("run time per call, µs (best)", ours["run"] * 1e6, theirs["run"] * 1e6, "{:.1f}", "≤ 1.0"),
            ("steps", ours["steps"], theirs["steps"], "{:.0f}", "1 ± 0.01"),
            ("accepted steps", ours["accepted"], theirs["accepted"], "{:.0f}", "1 ± 0.01"),
        ]
        if case == "rober":
            rows[-2:] = [
                ("steps", ours["steps"], theirs["steps"], "{:.0f}", "≤ 1.0"),
                ("accepted steps", ours["accepted"], theirs["accepted"], "{:.0f}", "≤ 1.0"),
                ("max error at saved ts / tolerance", ours["error"], theirs["error"], "{:.3f}",
                 "jaxlint ≤ 1"),
            ]
        print(f"\n### {case}\n")
        print("| figure | jaxlint | diffrax | ratio | target |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, a, b, fmt, target in rows:
            print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f} | {target} |")
        print(f"\ncompile CPU s per round: jaxlint {[round(x, 3) for x in ours['compile']]}, "
              f"diffrax {[round(x, 3) for x in theirs['compile']]}")


if __name__ == "__main__":
    main()
