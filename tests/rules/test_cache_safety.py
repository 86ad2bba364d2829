"""The cache is data only: a planted or corrupted ``.jaxlint_cache`` never runs code, never
hangs the run, and is ignored (then rebuilt) whenever it is not exactly what jaxlint wrote."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from jaxlint.rules import check_paths
from jaxlint.rules._cache_format import CacheFormatError, dumps, loads
from jaxlint.rules._findings import Edit, Finding, Fix

JITTED_REPEAT = "import jax\nimport jax.numpy as jnp\n\n\n@jax.jit\ndef init(y0, ts):\n    return jnp.stack([y0] * len(ts))\n"
TABLES = ("summaries", "facts", "results")


class _Exploit:
    """Unpickling this writes a marker file: proof that pickle.load ran attacker code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def run(root: Path, **options):
    return check_paths([root], select=["JL001"], **options)


def test_planted_pickle_cache_is_never_loaded(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    marker = tmp_path.parent / f"{tmp_path.name}-pwned"
    cache = tmp_path / ".jaxlint_cache"
    cache.mkdir()
    for name in TABLES:
        payload = pickle.dumps({"version": "3", "entries": {"x": _Exploit(marker)}})
        (cache / f"{name}.pickle").write_bytes(payload)
        (cache / f"{name}.json").write_bytes(payload)  # the same bytes where JSON is expected
    result = run(tmp_path)
    assert not marker.exists()
    assert [f.code for f in result.findings] == ["JL001"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"version": "4"}',
        '{"version": "4", "entries": []}',
        '{"version": "4", "entries": {"k": 5}}',  # an entry of the wrong type
        '{"version": "4", "entries": {"k": {"\\u0000jaxlint": "os.system", "v": {"command": "true"}}}}',
        '{"version": "4", "entries": {"k": {"\\u0000jaxlint": "Finding", "v": {"nope": 1}}}}',
        '{"version": "4", "entries": {"k": {"\\u0000jaxlint": "frozenset", "v": [[1]]}}}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["garbage", "list", "no-entries", "entries-list", "wrong-type", "unknown-class", "bad-fields",
         "unhashable", "deep"],
)
def test_unexpected_cache_content_is_ignored_and_rebuilt(tmp_path: Path, content: str) -> None:
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    cache = tmp_path / ".jaxlint_cache"
    cache.mkdir()
    for name in TABLES:
        (cache / f"{name}.json").write_text(content)
    result = run(tmp_path)
    assert [f.code for f in result.findings] == ["JL001"]
    assert result.cache_hits == 0
    # Rebuilt: the next run is served from a cache jaxlint wrote itself.
    assert json.loads((cache / "results.json").read_text())["version"]
    assert run(tmp_path).cache_hits == 1


def test_fifo_in_cache_folder_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    cache = tmp_path / ".jaxlint_cache"
    cache.mkdir()
    for name in TABLES:
        os.mkfifo(cache / f"{name}.json")
    result = run(tmp_path)
    assert [f.code for f in result.findings] == ["JL001"]


def test_round_trip_keeps_every_value_type() -> None:
    finding = Finding("a.py", 1, 2, 3, 4, "JL001", "stack", "msg", Fix("safe", (Edit(1, 2, 3, 4, "x", 5, 6),)), None)
    value = {"t": (1, "a", None), "f": frozenset({"x", "y"}), "s": {1.5}, "n": {(1, 2): [finding]}, "\u0000jaxlint": 1}
    assert loads(dumps(value)) == value


def test_unknown_class_is_a_format_error() -> None:
    with pytest.raises(CacheFormatError):
        loads('{"\\u0000jaxlint": "builtins.eval", "v": {"source": "1"}}')
    with pytest.raises(TypeError):
        dumps(object())
