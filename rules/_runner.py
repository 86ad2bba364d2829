"""Where the engine's work runs and what it remembers: worker processes, the cache, GC.

- :class:`Runner` maps a task over batches of files, serially or in a process pool (fork on
  Linux, created on first parallel use; files are balanced by size across batches).
- :class:`Cache` keeps three JSON tables in ``.jaxlint_cache/``: ast summaries by content,
  the last call graph's per-file facts, lint results by (content, rules, selection, facts).
  Data only (:mod:`jaxlint.rules._cache_format`): a committed or planted cache file can never
  run code; anything unexpected is dropped and rebuilt.
- :class:`QuietGC` tunes the cyclic collector while parsing (trees hold no cycles).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jaxlint.rules._rule_spec import is_spec_table

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._lint import ModuleResult

ENGINE_VERSION = "6"  # 5: summaries carry types (bases, fields, dispatches, flows); 6: return types
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


def _libcst_version() -> str:
    """libcst's version from the name of its ``.dist-info`` folder on sys.path (what
    importlib.metadata reads too, without importing email, urllib and friends)."""
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("libcst-") and name.endswith(".dist-info"):
                return name[len("libcst-") : -len(".dist-info")]
    return "?"


@functools.lru_cache(maxsize=1)  # one read of the rule sources per process (the server lints per keystroke)
def rules_fingerprint() -> str:
    """Changes whenever any rule's (or the engine's) source changes: part of result keys."""
    # The parser and Python's own grammar (ast) shape every result: part of the key too
    # (importing libcst would cost the warm path 0.2 s, importlib.metadata 0.03 s).
    runtime = f"{ENGINE_VERSION}|{_PYTHON}|{_libcst_version()}"
    digest = hashlib.blake2b(runtime.encode(), digest_size=16)
    for file in sorted(_RULES_DIR.glob("*.py")):
        try:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        except OSError:
            continue
    return digest.hexdigest()


# --- cache --------------------------------------------------------------------------------------
class Cache:
    """Four tables: summaries by content, last call-graph facts, lint results by key, and the
    rules' selection data (:mod:`jaxlint.rules._rule_spec`) by the rules' fingerprint.

    Stored as tagged JSON (never pickle: loading must not be able to execute anything), each
    with a version; every entry is checked against its table's shape and a table that fails
    is ignored and rebuilt. Loaded lazily (a warm run never reads the summaries), written
    atomically, pruned to the entries this run used plus the most recent others.
    """

    KEEP = 20_000
    MAX_BYTES = 512 * 1024 * 1024  # a larger file is not ours: ignored, never read

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._loaded: dict[str, dict] = {}
        self._dirty: set[str] = set()

    def table(self, name: str) -> dict:
        if name not in self._loaded:
            self._loaded[name] = self._read(name) if self.folder is not None else {}
        return self._loaded[name]

    def _read(self, name: str) -> dict:
        from jaxlint.rules._cache_format import CacheFormatError, loads

        assert self.folder is not None
        path = self.folder / f"{name}.json"
        try:
            # Only a regular file of sane size: a FIFO or /dev/zero planted here must not hang us.
            with open(path, "rb", opener=_nonblocking_opener) as stream:
                info = os.fstat(stream.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > self.MAX_BYTES:
                    return {}
                loaded = loads(stream.read(self.MAX_BYTES + 1))
        except (OSError, CacheFormatError):
            return {}
        if not (isinstance(loaded, dict) and loaded.get("version") == ENGINE_VERSION
                and isinstance(loaded.get("entries"), dict)):
            return {}
        check = _ENTRY_CHECKS[name]
        entries = loaded["entries"]
        if not all(isinstance(key, str) and check(value) for key, value in entries.items()):
            return {}
        return entries

    def put(self, name: str, key: str, value: Any) -> None:
        table = self.table(name)
        table.pop(key, None)  # re-insert: dict order doubles as recency for pruning
        table[key] = value
        self._dirty.add(name)

    def save(self) -> list[str]:
        """Write the changed tables; returns warnings (a read-only folder is not an error)."""
        if self.folder is None or not self._dirty:
            return []
        from jaxlint.rules._cache_format import dumps

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
                text = dumps({"version": ENGINE_VERSION, "entries": table})
                import tempfile  # only a run that writes the cache needs it

                handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
                try:
                    with os.fdopen(handle, "w", encoding="utf-8") as stream:
                        stream.write(text)
                    os.replace(temporary, self.folder / f"{name}.json")
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                    raise
        except OSError as error:
            return [f"cache not written to {self.folder}: {error.strerror or error}"]
        return []


def _nonblocking_opener(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def _is_syntax_problem(value: Any) -> bool:
    return (isinstance(value, tuple) and len(value) == 4 and value[0] == "syntax"
            and isinstance(value[1], int) and isinstance(value[2], int) and isinstance(value[3], str))


def _is_summary(value: Any) -> bool:
    from jaxlint.rules._callgraph import ModuleSummary

    return isinstance(value, ModuleSummary) or _is_syntax_problem(value)


def _is_facts(value: Any) -> bool:
    if not (isinstance(value, dict) and isinstance(value.get("files"), dict) and isinstance(value.get("syntax"), dict)):
        return False
    for facts in value["files"].values():
        if not (isinstance(facts, dict) and isinstance(facts.get("traced"), dict)
                and isinstance(facts.get("lambdas"), bool) and isinstance(facts.get("key"), str)):
            return False
    return all(_is_syntax_problem(problem) for problem in value["syntax"].values())


def _is_result(value: Any) -> bool:
    from jaxlint.rules._findings import Finding

    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list)
            and isinstance(value[1], list) and all(isinstance(f, Finding) for f in value[0])
            and all(isinstance(e, str) for e in value[1]))


_ENTRY_CHECKS = {"summaries": _is_summary, "facts": _is_facts, "results": _is_result, "rules": is_spec_table}


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
            from concurrent.futures import ProcessPoolExecutor

            # concurrent.futures, not multiprocessing.Pool: a worker that dies or a result that
            # cannot be unpickled breaks the executor (an exception) where Pool waits forever.
            self._pool = ProcessPoolExecutor(
                self.jobs, mp_context=multiprocessing.get_context(method), initializer=_worker_init
            )
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        batches = _balanced_batches(items, sizes, self.jobs * 3)
        pending = {self._pool.submit(function, batch): batch for batch in batches}
        out: list = []
        try:
            for future in as_completed(pending):
                out.extend(future.result())
                del pending[future]
        except BrokenProcessPool:
            # A worker died (killed, out of memory): finish what is left here, serially.
            self._pool = None
            for batch in pending.values():
                out.extend(function(batch))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
