"""Fixes as text edits: computing them from a replaced node, applying them, writing files.

A rule's fix is "replace this node by that node". The engine turns it into the minimal text
edit by rendering the module with the node replaced and trimming the common prefix and
suffix: exact whatever parentheses or whitespace the node owns, and independent of how
libcst attributes them. Edits are applied back to front, overlapping ones are left for the
next round (the engine re-lints and re-fixes until nothing changes, like ruff).

:func:`write_atomically` is the only way ``--fix`` touches a file: it re-checks that the file
still holds exactly what was read, writes a temporary file in the same folder and
``os.replace``s it, so a reader never sees half a file and a concurrent edit is never lost.
It writes through symlinks and keeps the target's mode, owner and hard links (as ruff).
"""

from __future__ import annotations

import bisect
import os
import stat
from pathlib import Path
from typing import Iterable

import libcst as cst

from jaxlint.rules._base import Edit, Fix, Replacement
from jaxlint.rules._files import line_starts


class FixRefused(Exception):
    """A fix was not written (the file changed since it was read, or the result does not parse)."""


def _line_starts(text: str) -> list[int]:
    # \r\n, \r and \n, as libcst and Python count lines (a CR-only file has one "\n"-line).
    return line_starts(text)


def offset_to_position(line_starts: list[int], offset: int) -> tuple[int, int]:
    """Character offset -> (1-based line, 0-based column)."""
    line_index = bisect.bisect_right(line_starts, offset) - 1
    return line_index + 1, offset - line_starts[line_index]


def edit_between(old: str, new: str, line_starts: list[int] | None = None) -> Edit | None:
    """The minimal single edit turning ``old`` into ``new`` (None when they are equal)."""
    if old == new:
        return None
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    starts = line_starts if line_starts is not None else _line_starts(old)
    start, end = prefix, len(old) - suffix
    line, column = offset_to_position(starts, start)
    end_line, end_column = offset_to_position(starts, end)
    return Edit(line, column, end_line, end_column, new[prefix : len(new) - suffix], start, end)


def fix_for_replacement(
    module: cst.Module,
    node: cst.CSTNode,
    replacement: Replacement,
    unsafe: bool,
    line_starts: list[int] | None = None,
    statement: tuple[cst.CSTNode, int] | None = None,
) -> Fix | None:
    """Render the code with ``node`` replaced and express the change as one minimal edit.

    With ``statement`` = (the top-level statement holding ``node``, the line its text starts
    on), only that statement is re-rendered: a fix costs one statement's codegen, not the
    module's. Without it, the whole module is rendered.
    """
    starts = line_starts if line_starts is not None else _line_starts(module.code)
    if statement is not None:
        holder, first_line = statement
        if node is holder:
            changed: object = replacement
        elif isinstance(replacement, cst.RemovalSentinel):
            changed = holder.deep_remove(node)
        else:
            changed = holder.deep_replace(node, replacement)
        old = module.code_for_node(holder)
        if isinstance(changed, cst.RemovalSentinel):
            new = ""
        elif isinstance(changed, cst.CSTNode):
            new = module.code_for_node(changed)
        else:
            return None
        local = edit_between(old, new)
        if local is None:
            return None
        base = starts[first_line - 1]
        start, end = base + local.start_offset, base + local.end_offset
        line, column = offset_to_position(starts, start)
        end_line, end_column = offset_to_position(starts, end)
        edit = Edit(line, column, end_line, end_column, local.content, start, end)
        return Fix("unsafe" if unsafe else "safe", (edit,))
    if isinstance(replacement, cst.RemovalSentinel):
        changed_module = module.deep_remove(node)
    else:
        changed_module = module.deep_replace(node, replacement)
    if not isinstance(changed_module, cst.Module):
        return None
    edit = edit_between(module.code, changed_module.code, starts)
    if edit is None:
        return None
    return Fix("unsafe" if unsafe else "safe", (edit,))


def apply_edits(source: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """Apply non-overlapping fixes; returns (new source, number of fixes applied).

    A fix whose edits overlap an already chosen fix is skipped (the caller re-lints the
    result and gets it in the next round).
    """
    chosen: list[Fix] = []
    taken: list[tuple[int, int]] = []
    for fix in sorted(fixes, key=lambda f: min(e.start_offset for e in f.edits)):
        spans = [(e.start_offset, e.end_offset) for e in fix.edits]
        if any(s < te and ts < e or (s == e == ts == te) for s, e in spans for ts, te in taken):
            continue
        chosen.append(fix)
        taken.extend(spans)
    edits = sorted((e for f in chosen for e in f.edits), key=lambda e: e.start_offset, reverse=True)
    text = source
    for edit in edits:
        text = text[: edit.start_offset] + edit.content + text[edit.end_offset :]
    return text, len(chosen)


def ensure_parses(text: str, path: str) -> None:
    """Raise :class:`FixRefused` if ``text`` is not valid Python (a fix must never break a file)."""
    try:
        compile(text, path, "exec", dont_inherit=True, flags=0x400)  # PyCF_ONLY_AST: no code objects
    except (SyntaxError, ValueError) as error:
        raise FixRefused(f"{path}: fixed code does not parse ({error}); file left unchanged") from error


def write_atomically(
    path: Path, expected_old: bytes, new_text: str, encoding: str = "utf-8", display: str | None = None
) -> None:
    """Replace ``path``'s content by ``new_text`` unless it changed since it was read.

    Like ruff, the write goes through a symlink to its target, and the target keeps its
    identity: mode, owner and group, and its hard links. When nothing stands in the way, a
    temporary file next to the target (same filesystem) is ``os.replace``d over it, so a
    reader never sees half a file; a file with several hard links, or whose owner we cannot
    give to a new file, or in a folder we cannot create files in, is rewritten in place.
    """
    label = display or str(path)
    target = Path(os.path.realpath(path))
    data = new_text.encode(encoding)  # "utf-8-sig" writes the BOM back
    try:
        current = target.read_bytes()
        info = os.stat(target)
    except OSError as error:
        raise FixRefused(f"{label}: cannot re-read before writing the fix ({error.strerror})") from error
    if current != expected_old:
        raise FixRefused(f"{label}: changed since it was read; fix not written")
    if info.st_nlink > 1 or not _replace_atomically(target, data, info):
        _rewrite_in_place(target, expected_old, data, label)


def _replace_atomically(target: Path, data: bytes, info: os.stat_result) -> bool:
    """Write ``data`` to a temporary file with ``target``'s mode and owner and swap it in.
    False (nothing changed) when the temporary file cannot be made like the target."""
    import tempfile  # only a run that writes a fix needs it

    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".jaxlint-tmp", dir=target.parent)
    except PermissionError:
        return False
    try:
        with os.fdopen(handle, "wb") as stream:
            own = os.fstat(stream.fileno())
            if (own.st_uid, own.st_gid) != (info.st_uid, info.st_gid):
                try:
                    os.fchown(stream.fileno(), info.st_uid, info.st_gid)
                except PermissionError:  # not ours to give away: keep the file, write in place
                    os.unlink(temporary)
                    return False
            os.fchmod(stream.fileno(), stat.S_IMODE(info.st_mode))
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return True


def _rewrite_in_place(target: Path, expected_old: bytes, data: bytes, label: str) -> None:
    with open(target, "r+b") as stream:
        if stream.read() != expected_old:
            raise FixRefused(f"{label}: changed since it was read; fix not written")
        stream.seek(0)
        stream.write(data)
        stream.truncate()
