"""`jaxlint residuals`' time per n against jax's own `saved_residuals` on the same case.

    python benchmarks/residuals_overhead.py [--repeats 3]

Each (mode, case, n) runs in its own fresh process, modes interleaved, median of the repeats:
- bare:    `jax._src.ad_checkpoint.saved_residuals(fn, *args)` (traces the forward pass of vjp)
- jaxlint: `jaxlint.analyzer.residuals.measure_residuals(fn, args)`: the same residuals, plus
  the backward pass traced (to reject what only the transpose rejects, e.g. unbounded while
  loops) and each residual followed to its source line.
The ratio jaxlint/bare is what that extra work costs. Process start-up and imports are
excluded by timing inside the process. Cases: examples/adjoint_memory.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "adjoint_memory.py")

CHILD = r"""
import importlib.util, json, time
spec = importlib.util.spec_from_file_location("example", {example!r})
example = importlib.util.module_from_spec(spec); spec.loader.exec_module(example)
import jaxlint.solver as solver
case = {case!r}
if case == "plain_scan":
    fn, args = example.plain_scan, (example.initial_state(),)
else:
    adjoint = solver.BacksolveAdjoint() if case == "backsolve" else solver.RecursiveCheckpointAdjoint(checkpoints=7)
    fn, args = example.solve({n}, adjoint)
if {mode!r} == "bare":
    from jax._src.ad_checkpoint import saved_residuals
    start = time.perf_counter()
    saved_residuals(fn, *args)
else:
    from jaxlint.analyzer.residuals import measure_residuals
    start = time.perf_counter()
    measure_residuals(fn, args, n={n})
print(json.dumps(time.perf_counter() - start))
"""

RUNS = [("plain_scan", (500,)), ("recursive_checkpoint_7", (500, 5000)), ("backsolve", (500, 5000))]


def child_seconds(mode: str, case: str, n: int) -> float:
    code = CHILD.format(example=EXAMPLE, case=case, n=n, mode=mode)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    rows = []
    for case, sizes in RUNS:
        for n in sizes:
            bare, ours = [], []
            for _ in range(options.repeats):
                bare.append(child_seconds("bare", case, n))
                ours.append(child_seconds("jaxlint", case, n))
            rows.append((case, n, statistics.median(bare), statistics.median(ours)))
            print(f"measured {case} n={n}", file=sys.stderr)
    print("| case | n | saved_residuals (s) | jaxlint (s) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for case, n, bare, ours in rows:
        print(f"| {case} | {n:,} | {bare:.3f} | {ours:.3f} | {ours / bare:.2f} |")
    total_bare, total_ours = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"| **total** | | {total_bare:.3f} | {total_ours:.3f} | **{total_ours / total_bare:.2f}** |")


if __name__ == "__main__":
    main()
