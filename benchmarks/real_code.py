"""``jaxlint check`` on real JAX code: findings per project, precision from a hand triage, and
recall on real upstream compile-time fixes.

Two measurements, both on code jaxlint was not written for:

- ``projects``: pinned releases of well-kept JAX libraries (``PROJECTS``), downloaded with
  ``pip download --no-deps`` and unpacked in the cache. Per project: files, findings by rule,
  seconds. Each finding outside test files is looked up in ``benchmarks/triage.toml`` (a hand
  verdict per finding: TP / acceptable / FP) and precision is reported per rule.
- ``bugs``: ``benchmarks/real_bugs.toml``, compile-time regressions that upstream fixed. The
  package around the culprit is linted at the revision before the fix (recall: is a culprit
  line flagged?) and at the fix (clean: is neither the culprit nor its replacement flagged?).

Sources are cached outside the repository (``~/.cache/jaxlint-bench``, or
``$JAXLINT_BENCH_CACHE``). Git revisions come from a bare clone per repository, looked up in
``--git-mirrors`` folders (``owner+name/repo``, ``owner+name.git``) and otherwise cloned from
GitHub into the cache.

Usage::

    python benchmarks/real_code.py projects            # findings + precision table
    python benchmarks/real_code.py bugs                # recall table
    python benchmarks/real_code.py all --update-results --notes /work/notes/real_code.md
    python benchmarks/real_code.py projects --dump-untriaged   # findings still to triage

Finding keys are stable across line shifts: project, path inside the project, rule, and the
stripped text of the finding's first line.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRIAGE = HERE / "triage.toml"
BUGS = HERE / "real_bugs.toml"
RESULTS = HERE / "RESULTS.md"
SECTION = "## real code (precision and recall)"
VERDICTS = ("TP", "acceptable", "FP")


@dataclasses.dataclass(frozen=True)
class Project:
    name: str  # key used in triage.toml
    spec: str  # pinned pip requirement
    packages: tuple[str, ...]  # top-level folders of the distribution that are linted


PROJECTS: tuple[Project, ...] = (
    Project("diffrax", "diffrax==0.7.2", ("diffrax",)),
    Project("equinox", "equinox==0.13.8", ("equinox",)),
    Project("optax", "optax==0.2.8", ("optax",)),
    Project("flax", "flax==0.12.8", ("flax",)),
    Project("lineax", "lineax==0.1.1", ("lineax",)),
    Project("optimistix", "optimistix==0.1.0", ("optimistix",)),
    Project("jax-md", "jax-md==0.2.29", ("jax_md",)),
    Project("brax", "brax==0.14.2", ("brax",)),
    Project("numpyro", "numpyro==0.22.0", ("numpyro",)),
    Project("blackjax", "blackjax==1.7.1", ("blackjax",)),
    Project("jaxopt", "jaxopt==0.8.5", ("jaxopt",)),
    Project("dm-haiku", "dm-haiku==0.0.17", ("haiku",)),
    Project("s2fft", "s2fft==1.5.0", ("s2fft",)),
    Project("jax-cosmo", "jax-cosmo==0.1.0", ("jax_cosmo",)),
    Project("distrax", "distrax==0.1.9", ("distrax",)),
    Project("rlax", "rlax==0.1.9", ("rlax",)),
    Project("dynamax", "dynamax==1.0.3", ("dynamax",)),
    Project("evosax", "evosax==0.3.2", ("evosax",)),
    Project("netket", "netket==3.23.0", ("netket",)),
)


# No downloads (pip, git clone): only what is cached or in a mirror. Tests set it.
OFFLINE = os.environ.get("JAXLINT_BENCH_OFFLINE", "") == "1"


def default_mirrors() -> list[Path]:
    """Mirror folders from $JAXLINT_BENCH_GIT_MIRRORS (os.pathsep-separated)."""
    value = os.environ.get("JAXLINT_BENCH_GIT_MIRRORS", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


class BenchError(RuntimeError):
    """A source that cannot be obtained (offline, unknown revision): the caller skips it."""


def cache_root() -> Path:
    return Path(os.environ.get("JAXLINT_BENCH_CACHE", Path.home() / ".cache" / "jaxlint-bench"))


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


def _unpack(archive: Path, destination: Path) -> None:
    tmp = destination.with_name(f"{destination.name}.partial.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
        # An sdist holds one top folder (name-version/): lint from inside it.
        entries = list(tmp.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            inner = entries[0]
            for child in inner.iterdir():
                child.rename(tmp / child.name)
            inner.rmdir()
    try:
        tmp.rename(destination)
    except OSError:  # another run unpacked it first
        shutil.rmtree(tmp, ignore_errors=True)


def pypi_tree(spec: str) -> Path:
    """Unpacked wheel (or sdist) of a pinned requirement, downloaded once into the cache."""
    if "==" not in spec:
        raise ValueError(f"{spec!r}: pin an exact version (name==version)")
    root = cache_root()
    destination = root / "src" / spec.replace("==", "-")
    if destination.is_dir():
        return destination
    downloads = root / "dl" / spec.replace("==", "-")
    downloads.mkdir(parents=True, exist_ok=True)
    archives = [p for p in downloads.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if not archives and OFFLINE:
        raise BenchError(f"{spec} is not cached and downloads are off")
    if not archives:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(downloads), spec]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"pip download {spec} failed (offline?): {done.stderr.strip().splitlines()[-1:]}")
        archives = [p for p in downloads.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if not archives:
        raise BenchError(f"pip download {spec}: no archive")
    _unpack(sorted(archives, key=lambda p: p.suffix != ".whl")[0], destination)
    return destination


def git_dir(repo: str, mirrors: list[Path]) -> Path:
    """A bare git directory holding ``repo`` ("owner/name"): a local mirror or a cached clone."""
    owner, name = repo.split("/")
    for folder in mirrors:
        for candidate in (folder / f"{owner}+{name}" / "repo", folder / f"{owner}+{name}.git", folder / owner / f"{name}.git"):
            if (candidate / "HEAD").is_file():
                return candidate
    clone = cache_root() / "git" / f"{owner}+{name}.git"
    if (clone / "HEAD").is_file():
        return clone
    if OFFLINE:
        raise BenchError(f"no mirror or cached clone of {repo} and downloads are off")
    clone.parent.mkdir(parents=True, exist_ok=True)
    command = ["git", "clone", "--quiet", "--bare", "--filter=blob:none", f"https://github.com/{repo}", str(clone)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(clone, ignore_errors=True)
        raise BenchError(f"no mirror of {repo} and cloning failed (offline?): {done.stderr.strip()[-200:]}")
    return clone


def git_tree_path(repo: str, commit: str) -> Path:
    owner, name = repo.split("/")
    return cache_root() / "git-src" / f"{owner}+{name}" / commit[:12]


def git_tree(repo: str, commit: str, roots: tuple[str, ...], mirrors: list[Path]) -> Path:
    """The folders ``roots`` of ``repo`` at ``commit``, extracted once into the cache."""
    destination = git_tree_path(repo, commit)
    if all((destination / root).exists() for root in roots):
        return destination
    gd = git_dir(repo, mirrors)
    destination.mkdir(parents=True, exist_ok=True)
    listed = subprocess.run(["git", "--git-dir", str(gd), "ls-tree", "--name-only", commit, *roots], capture_output=True, text=True)
    present = [root for root in roots if root in listed.stdout.split() or root == roots[0]]
    archive = subprocess.run(["git", "--git-dir", str(gd), "archive", "--format=tar", commit, *present], capture_output=True)
    if archive.returncode != 0:
        raise BenchError(f"{repo}@{commit[:12]}: git archive {' '.join(present)} failed: {archive.stderr.decode().strip()[-200:]}")
    tar = subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, capture_output=True)
    if tar.returncode != 0:
        raise BenchError(f"{repo}@{commit[:12]}: tar failed: {tar.stderr.decode().strip()[-200:]}")
    return destination


# ---------------------------------------------------------------------------------------------
# Running jaxlint
# ---------------------------------------------------------------------------------------------


_SNAPSHOT: Path | None = None  # set by --jaxlint-ref: lint with that commit, not the working tree


def jaxlint_snapshot(ref: str) -> Path:
    """An importable copy of jaxlint at git ``ref`` of this checkout (laid out as the
    ``package-dir`` mapping of pyproject.toml installs it), so a measurement names a commit
    even while the shared working tree has other people's half-done edits."""
    checkout = HERE.parent
    sha = subprocess.run(["git", "-C", str(checkout), "rev-parse", ref], capture_output=True, text=True, check=True).stdout.strip()
    destination = cache_root() / "jaxlint" / sha[:12]
    if (destination / "jaxlint").is_dir():
        return destination
    raw = destination.with_name(f"{sha[:12]}.raw.{os.getpid()}")  # other runs may build the same one
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(checkout), "archive", "--format=tar", sha], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(raw)], input=archive.stdout, check=True)
    with open(raw / "pyproject.toml", "rb") as stream:
        mapping = tomllib.load(stream)["tool"]["setuptools"]["package-dir"]
    staging = destination.with_name(f"{sha[:12]}.partial.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for package, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        target = staging.joinpath(*package.split("."))
        for source in (raw / folder).iterdir():
            if source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / source.name)
    try:
        staging.rename(destination)
    except OSError:  # another run finished the same snapshot first
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(raw)
    return destination


def jaxlint_command() -> list[str]:
    """The CLI of a snapshot (``--jaxlint-ref``), else the one next to this interpreter (the
    checkout's venv), else ``python -m jaxlint``."""
    if _SNAPSHOT is not None:
        code = f"import sys; sys.path.insert(0, {str(_SNAPSHOT)!r}); from jaxlint.cli import main; sys.exit(main())"
        return [sys.executable, "-c", code]
    script = Path(sys.executable).with_name("jaxlint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jaxlint"]


@dataclasses.dataclass
class Run:
    files: int
    findings: list[dict]
    seconds: float


def run_check(cwd: Path, paths: list[str], jobs: int = 1, extra: tuple[str, ...] = ()) -> Run:
    """``jaxlint check --no-cache --output-format json`` on ``paths`` (relative to ``cwd``)."""
    command = [*jaxlint_command(), "check", "--no-cache", "--output-format", "json", "--exit-zero", "--jobs", str(jobs), *extra, *paths]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} in {cwd} failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return Run(report["summary"]["files"], report["findings"], seconds)


def source_line(tree: Path, path: str, line: int, memo: dict[Path, list[str]] | None = None) -> str:
    """The stripped text of ``line`` (1-based) of ``tree/path``."""
    file = tree / path
    memo = {} if memo is None else memo
    if file not in memo:
        memo[file] = file.read_text(encoding="utf-8", errors="replace").splitlines()
    lines = memo[file]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def is_test_path(path: str) -> bool:
    parts = Path(path).parts
    name = parts[-1]
    return (
        any(p in ("test", "tests", "testing", "_testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


# ---------------------------------------------------------------------------------------------
# Precision: triage.toml
# ---------------------------------------------------------------------------------------------

TriageKey = tuple[str, str, str, str]  # project, path, rule, stripped line text


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str
    why: str
    kind: str  # short FP/acceptable category, for grouping ("scalar-list", "static-small", ...)


def load_triage(path: Path = TRIAGE) -> dict[TriageKey, Verdict]:
    """Parse triage.toml; a malformed entry is a one-line error naming the file and entry."""
    with open(path, "rb") as stream:
        data = tomllib.load(stream)
    triage: dict[TriageKey, Verdict] = {}
    for index, entry in enumerate(data.get("finding", [])):
        where = f"{path.name}: finding #{index + 1}"
        for field in ("project", "path", "rule", "line", "verdict", "why"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"{where}: missing or empty {field!r}")
        if entry["verdict"] not in VERDICTS:
            raise ValueError(f"{where}: verdict {entry['verdict']!r} is not one of {', '.join(VERDICTS)}")
        key = (entry["project"], entry["path"], entry["rule"], entry["line"].strip())
        if key in triage:
            raise ValueError(f"{where}: duplicate key {key}")
        triage[key] = Verdict(entry["verdict"], entry["why"], entry.get("kind", ""))
    return triage


def finding_key(project: str, finding: dict, tree: Path, memo: dict) -> TriageKey:
    return (project, finding["path"], finding["code"], source_line(tree, finding["path"], finding["line"], memo))


@dataclasses.dataclass
class Precision:
    counts: dict[str, collections.Counter]  # rule -> verdict -> count
    untriaged: list[TriageKey]
    stale: list[TriageKey]  # triaged keys no longer reported (fixed FP, or moved)

    def row(self, rule: str | None = None) -> tuple[int, int, int, int]:
        counter = collections.Counter()
        for r, c in self.counts.items():
            if rule is None or r == rule:
                counter.update(c)
        return counter["TP"], counter["acceptable"], counter["FP"], sum(counter.values())


def score_precision(keys: list[TriageKey], triage: dict[TriageKey, Verdict], projects: set[str]) -> Precision:
    """Verdicts of the reported findings (one per distinct key) against the triage file."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    untriaged = []
    seen = set()
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        verdict = triage.get(key)
        if verdict is None:
            untriaged.append(key)
        else:
            counts[key[2]][verdict.verdict] += 1
    stale = [k for k in triage if k[0] in projects and k not in seen]
    return Precision(dict(counts), untriaged, stale)


# ---------------------------------------------------------------------------------------------
# Recall: real_bugs.toml
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Revision:
    kind: str  # "git" or "pypi"
    ref: str  # commit or pinned requirement


@dataclasses.dataclass(frozen=True)
class BugCase:
    id: str
    repo: str
    url: str
    description: str
    before: Revision
    after: Revision
    root: str  # folder linted (the package around the file)
    tests: str  # the project's test folder, linted too ("" if none): functions jitted only in tests are traced
    file: str  # path of the culprit file, relative to the tree
    culprit: tuple[str, ...]  # substrings of culprit lines in the before file
    fixed: tuple[str, ...]  # substrings of replacement lines in the after file
    pattern: str  # what kind of compile-cost bug it is
    methods: bool  # the culprit lives in (or is reached through) methods
    expect: tuple[str, ...] = ()  # rules whose message describes this bug (empty: any rule counts)


def _revision(value: str, where: str) -> Revision:
    if re.fullmatch(r"[0-9a-f]{7,40}", value):
        return Revision("git", value)
    if value.startswith("pypi:") and "==" in value:
        return Revision("pypi", value[5:])
    raise ValueError(f"{where}: revision {value!r} is neither a commit sha nor 'pypi:name==version'")


def load_bugs(path: Path = BUGS) -> list[BugCase]:
    with open(path, "rb") as stream:
        data = tomllib.load(stream)
    cases = []
    ids = set()
    for index, entry in enumerate(data.get("case", [])):
        where = f"{path.name}: case #{index + 1} ({entry.get('id', '?')})"
        for field in ("id", "repo", "url", "description", "before", "after", "root", "file", "pattern"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"{where}: missing or empty {field!r}")
        expect = entry.get("expect", [])
        if not isinstance(expect, list) or not all(isinstance(r, str) and re.fullmatch(r"JL\d{3}", r) for r in expect):
            raise ValueError(f"{where}: 'expect' must be a list of rule codes (JL001, ...)")
        culprit = entry.get("culprit")
        if not isinstance(culprit, list) or not culprit or not all(isinstance(c, str) and c.strip() for c in culprit):
            raise ValueError(f"{where}: 'culprit' must be a non-empty list of line substrings")
        fixed = entry.get("fixed", [])
        if not isinstance(fixed, list) or not all(isinstance(c, str) and c.strip() for c in fixed):
            raise ValueError(f"{where}: 'fixed' must be a list of line substrings")
        if entry["id"] in ids:
            raise ValueError(f"{where}: duplicate id")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repo"]):
            raise ValueError(f"{where}: repo {entry['repo']!r} is not owner/name")
        if not (entry["file"] + "/").startswith(entry["root"].rstrip("/") + "/") and entry["root"] != ".":
            raise ValueError(f"{where}: file {entry['file']!r} is not under root {entry['root']!r}")
        ids.add(entry["id"])
        cases.append(
            BugCase(
                id=entry["id"],
                repo=entry["repo"],
                url=entry["url"],
                description=entry["description"],
                before=_revision(entry["before"], where),
                after=_revision(entry["after"], where),
                root=entry["root"],
                tests=entry.get("tests", ""),
                file=entry["file"],
                culprit=tuple(c.strip() for c in culprit),
                fixed=tuple(c.strip() for c in fixed),
                pattern=entry["pattern"],
                methods=bool(entry.get("methods", False)),
                expect=tuple(entry.get("expect", ())),
            )
        )
    return cases


def matching_lines(text: str, needles: tuple[str, ...]) -> set[int]:
    """1-based numbers of the lines containing any needle (whitespace-insensitive).

    ``"anchor >>> needle"`` picks only the first line containing ``needle`` after the first
    line containing ``anchor`` and before the next def/class/decorator at the anchor's
    indentation or less: for culprit text that also occurs elsewhere in the file (a NumPy twin)."""
    raw = text.splitlines()
    flat = [re.sub(r"\s+", "", line) for line in raw]
    found = set()
    for needle in needles:
        if " >>> " in needle:
            anchor, _, target = (re.sub(r"\s+", "", part) for part in needle.partition(" >>> "))
            start = next((i for i, line in enumerate(flat) if anchor in line), None)
            if start is None:
                continue
            indent = len(raw[start]) - len(raw[start].lstrip())
            for i in range(start, len(flat)):
                line = raw[i]
                opens_block = re.match(r"\s*(@|def\s|async\s+def\s|class\s)", line)
                if i > start and opens_block and len(line) - len(line.lstrip()) <= indent:
                    break
                if target in flat[i]:
                    found.add(i + 1)
                    break
            continue
        squeezed = re.sub(r"\s+", "", needle)
        found.update(i + 1 for i, line in enumerate(flat) if squeezed and squeezed in line)
    return found


def flagged(findings: list[dict], path: str, lines: set[int]) -> list[dict]:
    """Findings in ``path`` whose line span touches one of ``lines``."""
    return [f for f in findings if f["path"] == path and any(f["line"] <= n <= f.get("end_line", f["line"]) for n in lines)]


@dataclasses.dataclass
class BugResult:
    case: BugCase
    status: str  # "ok" or "skipped: reason"
    caught: bool = False
    before_rules: tuple[str, ...] = ()  # every rule on a culprit line (expected or not)
    after_clean: bool = True
    after_rules: tuple[str, ...] = ()
    missing_culprit: bool = False  # the culprit text was not found in the before file
    seconds: float = 0.0


def score_case(case: BugCase, before_text: str, before_findings: list[dict], after_text: str | None, after_findings: list[dict]) -> BugResult:
    """Recall and after-fix cleanliness of one case, from the two files and their findings."""
    culprit_lines = matching_lines(before_text, case.culprit)
    hits = flagged(before_findings, case.file, culprit_lines)
    rules = tuple(sorted({f["code"] for f in hits}))
    caught = any(r in case.expect for r in rules) if case.expect else bool(rules)
    result = BugResult(case, "ok", caught=caught, before_rules=rules)
    result.missing_culprit = not culprit_lines
    if after_text is not None:
        after_lines = matching_lines(after_text, case.culprit + case.fixed)
        after_hits = flagged(after_findings, case.file, after_lines)
        result.after_clean = not after_hits
        result.after_rules = tuple(sorted({f["code"] for f in after_hits}))
    return result


# Rules about recompiling (code that runs eagerly and jits per call), not about traced code.
_RECOMPILE_RULES = frozenset({"JL008", "JL009"})


def force_traced(source: str, lines: set[int]) -> str | None:
    """``source`` with ``@jax.jit`` on the innermost function around each of ``lines``.

    Tells a miss of the traced-context analysis (caught once the function is a root) from a
    miss of the rule's pattern (still not caught). None when no culprit is inside a function.
    """
    import ast

    tree = ast.parse(source)
    targets: set[ast.AST] = set()
    for number in lines:
        best = None
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= number <= (node.end_lineno or 0):
                if best is None or node.lineno > best.lineno:
                    best = node
        if best is not None:
            targets.add(best)
    if not targets:
        return None
    text = source.splitlines(keepends=True)
    for node in sorted(targets, key=lambda n: -n.lineno):
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        indent = re.match(r"\s*", text[first - 1]).group(0)
        text.insert(first - 1, f"{indent}@_jaxlint_bench_jax.jit\n")
    # The import goes after `from __future__` imports (which must come first).
    futures = [n.end_lineno or n.lineno for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    text.insert(max(futures, default=0), "import jax as _jaxlint_bench_jax\n")
    return "".join(text)


def diagnose(case: BugCase, mirrors: list[Path]) -> str:
    """Why a missed culprit is missed: not traced, or the rule pattern does not match."""
    if case.expect and set(case.expect) <= _RECOMPILE_RULES:
        return "rule pattern (a recompile in code that runs eagerly: tracing it would not help)"
    tree = revision_tree(case, case.before, mirrors)
    source = (tree / case.file).read_text(encoding="utf-8")
    forced = force_traced(source, matching_lines(source, case.culprit))
    if forced is None:
        return "culprit not inside a function"
    (cache_root() / "scratch").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=case.id + "-", dir=cache_root() / "scratch"))  # runs may overlap
    for folder in lint_paths(case, tree):
        shutil.copytree(tree / folder, scratch / folder)
    (scratch / case.file).write_text(forced, encoding="utf-8")
    run = run_check(scratch, lint_paths(case, scratch))
    shutil.rmtree(scratch, ignore_errors=True)
    hits = flagged(run.findings, case.file, matching_lines(forced, case.culprit))
    hits = [f for f in hits if not case.expect or f["code"] in case.expect]
    if hits:
        return "not traced (caught once its function is jitted: " + ", ".join(sorted({f["code"] for f in hits})) + ")"
    return "rule pattern (not caught even when its function is jitted)"


def revision_tree(case: BugCase, revision: Revision, mirrors: list[Path]) -> Path:
    if revision.kind == "pypi":
        return pypi_tree(revision.ref)
    return git_tree(case.repo, revision.ref, (case.root, case.tests) if case.tests else (case.root,), mirrors)


def lint_paths(case: BugCase, tree: Path) -> list[str]:
    """The package and, when the revision has one, its tests (as `jaxlint check` in a repo's CI)."""
    return [case.root] + ([case.tests] if case.tests and (tree / case.tests).is_dir() else [])


def run_case(case: BugCase, mirrors: list[Path]) -> BugResult:
    start = time.perf_counter()
    try:
        before_tree = revision_tree(case, case.before, mirrors)
        after_tree = revision_tree(case, case.after, mirrors)
    except BenchError as error:
        return BugResult(case, f"skipped: {error}")
    before_file = before_tree / case.file
    if not before_file.is_file():
        return BugResult(case, f"skipped: {case.file} not in the before revision")
    before = run_check(before_tree, lint_paths(case, before_tree))
    after_file = after_tree / case.file
    after_text = after_file.read_text(encoding="utf-8") if after_file.is_file() else None
    after = run_check(after_tree, lint_paths(case, after_tree)) if after_text is not None else Run(0, [], 0.0)
    result = score_case(case, before_file.read_text(encoding="utf-8"), before.findings, after_text, after.findings)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def project_report(
    dump_untriaged: Path | None = None,
    jobs: int = 1,
    projects: tuple[Project, ...] = PROJECTS,
    triage_path: Path = TRIAGE,
    tree_of=pypi_tree,
) -> tuple[str, dict]:
    """Markdown tables (findings per project, precision per rule, non-TP kinds) and a summary."""
    triage = load_triage(triage_path)
    rows = []
    all_keys: list[TriageKey] = []
    details: dict[TriageKey, dict] = {}  # where each key was seen, for --dump-untriaged
    test_findings = 0
    totals = collections.Counter()
    by_rule_all = collections.Counter()
    failures = []
    for project in projects:
        try:
            tree = tree_of(project.spec)
        except BenchError as error:
            failures.append(f"{project.name}: {error}")
            continue
        run = run_check(tree, list(project.packages), jobs=jobs)
        memo: dict = {}
        by_rule = collections.Counter(f["code"] for f in run.findings)
        by_rule_all.update(by_rule)
        outside = [f for f in run.findings if not is_test_path(f["path"])]
        test_findings += len(run.findings) - len(outside)
        for f in outside:
            key = finding_key(project.name, f, tree, memo)
            all_keys.append(key)
            details.setdefault(key, {"tree": str(tree), "line": f["line"], "message": f["message"]})
        totals.update(files=run.files, findings=len(run.findings), seconds=run.seconds)
        rules = ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items())) or "–"
        rows.append(f"| {project.spec} | {run.files} | {len(run.findings)} | {rules} | {run.seconds:.1f} |")
    precision = score_precision(all_keys, triage, {p.name for p in projects})
    lines = [
        "| project | files | findings | by rule | seconds |",
        "| --- | ---: | ---: | --- | ---: |",
        *rows,
        f"| **total** | {totals['files']} | {totals['findings']} | "
        + ", ".join(f"{r} {n}" for r, n in sorted(by_rule_all.items()))
        + f" | {totals['seconds']:.1f} |",
        "",
        f"Findings in test files (not triaged): {test_findings}. Distinct findings outside tests: "
        f"{len(set(all_keys))}, of which triaged: {len(set(all_keys)) - len(precision.untriaged)}.",
        "",
        "| rule | TP | acceptable | FP | triaged | TP + acceptable | FP share |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rule in sorted(precision.counts):
        tp, ok, fp, n = precision.row(rule)
        lines.append(f"| {rule} | {tp} | {ok} | {fp} | {n} | {_pct(tp + ok, n)} | {_pct(fp, n)} |")
    tp, ok, fp, n = precision.row()
    lines.append(f"| **all** | {tp} | {ok} | {fp} | {n} | **{_pct(tp + ok, n)}** | **{_pct(fp, n)}** |")
    kinds = collections.Counter(
        (triage[k].verdict, triage[k].kind or "-", k[2]) for k in dict.fromkeys(all_keys) if k in triage and triage[k].verdict != "TP"
    )
    if kinds:
        lines += ["", "| verdict | kind | rule | findings |", "| --- | --- | --- | ---: |"]
        lines += [f"| {v} | {kind} | {rule} | {count} |" for (v, kind, rule), count in sorted(kinds.items(), key=lambda x: (x[0][0], -x[1]))]
    if precision.stale:
        lines += ["", f"Triaged findings no longer reported: {len(precision.stale)} "
                  f"({collections.Counter(triage[k].verdict for k in precision.stale)}):"]
        lines += [f"- {k[0]} `{k[1]}` {k[2]} ({triage[k].verdict}): `{k[3]}`" for k in precision.stale]
    if failures:
        lines += ["", "Skipped: " + "; ".join(failures)]
    if dump_untriaged is not None:
        with open(dump_untriaged, "w") as stream:
            for key in precision.untriaged:
                stream.write(json.dumps({"key": key, **details[key]}) + "\n")
    summary = {"tp": tp, "acceptable": ok, "fp": fp, "triaged": n, "untriaged": len(precision.untriaged), "projects": len(rows)}
    return "\n".join(lines), summary


def bug_report(mirrors: list[Path], only: set[str] | None = None, explain: bool = False) -> tuple[str, dict]:
    cases = [c for c in load_bugs() if only is None or c.id in only]
    results = [run_case(c, mirrors) for c in cases]
    lines = [
        "| case | pattern | methods | before: culprit flagged | after: clean |",
        "| --- | --- | :---: | --- | --- |",
    ]
    diagnoses = []
    for r in results:
        c = r.case
        if r.status != "ok":
            lines.append(f"| [{c.id}]({c.url}) | {c.pattern} | {'✓' if c.methods else ''} | {r.status} | |")
            continue
        if r.caught:
            before = "**yes** " + ", ".join(r.before_rules)
        elif r.missing_culprit:
            before = "culprit text not found"
        else:
            before = "no" + (f" (only {', '.join(r.before_rules)}, which does not describe this bug)" if r.before_rules else "")
        if explain and not r.caught and not r.missing_culprit:
            diagnoses.append(f"- {c.id}: {diagnose(c, mirrors)}")
        after = "yes" if r.after_clean else "**no** " + ", ".join(r.after_rules)
        lines.append(f"| [{c.id}]({c.url}) | {c.pattern} | {'✓' if c.methods else ''} | {before} | {after} |")
    ran = [r for r in results if r.status == "ok"]
    caught = sum(r.caught for r in ran)
    clean = sum(r.after_clean for r in ran)
    lines += ["", f"Recall: **{caught}/{len(ran)}** cases ({_pct(caught, len(ran))}); fixed revision clean at the culprit: "
              f"**{clean}/{len(ran)}**; skipped: {len(results) - len(ran)}."]
    if diagnoses:
        lines += ["", "Misses (`--explain`: the culprit's function re-linted with `@jax.jit` added):", *diagnoses]
    return "\n".join(lines), {"caught": caught, "ran": len(ran), "clean": clean, "skipped": len(results) - len(ran)}


def update_results(body: str) -> None:
    text = RESULTS.read_text()
    block = f"{SECTION}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("projects", "bugs", "all"))
    parser.add_argument(
        "--git-mirrors", action="append", type=Path, default=default_mirrors(),
        help="folders holding bare clones (owner+name/repo); default $JAXLINT_BENCH_GIT_MIRRORS",
    )
    parser.add_argument("--case", action="append", help="only these bug ids")
    parser.add_argument("--jobs", type=int, default=1, help="jaxlint worker processes per project (default 1: seconds comparable)")
    parser.add_argument("--jaxlint-ref", help="lint with jaxlint at this commit of the checkout (e.g. HEAD), not the working tree")
    parser.add_argument("--explain", action="store_true", help="for each missed bug: not traced, or the rule's pattern?")
    parser.add_argument("--dump-untriaged", type=Path, help="write the untriaged finding keys (JSON lines) here")
    parser.add_argument("--update-results", action="store_true", help="(re)write this section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    global _SNAPSHOT
    if args.jaxlint_ref:
        _SNAPSHOT = jaxlint_snapshot(args.jaxlint_ref)
        print(f"jaxlint at {args.jaxlint_ref} ({_SNAPSHOT.name})", file=sys.stderr)
    parts = []
    if args.what in ("projects", "all"):
        table, summary = project_report(args.dump_untriaged, args.jobs)
        parts.append("### Findings and precision on pinned releases\n\nCommand: `python benchmarks/real_code.py projects`\n\n" + table)
        print(json.dumps({"precision": summary}), file=sys.stderr)
    if args.what in ("bugs", "all"):
        table, summary = bug_report(args.git_mirrors, set(args.case) if args.case else None, args.explain)
        parts.append("### Recall on real upstream compile-time fixes\n\nCommand: `python benchmarks/real_code.py bugs`\n\n" + table)
        print(json.dumps({"recall": summary}), file=sys.stderr)
    body = "\n\n".join(parts)
    print(body)
    if args.update_results:
        update_results(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
