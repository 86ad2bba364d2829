"""How long jaxlint takes to call the #606 regression, against how long XLA takes to compile it.

    python benchmarks/scale_vs_compile.py --python /path/to/venv-with-diffrax-0.6.1/bin/python
    python benchmarks/scale_vs_compile.py            # the current interpreter (diffrax 0.7.x)

Both sides run the unmodified script ``examples/diffrax_606.py`` (Lorenz, Tsit5, PID steps,
dt0=None, SaveAt(ts=ts), max_steps=None, inside jax.jit) at n = 1k, 10k, 30k save points:

- verdict: the wall time of ``jaxlint scale examples/diffrax_606.py --n 1k,10k,30k``, lowering
  only, as a user runs it (a fresh process, including Python start-up and ``import jax``), in
  two modes: ``--in-process --capture-only`` (one process; the script stops at its first solve
  call) and the default (the script run to the end, then one fresh worker process per n).
- compile: for each n, a fresh process lowers the same call and times ``Lowered.compile()``
  (compilation cache off), each capped by what is left of ``--budget`` seconds (default 900:
  diffrax 0.6.1 needs > 15 min at 30k on a 2-core machine, so that size is reported as a
  lower bound).

The ratio compile / verdict is measured in one run on the same machine. Prints a markdown
section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(ROOT, "examples", "diffrax_606.py")

# A fresh process: lower the example's jitted solve at n save points and time the compile.
COMPILE_CHILD = r"""
import importlib.util, json, sys, time
import jax, jax.numpy as jnp
jax.config.update("jax_enable_compilation_cache", False)
spec = importlib.util.spec_from_file_location("diffrax_606", {script!r})
example = importlib.util.module_from_spec(spec); spec.loader.exec_module(example)
lowered = example.solve.trace(jax.ShapeDtypeStruct((3,), jnp.float32), jax.ShapeDtypeStruct(({n},), jnp.float32)).lower()
print("LOWERED", flush=True)
start = time.perf_counter()
lowered.compile()
print(json.dumps(time.perf_counter() - start), flush=True)
"""


def _label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def diffrax_version(python: str) -> str:
    code = "import diffrax; print(diffrax.__version__)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def verdict(python: str, sizes: list[int], fast: bool) -> dict:
    """Wall seconds of one `jaxlint scale` run (fresh process) and what it concluded."""
    command = [python, "-m", "jaxlint", "scale", SCRIPT, "--n", ",".join(map(str, sizes)), "--format", "json"]
    if fast:
        command += ["--in-process", "--capture-only"]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    report = json.loads(completed.stdout)
    (case,) = report["cases"]
    top = next((flag["lines"][0] for flag in case["flags"] if flag["lines"]), None)
    return {
        "mode": "--in-process --capture-only" if fast else "default (subprocess per n)",
        "wall": wall,
        "exit": completed.returncode,
        "verdict": case["verdict"],
        "ops_inlined": case["figures"]["ops_inlined"],
        "longest_run": case["figures"]["longest_run"],
        "line": f"{top['path']}:{top['line']}" if top else None,
        "lint": sorted({entry["code"] for entry in case["lint"]}),
    }


def compile_seconds(python: str, n: int, timeout: float) -> float | None:
    """Seconds to compile at n in a fresh process, or None when it ran past ``timeout``."""
    process = subprocess.Popen(
        [python, "-c", COMPILE_CHILD.format(script=SCRIPT, n=n)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter whose environment has the diffrax to test")
    parser.add_argument("--sizes", default="1000,10000,30000")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds for all compiles together")
    parser.add_argument("--skip-compile", action="store_true")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    version = diffrax_version(options.python)

    verdicts = [verdict(options.python, sizes, fast=True), verdict(options.python, sizes, fast=False)]
    compiles: list[tuple[int, float | None, float]] = []
    if not options.skip_compile:
        left = options.budget
        for n in sizes:
            if left <= 1:
                compiles.append((n, None, 0.0))
                continue
            start = time.perf_counter()
            seconds = compile_seconds(options.python, n, left)
            spent = time.perf_counter() - start
            compiles.append((n, seconds, spent))
            left -= spent

    labels = ", ".join(_label(n) for n in sizes)
    print(f"### diffrax {version}, n = {labels}\n")
    print("| jaxlint scale (lower only) | wall (s) | exit | verdict | ops_inlined per n | longest_run per n | flagged line | rule |")
    print("| --- | ---: | ---: | --- | --- | --- | --- | --- |")
    for v in verdicts:
        ops = " / ".join(f"{x:,}" for x in v["ops_inlined"])
        runs = " / ".join(f"{x:,}" for x in v["longest_run"])
        print(f"| {v['mode']} | {v['wall']:.1f} | {v['exit']} | {v['verdict']} | {ops} | {runs} | {v['line'] or '-'} | {', '.join(v['lint']) or '-'} |")
    if compiles:
        print("\n| XLA compile (fresh process each) | seconds |")
        print("| --- | ---: |")
        total, bounded = 0.0, False
        for n, seconds, spent in compiles:
            if seconds is None:
                shown = f"> {spent:.0f} (stopped: budget)" if spent else "not run (budget spent)"
                total += spent
                bounded = True
            else:
                shown = f"{seconds:.1f}"
                total += seconds
            print(f"| n = {_label(n)} | {shown} |")
        fast = verdicts[0]["wall"]
        relation = ">" if bounded else "="
        print(f"\nCompiling the three sizes: {relation} {total:.0f} s; jaxlint's verdict: {fast:.1f} s "
              f"(ratio {relation} {total / fast:.0f}×).")


if __name__ == "__main__":
    main()
