"""``jaxlint check --output-format sarif`` is valid SARIF 2.1.0, with percent-encoded URIs.

The schema is the OASIS one, shipped as tests/data/sarif-schema-2.1.0.json (from the
oasis-tcs/sarif-spec repository, sarif-2.1/schema/sarif-schema-2.1.0.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner

from jaxlint._check_cmd import check

jsonschema = pytest.importorskip("jsonschema", reason="needs the test extra jsonschema")

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
SOURCE = """\
import jax
import jax.numpy as jnp


@jax.jit
def init(y0, ts):
    return jnp.stack([y0] * len(ts))
"""
NAMES = ["100%.py", "a,b:c.py", "naïve ñ.py", "sub dir/#1?.py", "plain.py"]


def _sarif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *paths: str) -> dict:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(check, ["--no-cache", "--jobs", "1", "--output-format", "sarif", *paths])
    assert result.exit_code == 1, result.output
    return json.loads(result.output)


def test_output_validates_against_the_sarif_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(SOURCE)
    (tmp_path / "broken.py").write_text("def f(:\n")  # JL000 with its own descriptor
    log = _sarif(tmp_path, monkeypatch, ".")
    validator = jsonschema.Draft4Validator(SCHEMA)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    results = log["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["JL000"] + ["JL001"] * len(NAMES)


def test_artifact_uris_are_percent_encoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(SOURCE)
    log = _sarif(tmp_path, monkeypatch, *NAMES)
    uris = {}
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        fix_uri = result["fixes"][0]["artifactChanges"][0]["artifactLocation"]["uri"]
        assert fix_uri == uri
        uris[unquote(uri)] = uri
    assert sorted(uris) == sorted(NAMES)  # each decodes back to its path
    assert uris["100%.py"] == "100%25.py"
    assert uris["a,b:c.py"] == "a%2Cb%3Ac.py"  # a bare ':' would read as a URI scheme "a,b"
    assert uris["naïve ñ.py"] == "na%C3%AFve%20%C3%B1.py"
    assert uris["sub dir/#1?.py"] == "sub%20dir/%231%3F.py"
    assert uris["plain.py"] == "plain.py"
    for uri in uris.values():
        parts = urlsplit(uri)
        assert (parts.scheme, parts.query, parts.fragment) == ("", "", "")
        assert uri.isascii()


def test_absolute_paths_become_file_uris() -> None:
    from jaxlint.rules._output import artifact_uri

    assert artifact_uri("/home/me/100%.py") == "file:///home/me/100%25.py"
