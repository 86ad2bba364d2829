"""A file no rule can fire on is settled without importing the rules (libcst): the rules'
selection data come from the cache, keyed by the rule sources, and shape-checked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from jaxlint.rules import check_paths
from jaxlint.rules._catalogue import all_rules
from jaxlint.rules._rule_spec import RuleSpec, is_spec_table

CLEAN = "import os\n\n\ndef helper(folder):\n    return os.path.join(folder, 'a')\n"
FINDING = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp


    @jax.jit
    def init(y0, ts):
        return jnp.stack([y0] * len(ts))
    """
)


def _project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "util.py").write_text(CLEAN)
    (tmp_path / "model.py").write_text(FINDING)
    return tmp_path


def _check_in_fresh_process(project: Path, *paths: str) -> dict:
    script = (
        "import json, sys\n"
        "from jaxlint.rules import check_paths\n"
        f"result = check_paths({list(paths)!r}, cache_dir=__import__('pathlib').Path({str(project / '.cache')!r}))\n"
        "print(json.dumps({'codes': sorted(f.code for f in result.findings), 'libcst': 'libcst' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_spec_mirrors_every_rule() -> None:
    for rule in all_rules():
        spec = RuleSpec.of(rule)
        assert RuleSpec.from_row(spec.to_row()) == spec
        for text in ("", "for x in y", "jnp.stack([a] * n)", "lax.cond(p, f, g)"):
            assert spec.prefilter_matches(text) == rule.prefilter_matches(text)


def test_changed_clean_file_is_settled_without_libcst(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _check_in_fresh_process(project, "util.py")
    assert first == {"codes": [], "libcst": True}  # the first run learns the rules' specs
    (project / "util.py").write_text(CLEAN + "# edited\n")  # a changed file: no cached result
    second = _check_in_fresh_process(project, "util.py")
    assert second == {"codes": [], "libcst": False}
    # A file a rule can fire on is still linted (libcst imported) and its finding reported.
    third = _check_in_fresh_process(project, "util.py", "model.py")
    assert third == {"codes": ["JL001"], "libcst": True}


def test_bad_spec_table_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    project = _project(tmp_path)
    check_paths([project / "model.py"], cache_dir=project / ".cache")
    table = project / ".cache" / "rules.json"
    loaded = json.loads(table.read_text())
    (fingerprint, rows), = loaded["entries"].items()
    assert is_spec_table(rows)
    # A row of the wrong shape (a planted file, an old format) voids the table: every rule is
    # imported again and the finding is still there.
    loaded["entries"][fingerprint] = [["JL001", "yes", [], []]]
    table.write_text(json.dumps(loaded))
    (project / "model.py").write_text(FINDING + "\n")
    result = check_paths([project / "model.py"], cache_dir=project / ".cache")
    assert [f.code for f in result.findings] == ["JL001"]
    assert is_spec_table(json.loads(table.read_text())["entries"][fingerprint])
