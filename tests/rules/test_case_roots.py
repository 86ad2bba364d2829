"""What a `@jaxlint.case` factory returns is lowered by `jaxlint scale`: it is traced code."""

from jaxlint.rules import check_source

FACTORY = '''
import jax.numpy as jnp
{imports}


{decorator}
def python_loop(n):
    def solve(y0, dt):
        y = y0
        for _ in range(n):
            y = y + dt * -y
        return y

    return solve, (jnp.ones(3), 0.01)
'''


def findings(imports: str, decorator: str) -> list[tuple[str, int, str]]:
    source = FACTORY.format(imports=imports, decorator=decorator)
    return [(f.code, f.line, f.message) for f in check_source(source, "cases.py", select=["JL002"])]


def test_function_returned_by_a_jaxlint_case_is_traced():
    ((code, line, message),) = findings("import jaxlint", "@jaxlint.case")
    assert (code, line) == ("JL002", 10)
    assert "`solve` is lowered by `jaxlint scale` (returned by a @jaxlint.case) at cases.py:14" in message


def test_imported_case_marker_counts_too():
    assert [(c, l) for c, l, _ in findings("from jaxlint import case", "@case")] == [("JL002", 10)]


def test_another_libraries_case_decorator_is_not_a_root():
    assert findings("from pytest_cases import case", "@case") == []
    assert findings("import jaxlint", "") == []
