"""Finding the files to check and reading them safely.

Discovery follows ruff: every ``.py``/``.pyi``/``.ipynb`` under the given paths, minus the
default excluded folders (``.git``, ``.venv``, ``build``, ...), the config's ``exclude`` /
``extend-exclude`` patterns and the ``.gitignore`` files of the repository. Folder symlinks
are not followed while walking (no loops); a path named explicitly is always checked unless a
config exclude pattern matches it (pre-commit passes file names, and excluded files must stay
excluded then too).

Reading never raises and never blocks: only regular files are read (checked on the open
descriptor, opened non-blocking so a FIFO named ``x.py`` cannot hang the run), at most the size
limit. A file that cannot be read, is not a regular file, is binary, is not valid text in its
declared encoding, or is too large becomes a :class:`ReadProblem` the engine reports as a
``JL000`` finding, so a CI gate never passes silently on a file it could not look at.
"""

from __future__ import annotations

import codecs
import importlib.util
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pytest_cache", ".pytype", ".ruff_cache", ".jaxlint_cache", ".svn", ".tox",
    ".venv", ".vscode", "__pypackages__", "__pycache__", "_build", "buck-out", "build", "dist",
    "node_modules", "site-packages", "venv",
)
MAX_FILE_BYTES = 8 * 1024 * 1024  # libcst needs ~2 s per MB: a bigger file is generated code
MAX_IGNORE_FILE_BYTES = 4 * 1024 * 1024
MAX_PATTERN_CHARS = 4096  # PATH_MAX: a longer gitignore line matches no path
CHUNK_LINES = 256  # lines per compiled matcher (one, for nearly every .gitignore)


class MissingPathError(Exception):
    """A path named on the command line does not exist (a usage error: exit 2)."""


# --- gitignore-style patterns -----------------------------------------------------------------
# Matching is pathspec's gitignore implementation on its re2 backend (google-re2): linear in the
# path whatever the pattern (`**/a/**/a/...` on a deep tree is exponential for a backtracking
# regex engine, Python's `re` included).
class PatternError(ValueError):
    """A gitignore-style pattern that cannot be compiled (``[z-a]``, a trailing backslash)."""


# re2 (google-re2, a dependency) matches in linear time; without it pathspec's "simple"
# backend is Python's backtracking `re`.
PATTERN_BACKEND = "re2" if importlib.util.find_spec("re2") is not None else "simple"


def _compile(lines: Sequence[str]):
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(lines, backend=PATTERN_BACKEND)


def _compile_chunks(lines: Sequence[str], first: int) -> tuple[list[Any], list[tuple[int, str]]]:
    """Compiled specs for consecutive runs of ``lines`` and (line number, problem) for each
    line that cannot be compiled. Splitting in halves keeps this O(n log n) compiles at worst:
    a line that is invalid (``[z-a]``) or too large for the matcher (re2's memory budget) is
    dropped alone, and lines that only fail together are kept as separate runs."""
    try:
        spec = _compile(lines)
    except Exception as error:  # noqa: BLE001 - any failure to compile user patterns is reported
        if len(lines) == 1:
            return [], [(first, str(error) or type(error).__name__)]
        middle = len(lines) // 2
        head, head_problems = _compile_chunks(lines[:middle], first)
        tail, tail_problems = _compile_chunks(lines[middle:], first + middle)
        return head + tail, head_problems + tail_problems
    return ([spec] if any(p.include is not None for p in spec.patterns) else []), []


@dataclass(frozen=True)
class IgnorePattern:
    """gitignore lines (one file's, or one config pattern), relative to ``base`` (an absolute
    posix folder). The last matching line wins, as in git (``specs`` are consecutive runs of
    the lines, usually one)."""

    base: str
    specs: tuple[Any, ...]

    @classmethod
    def parse(cls, line: str, base: str) -> "IgnorePattern | None":
        """One line; None for a blank line or a comment. Raises :class:`PatternError`."""
        group, problems = cls.from_lines([line], base)
        if problems:
            raise PatternError(f"{line.strip()!r}: {problems[0][1]}")
        return group

    @classmethod
    def from_lines(cls, lines: Sequence[str], base: str) -> "tuple[IgnorePattern | None, list[tuple[int, str]]]":
        """The valid lines as one group, and (1-based line number, problem) for each invalid one."""
        kept: list[str] = []
        problems: list[tuple[int, str]] = []
        for number, line in enumerate(lines, 1):
            line = line.rstrip("\r\n")
            if len(line) > MAX_PATTERN_CHARS:  # longer than any path it could match: skip, cheaply
                problems.append((number, f"pattern longer than {MAX_PATTERN_CHARS} characters"))
                line = ""  # keeps the numbering of the lines after it
            kept.append(line)
        specs = []
        for start in range(0, len(kept), CHUNK_LINES):  # re2 compiles a few hundred lines at once fast
            chunk_specs, chunk_problems = _compile_chunks(kept[start : start + CHUNK_LINES], start + 1)
            specs += chunk_specs
            problems += chunk_problems
        problems.sort()
        return (cls(base.rstrip("/"), tuple(specs)) if specs else None), problems

    def verdict(self, absolute: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by ``!``; None: these lines say nothing."""
        if not absolute.startswith(self.base + "/"):
            return None
        relative = absolute[len(self.base) + 1 :]
        path = relative + "/" if is_dir else relative
        verdict = None
        for spec in self.specs:
            include = spec.check_file(path).include
            if include is not None:
                verdict = include
        return verdict


def is_ignored(patterns: Sequence[IgnorePattern], absolute: str, is_dir: bool) -> bool:
    """gitignore semantics: the last group with a verdict wins (deeper .gitignore files last)."""
    ignored = False
    for pattern in patterns:
        verdict = pattern.verdict(absolute, is_dir)
        if verdict is not None:
            ignored = verdict
    return ignored


@lru_cache(maxsize=4096)
def _gitignore_patterns(folder: str) -> tuple[IgnorePattern | None, tuple[str, ...]]:
    """A folder's .gitignore as one group, and a warning per invalid line (skipped)."""
    file = os.path.join(folder, ".gitignore")
    data = read_regular(Path(file), MAX_IGNORE_FILE_BYTES)
    if not isinstance(data, bytes):  # absent (the usual case), a FIFO, unreadable: no patterns
        reason = None if data is None else data.removesuffix("; not checked")
        return None, () if reason is None else (f"{file}: {reason}; its patterns are not used",)
    lines = data.decode("utf-8", errors="replace").splitlines()
    group, problems = IgnorePattern.from_lines(lines, folder)
    return group, tuple(f"{file}:{number}: invalid pattern skipped ({why})" for number, why in problems)


def _repository_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _inherited_gitignores(folder: Path, warnings: set[str]) -> list[IgnorePattern]:
    """.gitignore patterns of the folders above ``folder``, up to the repository root."""
    root = _repository_root(folder)
    if root is None:
        return []
    chain = [folder, *folder.parents]
    chain = chain[: chain.index(root) + 1] if root in chain else [folder]
    patterns: list[IgnorePattern] = []
    for ancestor in reversed(chain[1:]):
        group, problems = _gitignore_patterns(ancestor.as_posix())
        warnings.update(problems)
        if group is not None:
            patterns.append(group)
    return patterns


def resolve(path: Path) -> Path:
    """``path.resolve()``, or its absolute form when it is a symlink loop (which
    ``resolve`` reports by raising RuntimeError on Python < 3.13)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


# --- discovery ----------------------------------------------------------------------------------
def discover(
    paths: Iterable[str | Path],
    exclude: Sequence[IgnorePattern] = (),
    default_exclude: Sequence[str] = DEFAULT_EXCLUDE,
    respect_gitignore: bool = True,
    *,
    warnings: list[str] | None = None,
    missing: list[str] | None = None,
) -> list[Path]:
    """The source files under ``paths``, each once, in a stable order.

    A path that does not exist is added to ``missing`` (one message each) and the others are
    still searched; without a ``missing`` list, :class:`MissingPathError` is raised for the
    first one. Invalid ``.gitignore`` lines are skipped and reported in ``warnings``.
    """
    found: dict[str, Path] = {}
    excluded_names = frozenset(default_exclude)
    seen_warnings: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            message = f"{raw}: no such file or directory"
            if missing is None:
                raise MissingPathError(message)
            missing.append(message)
            continue
        absolute = Path(os.path.abspath(path))
        if not path.is_dir():  # a file (or a broken/looping symlink, a FIFO: reading reports it)
            if not is_ignored(exclude, absolute.as_posix(), False):
                found.setdefault(absolute.as_posix(), path)
            continue
        for file in _walk(absolute, path, exclude, excluded_names, respect_gitignore, seen_warnings):
            found.setdefault(os.path.abspath(file), file)
    if warnings is not None:
        warnings.extend(sorted(seen_warnings))
    return list(found.values())


def _walk(
    absolute_root: Path,
    shown_root: Path,
    exclude: Sequence[IgnorePattern],
    excluded_names: frozenset[str],
    respect_gitignore: bool,
    warnings: set[str],
) -> Iterator[Path]:
    inherited = _inherited_gitignores(absolute_root, warnings) if respect_gitignore else []
    # Each folder's pattern list = its parent's + its own .gitignore.
    folder_patterns: dict[str, list[IgnorePattern]] = {}
    def unlistable(error: OSError) -> None:  # a folder we cannot list is said, never skipped silently
        warnings.add(f"{error.filename}: cannot list folder ({error.strerror or error}); its files are not checked")

    for folder, subfolders, files in os.walk(absolute_root, followlinks=False, onerror=unlistable):
        parent = os.path.dirname(folder)
        patterns = folder_patterns.get(parent, inherited) if folder != str(absolute_root) else inherited
        if respect_gitignore and ".gitignore" in files:
            group, problems = _gitignore_patterns(Path(folder).as_posix())
            warnings.update(problems)
            if group is not None:
                patterns = [*patterns, group]
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


# --- lines ------------------------------------------------------------------------------------
# Python's physical lines end at \r\n, \r or \n only. str.splitlines() also splits at form
# feeds, \x1c-\x1e, \x85 and U+2028/9, which would shift every later line number by one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BREAK = re.compile(r"\r\n?|\n")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Like ``str.splitlines`` but at Python's line breaks only."""
    lines = _LINE.findall(text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


def line_starts(text: str) -> list[int]:
    """Offset at which each physical line starts (the first is 0)."""
    return [0, *(match.end() for match in _BREAK.finditer(text))]


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


_KINDS = {
    stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory",
}


def _open_for_reading(path: Path) -> int:
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of blocking forever.
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))


def read_regular(path: Path, max_bytes: int) -> bytes | str | None:
    """The bytes of a regular file of at most ``max_bytes`` (symlinks followed); otherwise
    None when it does not exist, or a one-line reason. Never blocks, never reads unbounded."""
    try:
        handle = _open_for_reading(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot read file: {error.strerror or error}"
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            return f"not a regular file ({kind}); not checked"
        chunks = []
        remaining = max_bytes + 1  # one byte more: a file that grew past the limit is caught
        while remaining > 0:
            chunk = os.read(handle, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        return f"cannot read file: {error.strerror or error}"
    finally:
        os.close(handle)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        return _too_large(max(info.st_size, len(data)), max_bytes)
    return data


def _too_large(size: int, max_bytes: int) -> str:
    return (f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; not checked "
            "(exclude it, or raise `max-file-size` in [tool.jaxlint])")


def read_source(path: Path, max_bytes: int = MAX_FILE_BYTES) -> SourceText | ReadProblem:
    """The file's text, or the problem in one line that names what is wrong."""
    data = read_regular(path, max_bytes)
    if data is None:
        return ReadProblem("cannot read file: No such file or directory")
    if isinstance(data, str):
        return ReadProblem(data)
    if b"\0" in data:
        return ReadProblem("binary file (contains NUL bytes); not checked")
    if path.suffix == ".ipynb":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            return ReadProblem(f"notebook is not valid UTF-8 (byte {data[error.start]:#04x} at offset {error.start})")
        return SourceText(data, text, "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8")
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
