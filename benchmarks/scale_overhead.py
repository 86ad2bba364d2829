"""jaxlint's time per n against a bare lowering of the same program, and the #606 command end to end.

    python benchmarks/scale_overhead.py [--repeats 3] [--python PATH] [--skip-cases]

Each (mode, case, n) runs in its own fresh process, modes interleaved, median of the repeats;
timed inside the process in CPU seconds (start-up and imports excluded from both; CPU time,
not wall time, because this machine is shared and its load swings by 10x within a run):

- growth cases (examples/growth_cases.py):
    bare:    `jax.jit(fn).trace(*args).lower().compiler_ir("stablehlo")`
    jaxlint: `jaxlint.analyzer.measure(fn, args)` (lower + walk + figures + runs + attribute)
- the #606 script (examples/diffrax_606.py, with the diffrax that `--python` has):
    bare:    run the script, then lower its jitted `solve` at n by hand
    jaxlint: run the script under jaxlint's capture, then what `jaxlint scale --in-process`
             does per n: re-trace `solve` with the solve resized to n, walk, figures, attribute
The ratio jaxlint/bare is the cost of the analysis (and of re-tracing through the capture)
on top of the lowering it needs anyway (target <= 1.3).

End to end: `jaxlint scale examples/diffrax_606.py --n 1k,10k,30k` (the default mode), wall
time and CPU time (this process's children: on a machine shared with other jobs, CPU time
is what the command costs; wall time is what the load lets it have), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = os.path.join(ROOT, "examples", "growth_cases.py")
SCRIPT = os.path.join(ROOT, "examples", "diffrax_606.py")

CASE_CHILD = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("cases", {cases!r})
cases = importlib.util.module_from_spec(spec); spec.loader.exec_module(cases)
import jax
fn, args = getattr(cases, {name!r})({n})
if {mode!r} == "bare":
    start = time.process_time()
    jax.jit(fn).trace(*args).lower().compiler_ir("stablehlo")
else:
    from jaxlint.analyzer import measure
    start = time.process_time()
    measure(fn, args, n={n})
print(json.dumps(time.process_time() - start))
"""

SCRIPT_CHILD = r"""
import contextlib, json, runpy, sys, time
import jax, jax.numpy as jnp
n = {n}
if {mode!r} == "bare":
    with contextlib.redirect_stdout(sys.stderr):
        namespace = runpy.run_path({script!r}, run_name="__main__")
    args = (jax.ShapeDtypeStruct((3,), jnp.float32), jax.ShapeDtypeStruct((n,), jnp.float32))
    start = time.process_time()
    jax.jit(namespace["solve"]).trace(*args).lower().compiler_ir("stablehlo")
    print(json.dumps(time.process_time() - start))
else:
    from jaxlint.analyzer.cases import Target
    from jaxlint.analyzer.scale import measure_at, prepared_cases
    with prepared_cases(Target({script!r}, None)) as cases:
        start = time.process_time()
        measure_at(cases[0], n)
        print(json.dumps(time.process_time() - start))
"""

CASE_RUNS = [("stacked_save_buffer", (1000, 10000, 30000)), ("python_loop_euler", (256, 1024, 4096)), ("scan_euler", (1000, 30000))]
SCRIPT_SIZES = (1000, 10000, 30000)


def child_seconds(python: str, code: str) -> float:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def compare(python: str, label: str, n: int, codes: dict[str, str], repeats: int, rows: list) -> None:
    bare, ours = [], []
    for _ in range(repeats):
        bare.append(child_seconds(python, codes["bare"]))
        ours.append(child_seconds(python, codes["jaxlint"]))
    b, o = statistics.median(bare), statistics.median(ours)
    rows.append((label, n, b, o, o / b))
    print(f"{label:22} n={n:>6}  bare {b:7.3f} s  jaxlint {o:7.3f} s  ratio {o / b:5.2f}", flush=True)


def end_to_end(python: str) -> dict[str, float]:
    jaxlint = os.path.join(os.path.dirname(python), "jaxlint")
    command = [jaxlint, "scale", SCRIPT, "--n", "1k,10k,30k", "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    verdict = json.loads(done.stdout)["cases"][0]["verdict"] if done.stdout.strip() else f"exit {done.returncode}"
    return {"wall": wall, "cpu": cpu, "load": load, "exit": done.returncode, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter whose diffrax runs the #606 script")
    parser.add_argument("--skip-cases", action="store_true", help="only the #606 script rows and the end-to-end run")
    options = parser.parse_args()
    rows: list = []
    if not options.skip_cases:
        for name, sizes in CASE_RUNS:
            for n in sizes:
                codes = {mode: CASE_CHILD.format(cases=CASES, name=name, n=n, mode=mode) for mode in ("bare", "jaxlint")}
                compare(sys.executable, name, n, codes, options.repeats, rows)
    version = subprocess.run([options.python, "-c", "import diffrax; print(diffrax.__version__)"], capture_output=True, text=True).stdout.strip()
    for n in SCRIPT_SIZES:
        codes = {mode: SCRIPT_CHILD.format(script=SCRIPT, n=n, mode=mode) for mode in ("bare", "jaxlint")}
        compare(options.python, f"diffrax_606 ({version})", n, codes, options.repeats, rows)
    total_bare = sum(r[2] for r in rows)
    total_ours = sum(r[3] for r in rows)
    print(f"{'total':22} {'':8}  bare {total_bare:7.3f} s  jaxlint {total_ours:7.3f} s  ratio {total_ours / total_bare:5.2f}")
    e2e = end_to_end(options.python)
    print(f"end to end `jaxlint scale examples/diffrax_606.py --n 1k,10k,30k` (diffrax {version}): "
          f"{e2e['wall']:.2f} s wall, {e2e['cpu']:.2f} s CPU, load average {e2e['load']:.1f}, verdict {e2e['verdict']}")
    print(json.dumps({"rows": rows, "end_to_end": e2e, "diffrax": version}))


if __name__ == "__main__":
    main()
