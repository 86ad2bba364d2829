"""Pre-commit latency: one small file through `jaxlint check`, start to exit (issue 13 target:
<= 0.3 s wall). What a hook pays on every commit that touches a Python file: Python start-up,
imports, config, the project's call graph, linting the file, printing.

Runs each command --runs times in a fresh process and prints min / median wall seconds and
min CPU seconds (user + sys of the child: less sensitive to a busy machine than wall time).
The file is a jitted function with one JL001 finding; `--no-cache` makes every run lint it
(a changed file in pre-commit is never in the cache), and the cached run is shown too.

    python benchmarks/check_latency.py --runs 15 [--jaxlint PATH-TO-jaxlint ...]

Without ``--jaxlint`` the checkout is installed as pre-commit installs a hook's repository:
a non-editable wheel in a fresh virtual environment, byte-compiled (the dependencies come
from this environment through a ``.pth`` line, so nothing is downloaded). An editable
install, or ``PYTHONDONTWRITEBYTECODE`` in the environment, re-compiles jaxlint's modules on
every run and measures a start-up no user sees; the children run without that variable.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

SOURCE = """\
import jax
import jax.numpy as jnp


@jax.jit
def init_buffer(y0, ts):
    return jnp.stack([y0] * len(ts))
"""


def run(command: list[str], cwd: str, runs: int) -> tuple[float, float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_child_env())
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if completed.returncode != 1:  # one finding expected
            raise SystemExit(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.decode()}")
    return min(walls), statistics.median(walls), min(cpus)


def install_wheel(folder: str) -> str:
    """A fresh venv holding a non-editable, byte-compiled install of this checkout; returns its
    ``jaxlint``."""
    import site
    import sys
    import venv

    repository = Path(__file__).resolve().parent.parent
    environment = Path(folder, "venv")
    venv.create(environment, with_pip=True)
    purelib = next(environment.glob("lib/python*/site-packages"))
    (purelib / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = environment / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(repository)],
                   check=True, env=_child_env())
    return str(environment / "bin" / "jaxlint")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--jaxlint", action="append", default=None,
                        help="jaxlint executables to compare (default: the one on PATH)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jaxlint-latency-") as folder:
        executables = options.jaxlint or [install_wheel(folder)]
        project = Path(folder, "project")
        project.mkdir()
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        Path(project, "model.py").write_text(SOURCE)
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for executable in executables:
            for label, extra in (("--no-cache", ["--no-cache"]), ("cached", [])):
                wall_min, wall_median, cpu_min = run([executable, "check", *extra, "model.py"], str(project), options.runs)
                print(f"{executable} check {label}: wall min {wall_min:.3f} s, median {wall_median:.3f} s; "
                      f"CPU min {cpu_min:.3f} s ({options.runs} runs)")


if __name__ == "__main__":
    main()
