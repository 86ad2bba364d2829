"""``jaxlint server``: the lint rules in an editor, as a language server (LSP over stdio, pygls).

- Diagnostics when a document is opened, changed or saved: the same engine, configuration,
  ``# noqa`` handling and traced context as ``jaxlint check`` (the call graph spans the
  project on disk, with the editor's unsaved text standing in for the open file).
- Code actions: each fixable finding offers its fix (safe ones preferred; unsafe ones say
  "unsafe" in the title and are never preferred), plus ``source.fixAll.jaxlint`` for every
  safe fix at once.
- Hover on a finding (or on a code like ``JL001`` in a noqa comment): ``jaxlint rule CODE``.

pygls is an optional extra (``pip install '.[server]'`` in the jaxlint checkout).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jaxlint import __version__
from jaxlint.cli import JaxlintCommand

if TYPE_CHECKING:  # pragma: no cover
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer
    from pygls.workspace import TextDocument

    from jaxlint.rules import Finding

SOURCE = "jaxlint"
FIX_ALL_KIND = "source.fixAll.jaxlint"
_CODE = re.compile(r"JL\d{3}")
_SUFFIXES = (".py", ".pyi")


@dataclass
class _Linted:
    version: int | None
    findings: list["Finding"]


# Entries kept per table of the server's in-memory cache (each edit adds a few).
_CACHE_ENTRIES = 4096


def lint_text(
    path: str, text: str, *, fix: bool = False, unsafe: bool = False, cache: Any = None
) -> tuple[list["Finding"], str, list[str]]:
    """Lint ``text`` as the file ``path`` (config, noqa and project context as ``jaxlint check``).

    ``cache``: a ``jaxlint.rules._runner.Cache`` kept across calls (in memory: an editor's
    keystrokes are never written to ``.jaxlint_cache/``). Returns (findings, the text after
    fixes (``fix``), problems to show the user)."""
    from jaxlint.rules._config import ConfigError, load_config
    from jaxlint.rules._engine import check_paths

    try:
        config = load_config(Path(path))
        if _excluded(config, path):
            return [], text, []
        result = check_paths([path], sources={path: text}, jobs=1, config=config, fix=fix, unsafe_fixes=unsafe,
                             use_cache=cache is not None, cache=cache)
    except ConfigError as error:
        return [], text, [str(error)]
    if cache is not None:
        for table in list(cache._loaded.values()):
            while len(table) > _CACHE_ENTRIES:  # dict order is recency: drop the oldest
                table.pop(next(iter(table)))
    fixed = next(iter(result.fixed_sources.values()), text)
    return result.findings, fixed, [*result.errors, *result.warnings]


def _excluded(config: Any, path: str) -> bool:
    """As ``jaxlint check .`` would skip it: under a default-excluded folder (``.venv``,
    ``site-packages``, ``build``, ... : library code an editor opened by go-to-definition) or
    matching the config's ``exclude`` / ``extend-exclude``."""
    from jaxlint.rules._files import is_ignored

    absolute = Path(os.path.abspath(path))
    try:
        folders = absolute.parent.relative_to(config.root.resolve()).parts
    except ValueError:  # outside the project: every folder name counts
        folders = absolute.parent.parts
    if set(folders) & set(config.default_exclude):
        return True
    patterns = config.exclude_patterns()
    return any(is_ignored(patterns, parent.as_posix(), True) for parent in absolute.parents) or is_ignored(
        patterns, absolute.as_posix(), False
    )


def _position(document: "TextDocument", line: int, column: int) -> "types.Position":
    """A finding's (1-based line, code-point column) in the client's units (UTF-16 by default)."""
    from pygls.workspace.position_codec import ServerTextPosition

    return document.position_to_client_units(ServerTextPosition(line - 1, column))


def _range(document: "TextDocument", line: int, column: int, end_line: int, end_column: int) -> "types.Range":
    from lsprotocol import types

    return types.Range(start=_position(document, line, column), end=_position(document, end_line, end_column))


def _diagnostic(document: "TextDocument", finding: "Finding") -> "types.Diagnostic":
    from lsprotocol import types

    fix = finding.fix.applicability if finding.fix is not None else None
    return types.Diagnostic(
        range=_range(document, finding.line, finding.column, finding.end_line, finding.end_column),
        message=finding.message,
        severity=types.DiagnosticSeverity.Error if finding.code == "JL000" else types.DiagnosticSeverity.Warning,
        code=finding.code,
        source=SOURCE,
        data={"name": finding.name, "fix": fix},
    )


def _edits(document: "TextDocument", finding: "Finding") -> list["types.TextEdit"]:
    from lsprotocol import types

    assert finding.fix is not None
    return [
        types.TextEdit(range=_range(document, e.line, e.column, e.end_line, e.end_column), new_text=e.content)
        for e in finding.fix.edits
    ]


def _overlaps(a: "types.Range", b: "types.Range") -> bool:
    def key(p: "types.Position") -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _rule_markdown(code: str) -> str | None:
    from jaxlint.rules._catalogue import rule_by_code, rule_doc

    found = rule_by_code(code)
    return rule_doc(found) if found is not None else None


def _warm_up() -> None:
    # One file on its own: no project walk, no cache written wherever the editor started us.
    import jaxlint.rules._engine  # noqa: F401
    from jaxlint.rules import check_source

    check_source("import jax\nimport jax.numpy as jnp\n\n\n@jax.jit\ndef f(y0, ts):\n    return jnp.stack([y0] * len(ts))\n", "warm_up.py")


def build_server() -> "LanguageServer":
    """The pygls server with jaxlint's features registered (started by :func:`server`)."""
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from jaxlint.rules._runner import Cache

    ls = LanguageServer("jaxlint", __version__)
    linted: dict[str, _Linted] = {}
    memory = Cache(None)  # summaries, call graph and results of this session, never on disk

    def path_of(document: "TextDocument") -> str | None:
        path = document.path
        return path if path and path.endswith(_SUFFIXES) else None

    def refresh(uri: str) -> _Linted:
        document = ls.workspace.get_text_document(uri)
        path = path_of(document)
        findings: list[Finding] = []
        if path is not None:
            findings, _, problems = lint_text(path, document.source, cache=memory)
            for problem in problems:
                ls.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=f"jaxlint: {problem}"))
        linted[uri] = _Linted(document.version, findings)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=document.version, diagnostics=[_diagnostic(document, f) for f in findings]
            )
        )
        return linted[uri]

    @ls.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        # Import the parser, call graph and rules while the editor is still opening files,
        # so the first diagnostics are as quick as the later ones.
        threading.Thread(target=_warm_up, name="jaxlint-warm-up", daemon=True).start()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        refresh(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        refresh(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        # The saved file is now part of every other file's project context on disk (it may
        # jit a helper open in another tab): re-lint all open documents, the saved one first.
        saved = params.text_document.uri
        for uri in [saved, *(u for u in linted if u != saved)]:
            refresh(uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        linted.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    def current(uri: str) -> tuple["TextDocument", _Linted]:
        document = ls.workspace.get_text_document(uri)
        state = linted.get(uri)
        if state is None or state.version != document.version:
            state = refresh(uri)  # never offer an edit computed for an older text
        return document, state

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document, state = current(uri)
        wanted = params.context.only
        actions: list[types.CodeAction] = []
        if wanted is None or types.CodeActionKind.QuickFix in wanted:
            for finding in state.findings:
                if finding.fix is None:
                    continue
                diagnostic = _diagnostic(document, finding)
                if not _overlaps(diagnostic.range, params.range):
                    continue
                unsafe = finding.fix.applicability == "unsafe"
                actions.append(
                    types.CodeAction(
                        title=f"jaxlint: fix {finding.code} ({finding.name})" + (" [unsafe: may change behaviour]" if unsafe else ""),
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        is_preferred=not unsafe,
                        edit=types.WorkspaceEdit(changes={uri: _edits(document, finding)}),
                    )
                )
        fix_all_wanted = wanted is None or any(FIX_ALL_KIND.startswith(kind) for kind in wanted)
        if fix_all_wanted and any(f.fix is not None and f.fix.applicability == "safe" for f in state.findings):
            path = path_of(document)
            assert path is not None
            _, fixed, _ = lint_text(path, document.source, fix=True, cache=memory)
            if fixed != document.source:
                lines = document.lines
                end = types.Position(line=len(lines), character=0)
                actions.append(
                    types.CodeAction(
                        title="jaxlint: fix all safe problems",
                        kind=FIX_ALL_KIND,
                        edit=types.WorkspaceEdit(
                            changes={uri: [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=fixed)]}
                        ),
                    )
                )
        return actions

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover | None:
        document, state = current(params.text_document.uri)
        point = types.Range(start=params.position, end=params.position)
        for finding in state.findings:
            diagnostic = _diagnostic(document, finding)
            if _overlaps(diagnostic.range, point):
                text = _rule_markdown(finding.code)
                if text is not None:
                    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=diagnostic.range)
        word = document.word_at_position(params.position)
        match = _CODE.fullmatch(word.strip(":,[]")) if word else None
        text = _rule_markdown(match.group(0)) if match else None
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    return ls


@click.command("server", cls=JaxlintCommand, context_settings={"help_option_names": ["-h", "--help"]})
def server() -> None:
    """Run the language server on stdin/stdout (LSP): diagnostics, fixes and rule docs in editors.

    \b
    Editors start it as `jaxlint server`; it never runs your code. Needs pygls:
      pip install '.[server]'      (in the jaxlint checkout)
    """
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        missing = click.ClickException(
            "jaxlint server needs pygls, an optional extra: pip install '.[server]' in the jaxlint checkout (or pip install pygls)"
        )
        missing.exit_code = 2  # a usage problem, as everywhere else
        raise missing from None
    build_server().start_io()
