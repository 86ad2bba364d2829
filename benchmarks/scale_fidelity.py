"""Does `jaxlint scale SCRIPT` report the growth of the program the user compiles?

    python benchmarks/scale_fidelity.py [--n 16,64]

For each script: the user's jitted function lowered by hand at each n (`runpy` the script,
then `jaxlint.analyzer.measure(ns[FUNCTION], abstract arguments at n)`), against what `scale`
measures for the script's solve call (`prepared_cases` + `measure_at`: the function re-traced
with the solve resized to n), and against the solve re-lowered on its own (what `scale` did
before). Run it with the interpreter whose diffrax you want (0.6.1 shows the growth).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import runpy
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp

from jaxlint.analyzer import measure
from jaxlint.analyzer.cases import Target
from jaxlint.analyzer.scale import measure_at, prepared_cases
from jaxlint.analyzer.script import ScriptRun, build_call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S = jax.ShapeDtypeStruct
F32 = jnp.float32

SCRIPTS = {
    "examples/diffrax_606.py": ("solve", lambda n: (S((3,), F32), S((n,), F32))),
    "tests/analyzer/solve_scripts/train_step_diffrax.py": (
        "step", lambda n: ({"rate": S((2,), F32), "drive": S((2,), F32)}, S((2,), F32), S((n,), F32), S((n, 2), F32)),
    ),
}


def growth(ns: list[int], counts: list[float]) -> float:
    return (counts[-1] - counts[0]) / (ns[-1] - ns[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="16,64")
    ns = [int(x) for x in parser.parse_args().n.split(",")]
    import diffrax

    print(f"diffrax {diffrax.__version__}, n = {ns}")
    for relative, (function, make_args) in SCRIPTS.items():
        path = os.path.join(ROOT, relative)
        with contextlib.redirect_stdout(sys.stderr):
            namespace = runpy.run_path(path, run_name="by_hand")
        hand = [measure(namespace[function], make_args(n), n=n).figures["ops"] for n in ns]
        with contextlib.redirect_stdout(sys.stderr), prepared_cases(Target(path, None)) as cases:
            ours = [measure_at(cases[0], n).measurement.figures["ops"] for n in ns]
        with contextlib.redirect_stdout(sys.stderr), ScriptRun(path) as capture:
            bare = [measure(*build_call(capture.calls[0], n), n=n).figures["ops"] for n in ns]
        print(f"{relative} ({function}): by hand {hand} ({growth(ns, hand):+.4f}/n); "
              f"jaxlint scale {ours} ({growth(ns, ours):+.4f}/n); the solve alone {bare} ({growth(ns, bare):+.4f}/n)", flush=True)


if __name__ == "__main__":
    main()
