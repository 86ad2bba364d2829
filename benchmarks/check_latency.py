"""Pre-commit latency: one small file through `jaxlint check`, start to exit (issue 13 target:
<= 0.3 s wall). What a hook pays on every commit that touches a Python file: Python start-up,
imports, config, the project's call graph, linting the file, printing.

Runs each command --runs times in a fresh process and prints min / median wall seconds and
min CPU seconds (user + sys of the child: less sensitive to a busy machine than wall time).
Scenarios: `model.py`, a jitted function with one JL001 finding, with `--no-cache` and edited
before every run (a commit changes it: never in the results cache, while the project's other
cache tables are warm); `util.py`, a helper no rule can fire on, edited before every run; and
`model.py` unchanged (its result cached).

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


CLEAN = """\
import os


def output_folder(root, name):
    return os.path.join(root, "runs", name)
"""


def run(command: list[str], cwd: str, runs: int, expected_exit: int = 1,
        edit: Path | None = None) -> tuple[float, float, float]:
    """Min and median wall seconds and min CPU seconds of ``runs`` fresh processes; ``edit``:
    a file changed before every run (a comment appended), as a commit changes it."""
    walls, cpus = [], []
    for index in range(runs):
        if edit is not None:
            edit.write_text(edit.read_text() + f"# edit {index}\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_child_env())
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if completed.returncode != expected_exit:
            raise SystemExit(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.decode()}")
    return min(walls), statistics.median(walls), min(cpus)


def install_wheel(folder: str) -> str:
    """A fresh venv holding a non-editable, byte-compiled install of this checkout; returns its
    ``jaxlint``."""
    import site
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
                        help="jaxlint executables to compare (default: this checkout, installed as pre-commit installs it)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jaxlint-latency-") as folder:
        executables = options.jaxlint or [install_wheel(folder)]
        project = Path(folder, "project")
        project.mkdir()
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        model, util = Path(project, "model.py"), Path(project, "util.py")
        model.write_text(SOURCE)
        util.write_text(CLEAN)
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for executable in executables:
            # (label, arguments, expected exit, file edited before each run)
            scenarios = (
                ("model.py --no-cache", ["--no-cache", "model.py"], 1, None),
                ("model.py changed, cache warm", ["model.py"], 1, model),
                ("util.py (no rule applies) changed, cache warm", ["util.py"], 0, util),
                ("model.py unchanged (cached)", ["model.py"], 1, None),
            )
            for label, arguments, expected_exit, edit in scenarios:
                wall_min, wall_median, cpu_min = run([executable, "check", *arguments], str(project), options.runs,
                                                     expected_exit, edit)
                print(f"{label}: wall min {wall_min:.3f} s, median {wall_median:.3f} s; "
                      f"CPU min {cpu_min:.3f} s ({options.runs} runs)")


if __name__ == "__main__":
    main()
