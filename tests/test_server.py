"""``jaxlint server`` end to end: a real LSP client (pytest-lsp) starts ``python -m jaxlint
server`` as a subprocess and talks JSON-RPC over its stdin/stdout, as an editor does."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp", reason="needs the test extra pytest-lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

SOURCE = textwrap.dedent(
    """\
    import jax
    import jax.numpy as jnp


    @jax.jit
    def init_buffer(y0, ts):
        return jnp.stack([0.25] * 10000)
    """
)
FIXED = SOURCE.replace("jnp.stack([0.25] * 10000)", "jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))")

# A helper that is only traced because *another* file (on disk, not open) jits it.
HELPER = textwrap.dedent(
    """\
    import jax.numpy as jnp


    def euler(y0, ts, f):
        ys = [y0]
        for i in range(len(ts) - 1):
            ys.append(ys[-1] + (ts[i + 1] - ts[i]) * f(ys[-1]))
        return jnp.stack(ys)
    """
)
CALLER = "import jax\nfrom helper import euler\n\nsolve = jax.jit(euler, static_argnums=2)\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.jaxlint]\nignore = ["JL003"]\nextend-exclude = ["legacy/"]\n')
    (tmp_path / "caller.py").write_text(CALLER)
    return tmp_path


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "jaxlint", "server"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str) -> list[types.Diagnostic]:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )
    await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=120)
    return list(client.diagnostics[uri])


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (ASCII text: UTF-16 units are characters) from the last to the first."""
    lines = text.splitlines(keepends=True)

    def offset(position: types.Position) -> int:
        return sum(len(line) for line in lines[: position.line]) + position.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


@pytest.mark.asyncio
async def test_diagnostic_code_action_and_hover(client: LanguageClient, workspace: Path) -> None:
    path = workspace / "model.py"  # not on disk: an unsaved buffer
    (diagnostic,) = await _open(client, path, SOURCE)
    assert (diagnostic.code, diagnostic.source) == ("JL001", "jaxlint")
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (6, 11)
    assert "`init_buffer` is jitted at" in diagnostic.message

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    quick = [a for a in actions if a.kind == types.CodeActionKind.QuickFix]
    assert [a.title for a in quick] == ["jaxlint: fix JL001 (stack-of-repeats)"]
    assert quick[0].is_preferred
    assert _apply(SOURCE, quick[0].edit.changes[path.as_uri()]) == FIXED
    (fix_all,) = [a for a in actions if a.kind == "source.fixAll.jaxlint"]
    assert _apply(SOURCE, fix_all.edit.changes[path.as_uri()]) == FIXED

    # The fixed text, sent back as an edit of the document, clears the diagnostic.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=FIXED)],
        )
    )
    await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=120)
    assert list(client.diagnostics[path.as_uri()]) == []

    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=types.Position(line=0, character=0))
    )
    assert hover is None  # no finding, no code under the cursor


@pytest.mark.asyncio
async def test_project_context_config_and_noqa(client: LanguageClient, workspace: Path) -> None:
    helper = workspace / "helper.py"
    helper.write_text(HELPER)
    (diagnostic,) = await _open(client, helper, HELPER)
    # JL002 fires in traced code only: euler is jitted from caller.py, which is not open.
    assert diagnostic.code == "JL002"
    assert "caller.py:4" in diagnostic.message

    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=helper.as_uri()), position=diagnostic.range.start)
    )
    assert hover.contents.value.startswith("# JL002 python-loop-over-size")
    assert "## References" in hover.contents.value

    # `# noqa: JL001` silences the line; [tool.jaxlint] ignore = ["JL003"] the unrolled scan.
    other = workspace / "other.py"
    silenced = SOURCE.replace("10000)", "10000)  # noqa: JL001") + (
        "\n\ndef run(body, c, xs):\n    return jax.lax.scan(body, c, xs, unroll=True)\n"
    )
    assert await _open(client, other, silenced) == []
    from jaxlint.rules import check_source

    assert {f.code for f in check_source(silenced.replace("  # noqa: JL001", ""), "other.py")} == {"JL001", "JL003"}
    # Files `jaxlint check .` would skip get no diagnostics: config excludes, library folders.
    assert await _open(client, workspace / "legacy" / "old.py", SOURCE) == []
    assert await _open(client, workspace / ".venv" / "lib" / "site-packages" / "lib.py", SOURCE) == []
    column = silenced.splitlines()[6].index("JL001") + 2  # the cursor on the code in the comment
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=other.as_uri()), position=types.Position(line=6, character=column))
    )
    assert hover.contents.value.startswith("# JL001 stack-of-repeats")


@pytest.mark.asyncio
async def test_unsafe_fix_is_marked_and_left_out_of_fix_all(client: LanguageClient, tmp_path: Path) -> None:
    path = tmp_path / "scan.py"
    text = "import jax\n\n\ndef run(body, c, xs):\n    return jax.lax.scan(body, c, xs, unroll=True)\n"
    (diagnostic,) = await _open(client, path, text)
    assert diagnostic.code == "JL003"
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    (action,) = actions  # no fix-all: it applies safe fixes only
    assert action.title == "jaxlint: fix JL003 (large-unroll) [unsafe: may change behaviour]"
    assert not action.is_preferred


def test_without_pygls_says_how_to_get_it() -> None:
    import subprocess

    code = "import sys; sys.modules['pygls'] = None; from jaxlint.cli import main; main(['server'], prog_name='jaxlint')"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stderr == (
        "error: jaxlint server needs pygls, an optional extra: pip install '.[server]' in the jaxlint checkout "
        "(or pip install pygls)\n"
    )


@pytest.mark.asyncio
async def test_saving_a_file_relints_the_open_files_it_makes_traced(client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.jaxlint]\n")
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER)
    assert await _open(client, helper, HELPER) == []  # nothing jits euler yet
    caller = tmp_path / "caller.py"
    assert await _open(client, caller, CALLER) == []
    caller.write_text(CALLER)  # the editor saved it
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=caller.as_uri())))
    for _ in range(2):  # caller.py's diagnostics, then helper.py's (a lost one fails, never hangs)
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=120)
    assert [d.code for d in client.diagnostics[helper.as_uri()]] == ["JL002"]
