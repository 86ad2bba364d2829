"""The lint engine: which rules run on which files, in which process, and what is cached.

Pipeline of one ``jaxlint check`` run (each stage is cheap relative to the one after it, and
every stage skips what the previous one proved unnecessary):

1. **discover** the files (:mod:`._files`: .gitignore, config excludes) and **read** them;
   unreadable, binary, non-UTF-8 and oversized files become ``JL000`` findings.
2. **summarize** each file with the standard ``ast`` parser (:mod:`._callgraph`): imports,
   functions, references, transform roots. ~10x cheaper than libcst, parallel, and cached by
   content. A syntax error here is the file's ``JL000`` finding.
3. **call graph** over all summaries (in this process): which functions and methods are
   traced, and why. Cached under the combined key of all summaries.
4. **lint** with libcst, in worker processes, only the files some rule can fire on: a rule
   runs on a file if its ``PREFILTER`` substrings occur in the text and, for ``TRACED_ONLY``
   rules, if the file has traced code (a traced function or a lambda in a transform's slot).
   All of a file's rules share one parse and one traversal. Results are cached under
   (file content, rule sources, selection, the file's traced facts), so editing a file that
   changes what *another* file's functions are re-lints exactly the files whose facts changed.
5. **fix** (``--fix``/``--diff``): re-lint and apply edits until stable, write atomically.

Processes, the cache and GC tuning live in :mod:`._runner`. The cache lives in
``.jaxlint_cache/`` next to the configuration (or the checked folder);
``--no-cache`` neither reads nor writes it. A warm run (nothing changed) reads and hashes the
files, loads two small JSON tables and prints: it never imports libcst or networkx.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from jaxlint.rules._config import Config, load_config, merge_selection
from jaxlint.rules._files import MissingPathError, ReadProblem, SourceText, discover, read_source, resolve, split_lines
from jaxlint.rules._findings import SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME, Finding
from jaxlint.rules._rule_spec import RuleSpec
from jaxlint.rules._runner import (
    _PYTHON,
    ENGINE_VERSION,
    Cache,
    QuietGC,
    Runner,
    content_hash,
    lint_task,
    rules_fingerprint,
    summarize_task,
)

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._base import LintRule
    from jaxlint.rules._callgraph import ModuleSummary

MAX_FIX_ROUNDS = 10
CACHE_DIR_NAME = ".jaxlint_cache"

__all__ = [
    "CheckResult", "MissingPathError", "check_paths", "check_source", "fix_source", "select_rules",
]


# --- rule selection -----------------------------------------------------------------------------
def _matches(code: str, selectors: Iterable[str]) -> bool:
    """ruff-style selectors: ``ALL``, a full code ``JL001``, or a prefix ``JL0``."""
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def _enabled(rules: Sequence[Any], select: Sequence[str] | None, ignore: Sequence[str], extend: Sequence[str]) -> list:
    wanted = [s.upper() for s in (select or ["ALL"])] + [s.upper() for s in extend]
    ignored = [s.upper() for s in ignore]
    return [r for r in rules if _matches(r.CODE, wanted) and not _matches(r.CODE, ignored)]


def select_rules(
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    rules: Sequence[type["LintRule"]] | None = None,
) -> list[type["LintRule"]]:
    """The rules enabled by ``select`` (default all) plus ``extend_select`` minus ``ignore``."""
    if rules is None:
        from jaxlint.rules._catalogue import all_rules

        rules = all_rules()
    return _enabled(rules, select, ignore, extend_select)


def _selected_specs(
    select: Sequence[str] | None, ignore: Sequence[str], extend: Sequence[str], cache: Cache, fingerprint: str
) -> list[RuleSpec]:
    """The enabled rules' selection data: from the cache when these rule sources were seen
    before (no rule, hence no libcst, is imported), else from the rule classes."""
    stored = cache.table("rules").get(fingerprint)
    if stored is not None:
        specs = [RuleSpec.from_row(row) for row in stored]
        known = [spec for spec in specs if spec is not None]
    else:
        known = [RuleSpec.of(rule) for rule in select_rules()]
        cache.put("rules", fingerprint, [spec.to_row() for spec in known])
    return _enabled(known, select, ignore, extend)


def rules_for_file(
    rules: Sequence[Any],
    text: str,
    summary: "ModuleSummary",
    traced: dict[str, str],
    transform_lambdas: bool,
) -> list[Any]:
    """The rules (classes or :class:`RuleSpec`) of ``rules`` that can fire on this file, decided
    without libcst: the PREFILTER text match, traced code present for TRACED_ONLY rules, and
    REQUIRES met on the ast summary."""
    from jaxlint.rules._callgraph import requirement_met, traced_features

    has_traced_code = bool(traced) or transform_lambdas
    in_traced: frozenset[str] | None = None
    chosen = []
    for rule in rules:
        if rule.TRACED_ONLY and not has_traced_code:
            continue
        if not rule.prefilter_matches(text):
            continue
        if rule.REQUIRES:
            if in_traced is None and (rule.TRACED_ONLY or any(r.startswith("traced:") for r in rule.REQUIRES)):
                in_traced = traced_features(summary, traced, transform_lambdas)
            scope = in_traced if rule.TRACED_ONLY else None
            if not any(requirement_met(item, summary, scope if not item.startswith("traced:") else in_traced)
                       for item in rule.REQUIRES):
                continue
        chosen.append(rule)
    return chosen


# --- single source (no files, no cache) --------------------------------------------------------
def check_source(
    source: str,
    path: str = "<string>",
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    rules: Sequence[type["LintRule"]] | None = None,
) -> list[Finding]:
    """Lint one module's source text on its own (its call graph is the file alone).

    A syntax error is a single ``JL000`` finding. Rule crashes raise ``RuntimeError`` here
    (the project runner reports them instead), so tests see broken rules loudly.
    """
    from jaxlint.rules._callgraph import summarize_module, traced_functions
    from jaxlint.rules._context import FileFacts
    from jaxlint.rules._lint import lint_module, syntax_error_finding

    enabled = select_rules(select, ignore, rules=rules)
    module = path.rsplit("/", 1)[-1].removesuffix(".py") or "module"
    try:
        summary = summarize_module(source, module)
    except (SyntaxError, ValueError, RecursionError) as error:
        return [syntax_error_finding(path, error)]
    traced = traced_functions({path: summary})[path]
    facts = FileFacts.from_summary(path, summary, traced)
    wanted = rules_for_file(enabled, source, summary, traced, summary.transform_lambdas)
    if not wanted:
        return []
    result = lint_module(source, path, wanted, facts)
    if result.errors:
        raise RuntimeError("; ".join(result.errors))
    return result.findings


def fix_source(
    source: str,
    path: str = "<string>",
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    unsafe: bool = False,
    rules: Sequence[type["LintRule"]] | None = None,
) -> tuple[str, int]:
    """Apply fixes until none is left (at most ``MAX_FIX_ROUNDS`` rounds).

    Returns (fixed source, number of fixes applied). Unsafe fixes only with ``unsafe``.
    """
    enabled = select_rules(select, ignore, rules=rules)
    fixed, applied, _ = _fix_loop(source, path, lambda text: check_source(text, path, rules=enabled), unsafe)
    return fixed, applied


def _fix_loop(
    source: str, path: str, lint, unsafe: bool, problems: list[str] | None = None
) -> tuple[str, int, list[Finding]]:
    """Lint, apply non-overlapping fixes, repeat until stable. A round whose output does not
    parse is discarded (its fixes are never written, and ``problems`` says so: a refused fix
    is never silent). Returns (text, applied, remaining)."""
    from jaxlint.rules._fix import apply_edits

    total = 0
    findings: list[Finding] = lint(source)
    for _ in range(MAX_FIX_ROUNDS):
        fixes = [f.fix for f in findings if f.fix is not None and (unsafe or f.fix.applicability == "safe")]
        if not fixes:
            break
        fixed, applied = apply_edits(source, fixes)
        try:
            compile(fixed, path, "exec", dont_inherit=True, flags=0x400)  # ast only
        except (SyntaxError, ValueError) as error:
            if problems is not None:
                codes = ", ".join(sorted({f.code for f in findings if f.fix is not None and f.fix in fixes}))
                problems.append(f"{path}: {codes} fix not applied: the fixed code would not parse ({error})")
            break
        source, total = fixed, total + applied
        findings = lint(source)
    return source, total, findings


# --- the project runner ----------------------------------------------------------------------
@dataclass
class CheckResult:
    """Everything a ``jaxlint check`` run found and did."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # internal problems (a rule crashed)
    warnings: list[str] = field(default_factory=list)
    usage_errors: list[str] = field(default_factory=list)  # paths named that do not exist
    files_checked: int = 0
    fixes_applied: int = 0
    fixed_files: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    # display path -> fixed text, for files given as text (``sources``): never written to disk
    fixed_sources: dict[str, str] = field(default_factory=dict)
    # display path -> {code: how many findings of it the fixes removed} (``--show-fixes``)
    fixed_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files_parsed: int = 0  # how many files libcst parsed (the rest: cache or pre-filter)
    cache_hits: int = 0
    # (path, cell) -> source lines, for the files with findings (text output shows snippets)
    sources: dict[tuple[str, int | None], list[str]] = field(default_factory=dict)

    @property
    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.fix is not None)


@dataclass
class _Entry:
    """One file of the run."""

    path: Path
    display: str
    absolute: str
    checked: bool  # False: only context for the call graph
    given: str | None = None  # text given by the caller (stdin, an editor buffer) instead of the file
    source: SourceText | ReadProblem | None = None
    python: str = ""  # the module text (a notebook's cells joined)
    notebook: Any = None
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    module: str = ""
    is_package: bool = False
    content_key: str = ""
    summary_key: str = ""
    summary: "ModuleSummary | None" = None
    syntax_problem: tuple[str, int, int, str] | None = None  # ("syntax", line, column, message)


def _display(path: Path, cwd: str) -> str:
    absolute = os.path.abspath(path)
    if absolute.startswith(cwd.rstrip("/") + "/"):
        return os.path.relpath(absolute, cwd)
    return str(path) if not path.is_absolute() else absolute


_PACKAGE_PREFIX: dict[str, str] = {}


def _module_name(absolute: str) -> tuple[str, bool]:
    """Dotted module name from enclosing packages (folders with __init__.py), memoized per folder."""
    folder, name = os.path.split(absolute)
    prefix = _package_prefix(folder)
    stem = name.rsplit(".", 1)[0]
    if stem == "__init__":
        return prefix or os.path.basename(folder), True
    return (f"{prefix}.{stem}" if prefix else stem), False


def _package_prefix(folder: str) -> str:
    cached = _PACKAGE_PREFIX.get(folder)
    if cached is not None:
        return cached
    if os.path.isfile(os.path.join(folder, "__init__.py")):
        parent = os.path.dirname(folder)
        above = _package_prefix(parent) if parent != folder else ""
        prefix = f"{above}.{os.path.basename(folder)}" if above else os.path.basename(folder)
    else:
        prefix = ""
    _PACKAGE_PREFIX[folder] = prefix
    return prefix


# --- the run -----------------------------------------------------------------------------------
def _project_root(start: Path) -> Path | None:
    """The folder of the nearest pyproject.toml or .git above ``start`` (None if neither)."""
    start = resolve(start)
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate
    return None


def check_paths(
    paths: Sequence[str | Path] = (".",),
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extend_select: Sequence[str] | None = None,
    fix: bool = False,
    unsafe_fixes: bool = False,
    diff: bool = False,
    use_cache: bool = True,
    jobs: int | None = None,
    config: Config | None = None,
    cache_dir: Path | None = None,
    project_context: bool = True,
    sources: Mapping[str | Path, str] | None = None,
    cache: Cache | None = None,
) -> CheckResult:
    """Check files and folders; the library form of ``jaxlint check``.

    ``project_context``: when only some files of a project are checked (pre-commit passes
    the changed files), the call graph still spans the whole project (the folder of the
    nearest pyproject.toml or .git), so a helper in ``model.py`` jitted from ``solve.py`` is
    known to be traced. A path that does not exist goes to ``usage_errors`` (the others are
    still checked); a bad selector or config raises ``ConfigError``.

    ``sources``: path -> text to check instead of the file (``jaxlint check -``, an editor's
    unsaved buffer); the file need not exist, and fixes to it go to ``result.fixed_sources``.
    ``cache``: a long-lived cache to use instead of ``.jaxlint_cache/`` (the language server
    keeps one in memory, ``Cache(None)``, across edits).
    """
    paths = list(paths) or ["."]
    if config is None:
        config = load_config(Path(paths[0]))
    select, ignore_list, extend = merge_selection(config, select, ignore, extend_select)
    cwd = os.getcwd()
    result = CheckResult()

    exclude = config.exclude_patterns()
    given = {os.path.abspath(p): text for p, text in (sources or {}).items()}
    entries: list[_Entry] = []
    seen: set[str] = set()
    for raw, text in (sources or {}).items():
        file = Path(raw)
        seen.add(os.path.abspath(file))
        entries.append(_Entry(file, _display(file, cwd), os.path.abspath(file), True, given=text))
    on_disk = [p for p in paths if os.path.abspath(p) not in given]
    files = discover(on_disk, exclude, config.default_exclude, config.respect_gitignore,
                     warnings=result.warnings, missing=result.usage_errors) if on_disk else []
    for file in files:
        absolute = os.path.abspath(file)
        seen.add(absolute)
        entries.append(_Entry(file, _display(file, cwd), absolute, True))
    if project_context:
        root = _project_root(Path(paths[0]))
        named_folders = [Path(p) for p in paths if Path(p).is_dir()]
        covered = root is None or any(os.path.abspath(p) == str(root) for p in named_folders)
        if root is not None and not covered and all(os.path.abspath(p).startswith(str(root) + "/") for p in paths):
            for file in discover([root], exclude, config.default_exclude, config.respect_gitignore, warnings=[]):
                absolute = os.path.abspath(file)
                if absolute not in seen and file.suffix == ".py":
                    seen.add(absolute)
                    entries.append(_Entry(file, _display(file, cwd), absolute, False))
    result.files_checked = sum(1 for e in entries if e.checked)

    if cache is None:
        cache = Cache(None if not use_cache else (cache_dir or config.root / CACHE_DIR_NAME))
    runner = Runner(jobs if jobs is not None else (os.cpu_count() or 1))
    with QuietGC():
        try:
            _read_all(entries, config, result)
            _summaries(entries, cache, runner, config.traced)
            facts = _call_graph(entries, cache, config.traced, result.warnings)
            enabled_codes = _run_lint(entries, facts, cache, runner, result, select, ignore_list, extend, config)
            if fix or diff:
                _run_fixes(entries, facts, enabled_codes, result, fix, diff, unsafe_fixes, config)
        finally:
            runner.close()
    result.warnings.extend(cache.save())
    result.findings.sort(key=lambda f: f.sort_key)
    _attach_sources(entries, result)
    return result


def _attach_sources(entries: list[_Entry], result: CheckResult) -> None:
    wanted = {(f.path, f.cell) for f in result.findings}
    if not wanted:
        return
    by_display = {e.display: e for e in entries}
    for path, cell in wanted:
        entry = by_display.get(path)
        if entry is None or isinstance(entry.source, ReadProblem) or entry.source is None:
            continue
        if cell is None:
            result.sources[(path, cell)] = split_lines(entry.python)
        elif entry.notebook is not None:
            for notebook_cell in entry.notebook.cells:
                if notebook_cell.index == cell:
                    result.sources[(path, cell)] = split_lines(notebook_cell.python)


def _read_all(entries: list[_Entry], config: Config, result: CheckResult) -> None:
    for entry in entries:
        if entry.given is not None:
            entry.source = SourceText(entry.given.encode("utf-8"), entry.given, "utf-8")
        else:
            entry.source = read_source(entry.path, config.max_file_bytes)
        entry.module, entry.is_package = _module_name(entry.absolute)
        if isinstance(entry.source, ReadProblem):
            continue
        if entry.path.suffix == ".ipynb":
            from jaxlint.rules._notebook import NotebookError, load_notebook

            try:
                entry.notebook = load_notebook(entry.source.text)
            except NotebookError as error:
                entry.source = ReadProblem(str(error))
                continue
            entry.python, entry.spans = entry.notebook.module_source()
        else:
            entry.python = entry.source.text
        entry.content_key = content_hash(entry.source.data)
        entry.summary_key = content_hash(ENGINE_VERSION, _PYTHON, entry.module, str(entry.is_package), entry.content_key)


def _summaries(entries: list[_Entry], cache: Cache, runner: Runner, entry_points: Sequence[str] = ()) -> None:
    """Attach an ast summary to every readable entry (from cache, else computed in parallel).

    Warm path: when the call-graph facts for exactly these summary keys are cached, the
    summaries themselves are only loaded for files that will be linted again.
    """
    readable = [e for e in entries if e.summary_key]
    facts_table = cache.table("facts")
    stored = facts_table.get(_graph_key(readable, entry_points))
    if stored is not None:
        # Syntax errors are part of the stored facts: no summary needed on the warm path.
        for entry in readable:
            entry.syntax_problem = stored["syntax"].get(entry.summary_key)
        return
    table = cache.table("summaries")
    missing = []
    for index, entry in enumerate(entries):
        if not entry.summary_key:
            continue
        value = table.get(entry.summary_key)
        if value is None:
            missing.append(index)
        else:
            _attach_summary(entry, value)
    tasks = [(i, entries[i].python, entries[i].module, entries[i].is_package) for i in missing]
    for index, value in runner.map(summarize_task, tasks, [len(t[1]) for t in tasks]):
        cache.put("summaries", entries[index].summary_key, value)
        _attach_summary(entries[index], value)


def _attach_summary(entry: _Entry, value: Any) -> None:
    if isinstance(value, tuple) and value and value[0] == "syntax":
        entry.syntax_problem = value
    else:
        entry.summary = value


def _syntax_finding(entry: _Entry, problem: tuple[str, int, int, str]) -> Finding:
    _, line, column, message = problem
    finding = Finding(entry.display, line, column, line, column, SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME, f"SyntaxError: {message}")
    if entry.spans:
        from jaxlint.rules._notebook import map_findings

        finding = map_findings([finding], entry.spans)[0]
    return finding


def _graph_key(readable: list[_Entry], entry_points: Sequence[str] = ()) -> str:
    return content_hash(ENGINE_VERSION, *sorted(f"{e.display}\t{e.summary_key}" for e in readable),
                        *(f"traced\t{entry}" for entry in entry_points))


def _call_graph(entries: list[_Entry], cache: Cache, entry_points: Sequence[str] = (),
                warnings: list[str] | None = None) -> dict[str, dict]:
    """Per display path: {"traced": {qualname: reason}, "lambdas": bool, "key": facts hash}.
    ``entry_points``: the ``traced`` setting; one that names nothing checked is a warning."""
    readable = [e for e in entries if e.summary_key]
    graph_key = _graph_key(readable, entry_points)
    stored = cache.table("facts").get(graph_key)
    if stored is not None:
        _warn_unresolved(stored.get("unresolved", []), warnings)
        return stored["files"]
    from jaxlint.rules._callgraph import traced_functions

    summaries = {e.display: e.summary for e in readable if e.summary is not None}
    unresolved: list[str] = []
    traced = traced_functions(summaries, entry_points, unresolved)
    _warn_unresolved(unresolved, warnings)
    files: dict[str, dict] = {}
    for entry in readable:
        if entry.summary is None:
            continue
        mine = traced.get(entry.display, {})
        files[entry.display] = {
            "traced": mine,
            "lambdas": entry.summary.transform_lambdas,
            "key": content_hash(*sorted(f"{q}\t{r}" for q, r in mine.items())),
        }
    syntax = {e.summary_key: e.syntax_problem for e in readable if e.syntax_problem is not None}
    # Only the latest graph is kept: it is what the next (warm) run will ask for.
    cache.table("facts").clear()
    cache.put("facts", graph_key, {"files": files, "syntax": syntax, "unresolved": unresolved})
    return files


def _warn_unresolved(unresolved: Any, warnings: list[str] | None) -> None:
    if warnings is not None and isinstance(unresolved, list):
        warnings.extend(f"traced entry point {entry!r} names no function or class in the checked files"
                        for entry in unresolved if isinstance(entry, str))


def _facts_for(entry: _Entry, file_facts: dict) -> Any:
    from jaxlint.rules._context import FileFacts

    if entry.summary is None:
        raise RuntimeError(f"internal: {entry.display} has no summary")
    return FileFacts.from_summary(entry.display, entry.summary, file_facts["traced"], file_facts["lambdas"])


def _run_lint(
    entries: list[_Entry],
    facts: dict[str, dict],
    cache: Cache,
    runner: Runner,
    result: CheckResult,
    select: list[str] | None,
    ignore: list[str],
    extend: list[str],
    config: Config,
) -> list[str] | None:
    """Lint every checked file (cache first); fills ``result``. Returns the enabled codes
    (None if the rules never had to be imported)."""
    selection = repr((select, ignore, extend))
    fingerprint = rules_fingerprint()
    results = cache.table("results")
    pending: list[tuple[int, str]] = []
    for index, entry in enumerate(entries):
        if not entry.checked:
            continue
        if isinstance(entry.source, ReadProblem):
            result.findings.append(Finding(entry.display, 1, 0, 1, 0, SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME, entry.source.message))
            continue
        if entry.syntax_problem is not None:
            result.findings.append(_syntax_finding(entry, entry.syntax_problem))
            continue
        key = content_hash(entry.content_key, entry.display, fingerprint, selection, facts[entry.display]["key"],
                    config.fingerprint(), str(bool(entry.spans)))
        stored = results.get(key)
        if stored is not None:
            result.cache_hits += 1
            results.pop(key)
            results[key] = stored  # keep it fresh for pruning
            _collect(entry, stored[0], stored[1], result, config)
        else:
            pending.append((index, key))
    if not pending:
        return None

    enabled = _selected_specs(select, ignore, extend, cache, fingerprint)
    codes = [r.CODE for r in enabled]
    tasks = []
    for index, key in pending:
        entry = entries[index]
        if entry.summary is None:  # facts came from the cache: load this file's summary
            _attach_summary(entry, cache.table("summaries").get(entry.summary_key) or summarize_task(
                [(index, entry.python, entry.module, entry.is_package)])[0][1])
            if entry.summary_key not in cache.table("summaries"):
                cache.put("summaries", entry.summary_key, entry.summary)
        file_facts = facts[entry.display]
        wanted = rules_for_file(enabled, entry.python, entry.summary, file_facts["traced"], file_facts["lambdas"])
        if not wanted:
            cache.put("results", key, ([], []))
            continue
        tasks.append((index, entry.python, entry.display, tuple(r.CODE for r in wanted), _facts_for(entry, file_facts)))
    keys = dict(pending)
    for index, module_result in runner.map(lint_task, tasks, [len(t[1]) for t in tasks]):
        result.files_parsed += 1
        entry = entries[index]
        findings = module_result.findings
        if not module_result.errors:
            cache.put("results", keys[index], (findings, []))
        _collect(entry, findings, module_result.errors, result, config)
    return codes


def _collect(entry: _Entry, findings: list[Finding], errors: list[str], result: CheckResult, config: Config) -> None:
    """Map notebook positions, apply per-file-ignores, add to the result."""
    if entry.spans:
        from jaxlint.rules._notebook import map_findings

        findings = map_findings(findings, entry.spans)
    ignored = config.ignored_codes_for(entry.absolute) if config.per_file_ignores else set()
    for finding in findings:
        if ignored and _matches(finding.code, ignored):
            continue
        result.findings.append(finding)
    result.errors.extend(errors)


def _run_fixes(
    entries: list[_Entry],
    facts: dict[str, dict],
    enabled_codes: list[str] | None,
    result: CheckResult,
    fix: bool,
    diff: bool,
    unsafe: bool,
    config: Config,
) -> None:
    """Fix every file that has an applicable fix; replace its findings by what remains."""
    fixable_paths = {
        f.path for f in result.findings if f.fix is not None and (unsafe or f.fix.applicability == "safe")
    }
    if not fixable_paths:
        return
    from jaxlint.rules._callgraph import summarize_module
    from jaxlint.rules._context import FileFacts
    from jaxlint.rules._fix import FixRefused, ensure_parses, write_atomically
    from jaxlint.rules._lint import lint_module

    codes = {f.code for f in result.findings}
    enabled = [r for r in select_rules() if r.CODE in codes]
    for entry in entries:
        if entry.display not in fixable_paths or not entry.checked or isinstance(entry.source, ReadProblem):
            continue
        file_facts = facts[entry.display]
        ignored = config.ignored_codes_for(entry.absolute) if config.per_file_ignores else set()

        def lint(text: str, entry: _Entry = entry, file_facts: dict = file_facts, ignored: set = ignored) -> list[Finding]:
            summary = summarize_module(text, entry.module, entry.is_package)
            context_facts = FileFacts.from_summary(entry.display, summary, file_facts["traced"], file_facts["lambdas"])
            wanted = rules_for_file(enabled, text, summary, file_facts["traced"], file_facts["lambdas"])
            found = lint_module(text, entry.display, wanted, context_facts).findings if wanted else []
            return [f for f in found if not (ignored and _matches(f.code, ignored))]

        if entry.notebook is not None:
            from jaxlint.rules._notebook import NotebookError

            try:
                new_text, applied, remaining = _fix_notebook(entry, lint, unsafe)
            except NotebookError as error:
                result.warnings.append(f"{entry.display}: fix not written ({error})")
                continue
        else:
            new_text, applied, remaining = _fix_loop(entry.python, entry.display, lint, unsafe, result.warnings)
        if not applied:
            continue
        old_text = entry.source.text  # type: ignore[union-attr]
        before = Counter(f.code for f in result.findings if f.path == entry.display)
        fixed_codes = dict(before - Counter(f.code for f in remaining if f.code in codes))
        if entry.given is not None and not diff:
            result.fixed_sources[entry.display] = new_text  # the caller decides where it goes
            result.fixes_applied += applied
            result.fixed_counts[entry.display] = fixed_codes
            result.findings = [f for f in result.findings if f.path != entry.display] + [
                f for f in remaining if f.code in codes]
            continue
        if diff:
            import difflib  # only --diff needs it; imported here to keep pre-commit start-up short

            result.diffs.append(
                "".join(difflib.unified_diff(split_lines(old_text, keepends=True), split_lines(new_text, keepends=True),
                                             fromfile=f"a/{entry.display}", tofile=f"b/{entry.display}"))
            )
            result.fixes_applied += applied
            continue
        try:
            ensure_parses(entry.notebook.module_source()[0] if entry.notebook is not None else new_text, entry.display)
            write_atomically(entry.path, entry.source.data, new_text, entry.source.encoding,  # type: ignore[union-attr]
                             display=entry.display)
        except FixRefused as error:
            result.warnings.append(str(error))
            continue
        except OSError as error:
            result.warnings.append(f"{entry.display}: fix not written ({error.strerror or error})")
            continue
        result.fixes_applied += applied
        result.fixed_files.append(entry.display)
        result.fixed_counts[entry.display] = fixed_codes
        entry.python = new_text if entry.notebook is None else entry.notebook.module_source()[0]
        kept = [f for f in result.findings if f.path != entry.display]
        if entry.spans:
            from jaxlint.rules._notebook import map_findings

            remaining = map_findings(remaining, entry.notebook.module_source()[1])
        result.findings = kept + [f for f in remaining if f.code in codes]


def _fix_notebook(entry: _Entry, lint, unsafe: bool) -> tuple[str, int, list[Finding]]:
    """Fix rounds on a notebook: lint the joined cells, apply the edits cell by cell, repeat."""
    from jaxlint.rules._notebook import apply_findings_fixes, dump_notebook, map_findings

    notebook = entry.notebook
    total = 0
    findings: list[Finding] = []
    for _ in range(MAX_FIX_ROUNDS):
        joined, spans = notebook.module_source()
        findings = lint(joined)
        applied = apply_findings_fixes(notebook, map_findings(findings, spans), unsafe)
        if not applied:
            break
        total += applied
    return dump_notebook(notebook), total, findings
