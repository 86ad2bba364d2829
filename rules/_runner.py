"""Where the engine's work runs and what it remembers: worker processes, the cache, GC.

- :class:`Runner` maps a task over batches of files, serially or in a process pool (fork on
  Linux, created on first parallel use; files are balanced by size across batches).
- :class:`Cache` keeps three pickles in ``.jaxlint_cache/``: ast summaries by content,
  the last call graph's per-file facts, lint results by (content, rules, selection, facts).
- :class:`QuietGC` tunes the cyclic collector while parsing (trees hold no cycles).
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._lint import ModuleResult

ENGINE_VERSION = "3"
# Below this much source, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 400_000
_RULES_DIR = Path(__file__).resolve().parent
_PYTHON = "%d.%d" % sys.version_info[:2]  # ast summaries follow the running Python's grammar


def content_hash(*parts: str | bytes) -> str:
    """A short stable digest of the parts (cache keys)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def rules_fingerprint() -> str:
    """Changes whenever any rule's (or the engine's) source changes: part of result keys."""
    # The parser and Python's own grammar (ast) shape every result: part of the key too
    # (read from the installed metadata: importing libcst would cost the warm path 0.2 s).
    from importlib.metadata import PackageNotFoundError, version

    try:
        libcst_version = version("libcst")
    except PackageNotFoundError:
        libcst_version = "?"
    runtime = f"{ENGINE_VERSION}|{_PYTHON}|{libcst_version}"
    digest = hashlib.blake2b(runtime.encode(), digest_size=16)
    for file in sorted(_RULES_DIR.glob("*.py")):
        try:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        except OSError:
            continue
    return digest.hexdigest()


# --- cache --------------------------------------------------------------------------------------
class Cache:
    """Three pickles: summaries by content, last call-graph facts, lint results by key.

    Loaded lazily (a warm run never unpickles the summaries), written atomically, pruned to
    the entries this run used plus the most recent others.
    """

    KEEP = 20_000

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._loaded: dict[str, dict] = {}
        self._dirty: set[str] = set()

    def table(self, name: str) -> dict:
        if name not in self._loaded:
            data: dict = {}
            if self.folder is not None:
                try:
                    with open(self.folder / f"{name}.pickle", "rb") as stream:
                        loaded = pickle.load(stream)
                    if isinstance(loaded, dict) and loaded.get("version") == ENGINE_VERSION:
                        data = loaded["entries"]
                except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, KeyError, TypeError, ValueError):
                    data = {}
            self._loaded[name] = data
        return self._loaded[name]

    def put(self, name: str, key: str, value: Any) -> None:
        table = self.table(name)
        table.pop(key, None)  # re-insert: dict order doubles as recency for pruning
        table[key] = value
        self._dirty.add(name)

    def save(self) -> list[str]:
        """Write the changed tables; returns warnings (a read-only folder is not an error)."""
        if self.folder is None or not self._dirty:
            return []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            marker = self.folder / ".gitignore"
            if not marker.exists():
                marker.write_text("# Created by jaxlint automatically.\n*\n")
                (self.folder / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
            for name in sorted(self._dirty):
                table = self._loaded[name]
                if len(table) > self.KEEP:
                    table = dict(list(table.items())[-self.KEEP :])
                handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
                with os.fdopen(handle, "wb") as stream:
                    pickle.dump({"version": ENGINE_VERSION, "entries": table}, stream, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, self.folder / f"{name}.pickle")
        except OSError as error:
            return [f"cache not written to {self.folder}: {error.strerror or error}"]
        return []


# --- garbage collection --------------------------------------------------------------------------
class QuietGC:
    """Parsing allocates millions of small objects, and CPython's cyclic collector keeps
    re-scanning them (and everything imported) although parse trees hold no cycles and are
    freed by reference counting. Freezing what exists and raising the first threshold halves
    libcst's and ast's parse time here. Restored on exit (library callers keep their settings).
    """

    def __enter__(self) -> None:
        self._threshold = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self._threshold)
        gc.unfreeze()


def _worker_init() -> None:
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


# --- workers ------------------------------------------------------------------------------------
def summarize_task(items: list[tuple[int, str, str, bool]]) -> list[tuple[int, Any]]:
    """Worker: (index, text, module, is_package) -> (index, ModuleSummary | SyntaxError info)."""
    from jaxlint.rules._callgraph import summarize_module

    out: list[tuple[int, Any]] = []
    for index, text, module, is_package in items:
        try:
            out.append((index, summarize_module(text, module, is_package)))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            out.append((index, _syntax_problem(error)))
    return out


def _syntax_problem(error: BaseException) -> tuple[str, int, int, str]:
    line = getattr(error, "lineno", None) or 1
    offset = getattr(error, "offset", None) or 1
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    if isinstance(error, RecursionError):
        message = "too deeply nested to parse"
    elif isinstance(error, ValueError) and "null bytes" in str(error):
        message = "source contains NUL bytes"
    return ("syntax", int(line), max(int(offset) - 1, 0), str(message).splitlines()[0])


def lint_task(items: list[tuple[int, str, str, tuple[str, ...], Any]]) -> list[tuple[int, "ModuleResult"]]:
    """Worker: (index, text, display path, rule codes, facts) -> (index, ModuleResult)."""
    from jaxlint.rules._catalogue import all_rules
    from jaxlint.rules._lint import lint_module

    by_code = {r.CODE: r for r in all_rules()}
    out = []
    for index, text, display, codes, facts in items:
        out.append((index, lint_module(text, display, [by_code[c] for c in codes], facts)))
    return out


def _balanced_batches(items: list, sizes: list[int], batches: int) -> list[list]:
    """Longest-processing-time-first split of ``items`` into ``batches`` by ``sizes``."""
    order = sorted(range(len(items)), key=lambda i: -sizes[i])
    buckets: list[list] = [[] for _ in range(batches)]
    loads = [0] * batches
    for i in order:
        target = loads.index(min(loads))
        buckets[target].append(items[i])
        loads[target] += sizes[i] + 2000  # per-file overhead
    return [b for b in buckets if b]


class Runner:
    """Runs tasks serially or in a process pool (created once, on first parallel use)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self._pool = None

    def map(self, function, items: list, sizes: list[int]) -> list:
        if not items:
            return []
        if self.jobs == 1 or sum(sizes) < PARALLEL_MIN_BYTES or len(items) < 2:
            return function(items)
        if self._pool is None:
            import multiprocessing
            import threading

            # fork is fastest (workers inherit the imported modules); if threads exist (an
            # embedding application), forking could deadlock: use forkserver then.
            # jax/jaxlib start native thread pools that threading.active_count() cannot see
            # (the check command never imports jax; a test process or a notebook may have).
            native_threads = "jaxlib" in sys.modules or "jax" in sys.modules
            single_threaded = threading.active_count() == 1 and not native_threads
            method = "fork" if single_threaded and sys.platform.startswith("linux") else "spawn"
            self._pool = multiprocessing.get_context(method).Pool(self.jobs, initializer=_worker_init)
        batches = _balanced_batches(items, sizes, self.jobs * 3)
        out: list = []
        for part in self._pool.imap_unordered(function, batches):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
