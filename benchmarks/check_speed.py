"""How fast is ``jaxlint check`` on a real tree, next to ruff and Fixit measured in the same run.

The tree: the installed sources of jax, equinox and diffrax (~750 files, ~340k lines), copied
to a scratch folder (so the cache lands there, not in the environment). Measured, each as a
fresh subprocess, wall and CPU seconds (children's rusage):

- ruff ``check --no-cache`` (its default rules) and Fixit ``lint`` (its default rules), from a
  scratch venv (``--peers``, default /tmp/peers: ``python -m venv /tmp/peers &&
  /tmp/peers/bin/pip install ruff fixit``);
- jaxlint cold (``--no-cache``), cold writing an empty cache, warm (cache, nothing changed)
  through the ``jaxlint`` entry point and through the check command's module alone, and
  warm after touching one file's content; all with ``--jobs 2``;
- for reference: bare libcst parsing of the whole tree on one core, and the import time of
  ``jaxlint.cli`` (part of every command's wall time, whatever the command does).

Usage::

    python benchmarks/check_speed.py                   # print the markdown section
    python benchmarks/check_speed.py --update-results  # also (re)write it in RESULTS.md
    python benchmarks/check_speed.py --skip-fixit      # Fixit takes minutes

The machine is shared: compare ratios within one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("jax", "equinox", "diffrax")
SECTION = "## jaxlint check speed"
HERE = Path(__file__).resolve().parent


def site_packages() -> Path:
    import jax

    return Path(jax.__file__).resolve().parents[1]


def copy_tree(destination: Path) -> tuple[int, int]:
    """Copy the .py sources of the packages; returns (files, lines)."""
    files = lines = 0
    root = site_packages()
    for package in PACKAGES:
        for source in (root / package).rglob("*.py"):
            target = destination / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            files += 1
            with open(source, "rb") as stream:
                lines += sum(1 for _ in stream)
    return files, lines


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process tree, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}): {completed.stderr.decode()[-2000:]}")
    return wall, cpu, completed.returncode


def libcst_parse_seconds(tree: Path) -> float:
    code = (
        "import sys, time, pathlib, libcst\n"
        "files = sorted(pathlib.Path(sys.argv[1]).rglob('*.py'))\n"
        "start = time.perf_counter()\n"
        "for f in files:\n"
        "    try: libcst.parse_module(f.read_text())\n"
        "    except Exception: pass\n"
        "print(time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def engine_counts(tree: Path) -> tuple[int, int, int]:
    """(files checked, files libcst parsed, findings) of one cold in-process run."""
    from jaxlint.rules import check_paths

    cwd = os.getcwd()
    os.chdir(tree)
    try:
        result = check_paths(["."], use_cache=False, jobs=2)
    finally:
        os.chdir(cwd)
    return result.files_checked, result.files_parsed, len(result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=Path("/tmp/peers"), help="venv with ruff and fixit")
    parser.add_argument("--skip-fixit", action="store_true")
    parser.add_argument("--skip-libcst", action="store_true", help="skip the bare libcst parse reference")
    parser.add_argument("--update-results", action="store_true", help=f"write the section into {HERE / 'RESULTS.md'}")
    args = parser.parse_args()

    jaxlint = [str(Path(sys.executable).with_name("jaxlint")), "check", ".", "--jobs", "2", "--exit-zero"]
    work = Path(tempfile.mkdtemp(prefix="jaxlint-speed-"))
    tree = work / "tree"
    files, lines = copy_tree(tree)
    rows: list[tuple[str, float, float]] = []
    try:
        ruff = str(args.peers / "bin" / "ruff")
        rows.append(("ruff check --no-cache (default rules)", *timed([ruff, "check", ".", "--no-cache", "--exit-zero", "-q"], tree)[:2]))
        rows.append(("jaxlint check --no-cache (cold)", *timed([*jaxlint, "--no-cache"], tree)[:2]))
        rows.append(("jaxlint check (cold, writes the cache)", *timed(jaxlint, tree)[:2]))
        rows.append(("jaxlint check (warm: cached, nothing changed)", *timed(jaxlint, tree)[:2]))
        # The same warm run without importing the other commands' modules (cli.py imports
        # them all eagerly: the analyzer pulls in jax): what the check itself costs.
        module_only = [sys.executable, "-c", "from jaxlint._check_cmd import check; check()", *jaxlint[2:]]
        rows.append(("jaxlint check (warm), check command module only", *timed(module_only, tree)[:2]))
        edited = tree / "diffrax" / "_integrate.py"
        edited.write_text(edited.read_text() + "\n# edited\n")
        rows.append(("jaxlint check (warm, one file edited)", *timed(jaxlint, tree)[:2]))
        if not args.skip_fixit:
            fixit = str(args.peers / "bin" / "fixit")
            rows.append(("fixit lint (default rules)", *timed([fixit, "lint", "."], tree)[:2]))
        libcst_seconds = None if args.skip_libcst else libcst_parse_seconds(tree)
        cli_import = import_seconds("jaxlint.cli")
        rules_import = import_seconds("jaxlint.rules._engine")
        checked, parsed, findings = engine_counts(tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    by_name = {name: (wall, cpu) for name, wall, cpu in rows}
    ruff_wall = by_name["ruff check --no-cache (default rules)"][0]
    cold_wall = by_name["jaxlint check --no-cache (cold)"][0]
    warm_wall = by_name["jaxlint check (warm: cached, nothing changed)"][0]
    out = [
        SECTION,
        "",
        f"Command: `python benchmarks/check_speed.py{' --skip-fixit' if args.skip_fixit else ''}` "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end: the machine is shared, read the ratios).",
        "",
        f"Tree: installed sources of {', '.join(PACKAGES)}: {files} files, {lines:,} lines.",
        f"jaxlint checked {checked} files, parsed {parsed} with libcst (the rest were skipped by the",
        f"PREFILTER/REQUIRES pre-filter on the ast summary), {findings} findings.",
        "",
        "| run | wall s | CPU s | wall vs ruff |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, wall, cpu in rows:
        out.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / ruff_wall:.1f}x |")
    out.append("")
    if "fixit lint (default rules)" in by_name:
        out.append(f"- Fixit / jaxlint cold (wall): {by_name['fixit lint (default rules)'][0] / cold_wall:.1f}x.")
    if libcst_seconds is not None:
        out.append(f"- Bare libcst parsing of the whole tree, one core: {libcst_seconds:.1f} s "
                   f"({libcst_seconds / cold_wall:.1f}x jaxlint's cold wall time).")
    out.append(f"- `import jaxlint.cli` alone: {cli_import:.2f} s of every command's wall time "
               f"(`import jaxlint.rules._engine`: {rules_import:.2f} s); warm minus that: "
               f"{max(warm_wall - cli_import, 0):.2f} s.")
    out.append("- Targets (issue 4): cold <= 15 s on 2 cores, warm <= 0.5 s.")
    text = "\n".join(out) + "\n"
    print(text)
    if args.update_results:
        results = HERE / "RESULTS.md"
        existing = results.read_text() if results.exists() else "# Benchmark results\n"
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(existing):
            updated = pattern.sub(lambda _: text + "\n", existing)
        else:
            updated = existing.rstrip("\n") + "\n\n" + text
        results.write_text(updated)


if __name__ == "__main__":
    main()
