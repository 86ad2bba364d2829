"""The wheel installs `jaxlint.*` only, and imports from a fresh virtual environment."""

import os
import site
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), ROOT],
        check=True,
    )
    (name,) = [f for f in os.listdir(out) if f.endswith(".whl")]
    return os.path.join(out, name)


def test_wheel_holds_only_the_jaxlint_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"jaxlint", *[t for t in tops if t.endswith(".dist-info")]}
    for part in ("analyzer", "solver", "rules"):
        assert f"jaxlint/{part}/__init__.py" in names
    assert "jaxlint/__main__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "jaxlint = jaxlint.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_imports_from_a_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    fresh_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        check=True,
    )
    # Dependencies (jax, equinox, ...) come from this environment, appended after the fresh
    # site-packages; .pth files there are not processed, so no editable finder leaks in.
    with open(os.path.join(fresh_site, "deps.pth"), "w") as handle:
        handle.write("\n".join(site.getsitepackages()) + "\n")
    script = (
        "import importlib.util, jaxlint, jaxlint.analyzer, jaxlint.solver, jaxlint.rules\n"
        f"assert jaxlint.__file__.startswith({fresh_site!r}), jaxlint.__file__\n"
        f"assert jaxlint.solver.__file__.startswith({fresh_site!r})\n"
        "for generic in ('analyzer', 'solver', 'rules', 'cli'):\n"
        "    assert importlib.util.find_spec(generic) is None, generic\n"
        "print(jaxlint.__version__)\n"
    )
    completed = subprocess.run([python, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    completed = subprocess.run([str(venv / "bin" / "jaxlint"), "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
