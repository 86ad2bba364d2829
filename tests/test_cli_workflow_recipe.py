"""The README's GitHub workflow, run step by step in a scratch repository of plain scripts
(no pyproject.toml, no setup.py): the commands are read from the README itself, so the
recipe users copy is the one tested.

Stand-ins, on PATH before the real tools: ``pip`` resolves what it is asked to install
without installing it (``--dry-run --no-index --no-deps``: a path that is not installable
still fails, as on a runner), and ``gh`` records the PR comment it would post. ``jaxlint``
is the real one; ``${{ ... }}`` expressions get test values.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="needs PyYAML (installed with pre-commit, a test extra)")

ROOT = Path(__file__).resolve().parents[1]
SOLVE = """\
import jax.numpy as jnp

from jaxlint.solver import ODETerm, PIDController, SaveAt, Tsit5, diffeqsolve


def field(t, y, args):
    return -y


ts = jnp.linspace(0.0, 1.0, 100)
solution = diffeqsolve(ODETerm(field), Tsit5(), 0.0, 1.0, None, jnp.ones(2), saveat=SaveAt(ts=ts),
                       stepsize_controller=PIDController(rtol=1e-4, atol=1e-6))
print(solution.ys[-1])
"""


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _workflow() -> dict:
    (block,) = [b for b in _readme_blocks("yaml") if "jobs:" in b]
    return yaml.safe_load(block)


def _save_baseline_command() -> str:
    commands = [line for block in _readme_blocks("bash") for line in block.splitlines() if "--save-baseline" in line]
    (command,) = commands
    return command


def _expressions(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([^}]*?)\s*\}\}", lambda m: values[m.group(1)], text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "solve.py").write_text(SOLVE)
    (repo / "requirements.txt").write_text("equinox\n")  # installed here: pip resolves it offline
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "pip").write_text(
        "#!/bin/sh\n"
        f'[ "$1" = install ] || exit 2\nshift\n'
        f'echo "pip install $*" >> {shlex.quote(str(tmp_path / "pip.log"))}\n'
        f"exec {shlex.quote(sys.executable)} -m pip install --dry-run --no-index --no-deps --no-build-isolation -q \"$@\"\n"
    )
    (shims / "gh").write_text(
        "#!/bin/sh\n"
        f'echo "gh $*" >> {shlex.quote(str(tmp_path / "gh.log"))}\n'
    )
    for shim in shims.iterdir():
        shim.chmod(0o755)
    return repo


def _run_step(step: dict, repo: Path, values: dict[str, str]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{repo.parent / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("NO_COLOR", None)
    for name, value in step.get("env", {}).items():
        env[name] = _expressions(str(value), values)
    script = _expressions(step["run"], values)
    return subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_readme_workflow_on_a_repository_of_plain_scripts(repo: Path) -> None:
    values = {"vars.JAXLINT_SOURCE": str(ROOT), "github.event.pull_request.number": "7", "github.token": "t"}
    steps = [s for s in _workflow()["jobs"]["scale"]["steps"] if "run" in s]
    install, gate, report = steps
    assert report.get("if") == "failure()"

    installed = _run_step(install, repo, values)
    assert installed.returncode == 0, installed.stderr
    pip_log = (repo.parent / "pip.log").read_text().splitlines()
    assert pip_log == ["pip install -r requirements.txt", f"pip install {ROOT}"]  # no `pip install .`

    # Recorded once, committed: the README's --save-baseline command.
    saved = _run_step({"run": _save_baseline_command()}, repo, values)
    assert saved.returncode == 0, saved.stderr
    assert (repo / ".jaxlint-scale.json").is_file()

    passing = _run_step(gate, repo, values)
    assert passing.returncode == 0, passing.stdout + passing.stderr

    # A change that makes the solve's program bigger (still flat in n) fails the 5% gate ...
    bigger = "for _ in range(40):\n        y = jnp.tanh(y) * 0.5\n    return -y"
    (repo / "solve.py").write_text(SOLVE.replace("return -y", bigger))
    failing = _run_step(gate, repo, values)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "::error" in failing.stdout
    # ... and the failure step posts the markdown report as a PR comment.
    commented = _run_step(report, repo, values)
    assert commented.returncode == 0, commented.stderr
    assert (repo.parent / "gh.log").read_text() == "gh pr comment 7 --body-file scale.md\n"
    comment = (repo / "scale.md").read_text()
    assert comment.startswith("## jaxlint scale: FAIL") and "longest_run at n=30000: 4 → 40" in comment, commented.stderr
