"""``[tool.jaxlint]`` from the nearest ``pyproject.toml`` (ruff's keys and meanings).

```toml
[tool.jaxlint]
select = ["JL"]                 # default: every rule
ignore = ["JL006"]
extend-select = []
exclude = []                    # replaces the default excluded folders (.git, .venv, build, ...)
extend-exclude = ["legacy/"]    # adds to them
per-file-ignores = { "tests/**" = ["JL002"], "__init__.py" = ["JL001"] }
max-file-size = 8               # MB; bigger files are reported (JL000), not parsed
respect-gitignore = true
traced = ["pkg.solve:run", "pkg.model:MLP.__call__"]  # entry points that users jit
```

Patterns are gitignore-style, relative to the folder holding the ``pyproject.toml``. The
nearest file *with a ``[tool.jaxlint]`` table* wins, searching upwards from the first checked
path (so a project checked from elsewhere still uses its own settings).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from jaxlint.rules._files import (
    DEFAULT_EXCLUDE, MAX_FILE_BYTES, IgnorePattern, PatternError, is_ignored, read_regular, resolve,
)

_SELECTOR = re.compile(r"^(ALL|JL\d{0,3})$")
_RULES_DIR = Path(__file__).resolve().parent
_MAX_CONFIG_BYTES = 4 * 1024 * 1024
_MAX_FILE_SIZE_MB = 1024  # a whole file is read into memory: more is a typo (or inf/nan)
_KEYS = {
    "select", "ignore", "extend-select", "exclude", "extend-exclude", "per-file-ignores",
    "max-file-size", "respect-gitignore", "traced",
}
# `traced` entries: "dotted.module:function" or "dotted.module:Class.method" (a class: __call__)
_ENTRY_POINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ConfigError(Exception):
    """Invalid ``[tool.jaxlint]`` table or selector: a usage error (exit 2)."""


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    """Every rule code, from the rule files' names (``jlNNN_<name>.py``, the catalogue's own
    convention) without importing them: a warm run never imports libcst. JL000 is the
    code of files that cannot be read or parsed."""
    return frozenset({"JL000", *(f"JL{f.name[2:5]}" for f in _RULES_DIR.glob("jl[0-9][0-9][0-9]_*.py"))})


def validate_selectors(values: Any, where: str) -> list[str]:
    """A list of selectors (``ALL``, ``JL``, ``JL0``, ``JL001``), upper-cased. A selector that
    selects no rule (``JL999``) is an error, as in ruff: it would silently check nothing."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: expected a list of rule codes, got {values!r}")
    out = []
    for value in values:
        upper = value.strip().upper()
        if not _SELECTOR.match(upper):
            raise ConfigError(f"{where}: {value!r} is not a rule code or prefix (ALL, JL, JL0, JL001)")
        if upper != "ALL" and not any(code.startswith(upper) for code in known_codes()):
            raise ConfigError(f"{where}: unknown rule code {value.strip()!r} (`jaxlint rules` lists them)")
        out.append(upper)
    return out


@dataclass
class Config:
    """The effective settings for one run."""

    root: Path  # folder of the pyproject.toml (or the search start)
    source: Path | None = None  # the pyproject.toml read, if any
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    default_exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    max_file_bytes: int = MAX_FILE_BYTES
    respect_gitignore: bool = True
    traced: list[str] = field(default_factory=list)  # declared entry points (see validate_entry_points)
    _per_file: list[tuple[IgnorePattern | None, list[str]]] | None = field(default=None, repr=False, compare=False)

    def exclude_patterns(self) -> list[IgnorePattern]:
        """Raises :class:`ConfigError` naming an invalid pattern."""
        base = resolve(self.root).as_posix()
        return [p for p in (_pattern(x, base, "exclude") for x in self.exclude) if p is not None]

    def ignored_codes_for(self, absolute: str) -> set[str]:
        """Codes (or prefixes) ``per-file-ignores`` switches off for this file."""
        if self._per_file is None:
            base = resolve(self.root).as_posix()
            self._per_file = [(_pattern(pattern, base, "per-file-ignores"), codes)
                              for pattern, codes in self.per_file_ignores.items()]
        codes: set[str] = set()
        for parsed, ignored in self._per_file:
            if parsed is not None and is_ignored([parsed], absolute, False):
                codes.update(ignored)
        return codes

    def fingerprint(self) -> str:
        """What of the config can change a file's findings (part of every cache key)."""
        return hashlib.blake2b(repr((self.max_file_bytes,)).encode(), digest_size=8).hexdigest()


def _pattern(pattern: str, base: str, key: str) -> IgnorePattern | None:
    try:
        return IgnorePattern.parse(pattern, base)
    except PatternError as error:
        raise ConfigError(f"{key}: invalid pattern {error}") from error


def _read_toml(file: Path) -> dict[str, Any]:
    data = read_regular(file, _MAX_CONFIG_BYTES)  # a FIFO or /dev/zero must not hang the run
    if not isinstance(data, bytes):
        raise ConfigError(f"{file}: {data or 'no such file'}")
    import tomllib  # here, not at the top: its regexes cost every run without a pyproject.toml

    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{file}: cannot read ({error})") from error
    except RecursionError as error:
        raise ConfigError(f"{file}: cannot read (nested too deeply)") from error


def _jaxlint_table(data: dict[str, Any], file: Path) -> Any:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{file}: `tool` must be a table, got {tool!r}")
    return tool.get("jaxlint")


def find_pyproject(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest pyproject.toml at or above ``start`` that has ``[tool.jaxlint]``."""
    start = resolve(start)
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        file = candidate / "pyproject.toml"
        if not file.is_file():
            continue
        table = _jaxlint_table(_read_toml(file), file)
        if table is not None:
            return file, table
    return None


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """The config for a run starting at ``start`` (or read from ``explicit``)."""
    if explicit is not None:
        data = _read_toml(explicit)
        table = _jaxlint_table(data, explicit)
        if table is None:
            table = data if explicit.name != "pyproject.toml" else {}
        found: tuple[Path, dict[str, Any]] | None = (explicit, table)
    else:
        found = find_pyproject(start)
    if found is None:
        start = resolve(start)
        return Config(root=start if start.is_dir() else start.parent)
    file, table = found
    return config_from_table(table, file)


def config_from_table(table: dict[str, Any], file: Path) -> Config:
    where = f"{file} [tool.jaxlint]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    config = Config(root=resolve(file).parent, source=file)
    if "select" in table:
        config.select = validate_selectors(table["select"], f"{where} select")
    config.ignore = validate_selectors(table.get("ignore", []), f"{where} ignore")
    config.extend_select = validate_selectors(table.get("extend-select", []), f"{where} extend-select")
    for key in ("exclude", "extend-exclude"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} {key}: expected a list of patterns, got {value!r}")
    if "exclude" in table:
        config.default_exclude = ()
        config.exclude = list(table["exclude"])
    config.exclude += list(table.get("extend-exclude", []))
    base = config.root.as_posix()
    for key in ("exclude", "extend-exclude"):
        for pattern in table.get(key, []):
            _pattern(pattern, base, f"{where} {key}")
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{where} per-file-ignores: expected a table of pattern = [codes]")
    config.per_file_ignores = {
        str(pattern): validate_selectors(codes, f"{where} per-file-ignores {pattern!r}")
        for pattern, codes in per_file.items()
    }
    for pattern in config.per_file_ignores:
        _pattern(pattern, base, f"{where} per-file-ignores")
    if "max-file-size" in table:
        size = table["max-file-size"]
        if not isinstance(size, (int, float)) or isinstance(size, bool) or not 0 < size <= _MAX_FILE_SIZE_MB:
            raise ConfigError(f"{where} max-file-size: expected a number of MB in (0, {_MAX_FILE_SIZE_MB}], got {size!r}")
        config.max_file_bytes = int(size * 1024 * 1024)
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{where} respect-gitignore: expected true or false")
        config.respect_gitignore = table["respect-gitignore"]
    if "traced" in table:
        config.traced = validate_entry_points(table["traced"], f"{where} traced")
    return config


def validate_entry_points(values: Any, where: str) -> list[str]:
    """Functions a library's users jit, declared traced: ``"pkg.module:function"`` or
    ``"pkg.module:Class.method"`` (a class alone means its ``__call__``)."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: expected a list of \"module:function\" strings, got {values!r}")
    out = []
    for value in values:
        if not _ENTRY_POINT.match(value.strip()):
            raise ConfigError(f"{where}: {value!r} is not \"module:function\" or \"module:Class.method\"")
        out.append(value.strip())
    return out


def merge_selection(
    config: Config,
    select: Sequence[str] | None,
    ignore: Sequence[str] | None,
    extend_select: Sequence[str] | None,
) -> tuple[list[str] | None, list[str], list[str]]:
    """Command-line selectors override the config's (``--select`` replaces, ``--ignore`` and
    ``--extend-select`` add), as in ruff."""
    chosen = validate_selectors(list(select), "--select") if select else config.select
    ignored = config.ignore + (validate_selectors(list(ignore), "--ignore") if ignore else [])
    extended = config.extend_select + (validate_selectors(list(extend_select), "--extend-select") if extend_select else [])
    return chosen, ignored, extended
