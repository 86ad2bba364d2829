"""jaxlint's time per n against a bare `jax.jit(fn).trace(*args).lower()` of the same case.

    python benchmarks/scale_overhead.py [--repeats 3]

Each (mode, case, n) runs in its own fresh process, modes interleaved, median of the repeats:
- bare:    import the case, `jax.jit(fn).trace(*args).lower().compiler_ir("stablehlo")`
- jaxlint: import the case, `jaxlint.analyzer.measure(fn, args)` (lower + walk + figures + attribute)
The ratio jaxlint/bare is the cost of the analysis on top of the lowering it needs anyway
(target <= 1.10). Process start-up (python + `import jax`) is excluded from both by timing
inside the process; the end-to-end `jaxlint scale` wall time is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(os.path.dirname(HERE), "examples", "growth_cases.py")

CHILD = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("cases", {cases!r})
cases = importlib.util.module_from_spec(spec); spec.loader.exec_module(cases)
import jax
fn, args = getattr(cases, {name!r})({n})
if {mode!r} == "bare":
    start = time.perf_counter()
    jax.jit(fn).trace(*args).lower().compiler_ir("stablehlo")
else:
    from jaxlint.analyzer import measure
    start = time.perf_counter()
    measure(fn, args, n={n})
print(json.dumps(time.perf_counter() - start))
"""

RUNS = [("stacked_save_buffer", (1000, 10000, 30000)), ("python_loop_euler", (256, 1024, 4096)), ("scan_euler", (1000, 30000))]


def child_seconds(mode: str, name: str, n: int) -> float:
    code = CHILD.format(cases=CASES, name=name, n=n, mode=mode)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    rows = []
    for name, sizes in RUNS:
        for n in sizes:
            bare, ours = [], []
            for _ in range(options.repeats):
                bare.append(child_seconds("bare", name, n))
                ours.append(child_seconds("jaxlint", name, n))
            b, o = statistics.median(bare), statistics.median(ours)
            rows.append((name, n, b, o, o / b))
            print(f"{name:22} n={n:>6}  bare {b:7.3f} s  jaxlint {o:7.3f} s  ratio {o / b:5.2f}", flush=True)
    total_bare = sum(r[2] for r in rows)
    total_ours = sum(r[3] for r in rows)
    print(f"{'total':22} {'':8}  bare {total_bare:7.3f} s  jaxlint {total_ours:7.3f} s  ratio {total_ours / total_bare:5.2f}")

    # End to end, subprocess mode: wall time of the whole command against bare lowers in fresh processes.
    sizes = "1k,10k,30k"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jaxlint", "scale", f"{CASES}::stacked_save_buffer", "--n", sizes, "--format", "json"], capture_output=True)
    command = time.perf_counter() - start
    start = time.perf_counter()
    for n in (1000, 10000, 30000):
        subprocess.run([sys.executable, "-c", CHILD.format(cases=CASES, name="stacked_save_buffer", n=n, mode="bare")], check=True, capture_output=True)
    bare_processes = time.perf_counter() - start
    print(f"end to end `jaxlint scale ...::stacked_save_buffer --n {sizes}`: {command:.2f} s wall; "
          f"three fresh bare-lowering processes: {bare_processes:.2f} s; ratio {command / bare_processes:.2f}")
    print(json.dumps({"rows": rows, "end_to_end": [command, bare_processes]}))


if __name__ == "__main__":
    main()
