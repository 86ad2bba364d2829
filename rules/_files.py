"""Finding the files to check and reading them safely.

Discovery follows ruff: every ``.py``/``.pyi``/``.ipynb`` under the given paths, minus the
default excluded folders (``.git``, ``.venv``, ``build``, ...), the config's ``exclude`` /
``extend-exclude`` patterns and the ``.gitignore`` files of the repository. Folder symlinks
are not followed while walking (no loops); a path named explicitly is always checked unless a
config exclude pattern matches it (pre-commit passes file names, and excluded files must stay
excluded then too).

Reading never raises: a file that cannot be read, is binary, is not valid text in its declared
encoding, or is too large becomes a :class:`ReadProblem` the engine reports as a ``JL000``
finding, so a CI gate never passes silently on a file it could not look at.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pytest_cache", ".pytype", ".ruff_cache", ".jaxlint_cache", ".svn", ".tox",
    ".venv", ".vscode", "__pypackages__", "__pycache__", "_build", "buck-out", "build", "dist",
    "node_modules", "site-packages", "venv",
)
MAX_FILE_BYTES = 8 * 1024 * 1024  # libcst needs ~2 s per MB: a bigger file is generated code


class MissingPathError(Exception):
    """A path named on the command line does not exist (a usage error: exit 2)."""


# --- gitignore-style patterns -----------------------------------------------------------------
def _glob_to_regex(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        elif char == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class IgnorePattern:
    """One gitignore line, relative to ``base`` (the folder of its file / the config)."""

    base: str  # absolute folder, posix
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool

    @classmethod
    def parse(cls, line: str, base: str) -> "IgnorePattern | None":
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            return None
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            return None
        anchored = "/" in line
        line = line.lstrip("/")
        body = _glob_to_regex(line)
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "(?:/.*)?$")
        return cls(base.rstrip("/"), regex, negated, directory_only)

    def verdict(self, absolute: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by ``!``; None: this pattern says nothing."""
        if not absolute.startswith(self.base + "/"):
            return None
        relative = absolute[len(self.base) + 1 :]
        match = self.regex.match(relative)
        if match is None:
            return None
        # "build/" only matches folders, but a file *under* a matched folder is matched too.
        if self.directory_only and not is_dir and "/" not in relative:
            return None
        return not self.negated


def is_ignored(patterns: Sequence[IgnorePattern], absolute: str, is_dir: bool) -> bool:
    """gitignore semantics: the last pattern with a verdict wins."""
    ignored = False
    for pattern in patterns:
        verdict = pattern.verdict(absolute, is_dir)
        if verdict is not None:
            ignored = verdict
    return ignored


@lru_cache(maxsize=4096)
def _gitignore_patterns(folder: str) -> tuple[IgnorePattern, ...]:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as stream:
            lines = stream.readlines()
    except OSError:
        return ()
    return tuple(p for p in (IgnorePattern.parse(line, folder) for line in lines) if p is not None)


def _repository_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _inherited_gitignores(folder: Path) -> list[IgnorePattern]:
    """.gitignore patterns of the folders above ``folder``, up to the repository root."""
    root = _repository_root(folder)
    if root is None:
        return []
    chain = [folder, *folder.parents]
    chain = chain[: chain.index(root) + 1] if root in chain else [folder]
    patterns: list[IgnorePattern] = []
    for ancestor in reversed(chain[1:]):
        patterns.extend(_gitignore_patterns(ancestor.as_posix()))
    return patterns


# --- discovery ----------------------------------------------------------------------------------
def discover(
    paths: Iterable[str | Path],
    exclude: Sequence[IgnorePattern] = (),
    default_exclude: Sequence[str] = DEFAULT_EXCLUDE,
    respect_gitignore: bool = True,
) -> list[Path]:
    """The source files under ``paths``, each once, in a stable order.

    Raises :class:`MissingPathError` naming the first path that does not exist.
    """
    found: dict[str, Path] = {}
    excluded_names = frozenset(default_exclude)
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise MissingPathError(f"{raw}: no such file or directory")
        absolute = Path(os.path.abspath(path))
        if not path.is_dir():  # a file (or a broken/looping symlink: reading reports it)
            if not is_ignored(exclude, absolute.as_posix(), False):
                found.setdefault(absolute.as_posix(), path)
            continue
        for file in _walk(absolute, path, exclude, excluded_names, respect_gitignore):
            found.setdefault(os.path.abspath(file), file)
    return list(found.values())


def _walk(
    absolute_root: Path,
    shown_root: Path,
    exclude: Sequence[IgnorePattern],
    excluded_names: frozenset[str],
    respect_gitignore: bool,
) -> Iterator[Path]:
    inherited = _inherited_gitignores(absolute_root) if respect_gitignore else []
    # Each folder's pattern list = its parent's + its own .gitignore.
    folder_patterns: dict[str, list[IgnorePattern]] = {}
    for folder, subfolders, files in os.walk(absolute_root, followlinks=False):
        parent = os.path.dirname(folder)
        base = folder_patterns.get(parent, inherited) if folder != str(absolute_root) else inherited
        patterns = base + list(_gitignore_patterns(Path(folder).as_posix())) if respect_gitignore else base
        folder_patterns[folder] = patterns
        kept = []
        for name in sorted(subfolders):
            full = f"{folder}/{name}"
            if name in excluded_names or is_ignored(exclude, full, True) or is_ignored(patterns, full, True):
                continue
            kept.append(name)
        subfolders[:] = kept
        relative_folder = os.path.relpath(folder, absolute_root)
        for name in sorted(files):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            full = f"{folder}/{name}"
            if is_ignored(exclude, full, False) or is_ignored(patterns, full, False):
                continue
            yield shown_root / name if relative_folder == "." else shown_root / relative_folder / name


# --- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceText:
    """A file's bytes as read, its decoded text, and the encoding to write fixes back with."""

    data: bytes
    text: str
    encoding: str


@dataclass(frozen=True)
class ReadProblem:
    """Why a file could not be checked (reported as a JL000 finding at 1:0)."""

    message: str


def read_source(path: Path, max_bytes: int = MAX_FILE_BYTES) -> SourceText | ReadProblem:
    """The file's text, or the problem in one line that names what is wrong."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return ReadProblem(
                f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; not checked "
                "(exclude it, or raise `max-file-size` in [tool.jaxlint])"
            )
        data = path.read_bytes()
    except OSError as error:
        return ReadProblem(f"cannot read file: {error.strerror or error}")
    if b"\0" in data:
        return ReadProblem("binary file (contains NUL bytes); not checked")
    if path.suffix == ".ipynb":
        try:
            return SourceText(data, data.decode("utf-8-sig"), "utf-8")
        except UnicodeDecodeError as error:
            return ReadProblem(f"notebook is not valid UTF-8 (byte {data[error.start]:#04x} at offset {error.start})")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        try:  # detect_encoding also fails when the first lines are not UTF-8 at all
            data.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            byte = data[decode_error.start]
            return ReadProblem(f"not valid UTF-8 text (byte {byte:#04x} at offset {decode_error.start}); not checked")
        return ReadProblem(f"bad encoding declaration: {error}")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        if isinstance(error, UnicodeDecodeError):
            return ReadProblem(
                f"not valid {encoding} text (byte {data[error.start]:#04x} at offset {error.start}); not checked"
            )
        return ReadProblem(f"unknown encoding {encoding!r}; not checked")
    return SourceText(data, text, encoding)
