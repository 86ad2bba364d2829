"""JL009 (a fresh function jitted per call) is about eager callers: a library function that only
the project's tests jit is still called eagerly by its users, so the finding stands when the
tests are checked too (numpyro #2171's shape). Jitted by the library itself, it is inlined."""

from __future__ import annotations

from pathlib import Path

from jaxlint.rules import check_paths

LIB = "import jax\n\n\ndef predict(params, x):\n    model = jax.jit(lambda p, v: p * v)\n    return model(params, x)\n"
TEST = "import jax\n\nfrom pkg.lib import predict\n\n\ndef test_predict():\n    assert jax.jit(predict)(2.0, 3.0) == 6.0\n"
SOLVE = "import jax\n\nfrom pkg.lib import predict\n\n\n@jax.jit\ndef solve(p, x):\n    return predict(p, x)\n"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def codes(root: Path) -> list[tuple[str, str]]:
    findings = check_paths([root], select=["JL009"], use_cache=False).findings
    return [(Path(f.path).relative_to(root).as_posix() if Path(f.path).is_absolute() else f.path, f.code) for f in findings]


def test_traced_only_by_a_test_still_reports(tmp_path: Path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/lib.py": LIB, "tests/test_lib.py": TEST})
    assert codes(tmp_path) == [("pkg/lib.py", "JL009")]


def test_traced_by_the_library_is_inlined(tmp_path: Path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/lib.py": LIB, "pkg/solve.py": SOLVE})
    assert codes(tmp_path) == []
