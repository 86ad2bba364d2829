"""Share of methods (and plain functions) that ``jaxlint check``'s call graph marks traced.

For each library, every ``.py`` file of its installed package (the venv's site-packages, or
an unpacked wheel given with ``--root``) is summarised and the project call graph is built,
as ``jaxlint check <package>`` does. A *method* is a function defined directly in a class body;
a *plain function* is any other function. Prints one markdown table row per library.

Usage::

    python benchmarks/traced_share.py                       # diffrax equinox lineax optimistix optax
    python benchmarks/traced_share.py --root ~/.cache/jaxlint-bench/src diffrax
    python benchmarks/traced_share.py --untraced diffrax    # list the methods left untraced
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

LIBRARIES = ("diffrax", "equinox", "lineax", "optimistix", "optax")


def package_folder(name: str, root: Path | None) -> Path | None:
    if root is not None:
        folder = root / name
        return folder if folder.is_dir() else None
    try:
        module = __import__(name)
    except ImportError:
        return None
    return Path(module.__file__).resolve().parent


def measure(folder: Path) -> tuple[dict[str, int], list[str], float]:
    """Counts (methods, traced methods, functions, traced functions), untraced methods, seconds."""
    from jaxlint.rules._callgraph import summarize_module, traced_functions

    start = time.process_time()
    summaries = {}
    base = folder.parent
    for file in sorted(folder.rglob("*.py")):
        relative = file.relative_to(base)
        parts = list(relative.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        try:
            text = file.read_text(encoding="utf-8")
            summaries[str(relative)] = summarize_module(text, ".".join(parts), is_package)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            continue
    traced = traced_functions(summaries)
    seconds = time.process_time() - start
    counts = {"methods": 0, "methods_traced": 0, "functions": 0, "functions_traced": 0}
    untraced: list[str] = []
    for path, summary in summaries.items():
        mine = traced.get(path, {})
        for qual in summary.functions:
            parent = qual.rpartition(".")[0]
            kind = "methods" if parent and parent in summary.classes else "functions"
            counts[kind] += 1
            if qual in mine:
                counts[f"{kind}_traced"] += 1
            elif kind == "methods":
                untraced.append(f"{path}::{qual}")
    return counts, untraced, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", default=list(LIBRARIES))
    parser.add_argument("--root", type=Path, default=None, help="folder holding unpacked packages")
    parser.add_argument("--untraced", action="store_true", help="also list the untraced methods")
    args = parser.parse_args(argv)
    print("| library | methods | traced methods | plain functions | traced functions | graph CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.libraries:
        folder = package_folder(name, args.root)
        if folder is None:
            print(f"| {name} | not installed | | | | |")
            continue
        counts, untraced, seconds = measure(folder)
        m, mt = counts["methods"], counts["methods_traced"]
        f, ft = counts["functions"], counts["functions_traced"]
        print(f"| {name} | {m} | {mt} ({100 * mt / max(m, 1):.0f} %) | {f} | {ft} ({100 * ft / max(f, 1):.0f} %) | {seconds:.2f} |")
        if args.untraced:
            for item in untraced:
                print(f"    untraced: {item}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
