"""Targets: which user code to measure, and how to build it at size n.

``file.py::NAME`` names a function ``NAME(n)`` that returns ``(fn, args)`` or
``(fn, args, kwargs)``; ``file.py`` alone selects every function marked ``@jaxlint.case``.
Loading a target runs the user's module (like pytest imports a test file), so this is only
used by ``scale`` and ``residuals``, never by ``check``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from jaxlint import CASE_MARKER


class TargetError(Exception):
    """A problem with the user's target; the message is one line naming what is wrong."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details  # e.g. the user's traceback


@dataclass(frozen=True)
class Target:
    path: str
    name: str | None  # None: every @jaxlint.case function in the file

    def __str__(self) -> str:
        return self.path if self.name is None else f"{self.path}::{self.name}"


@dataclass
class BuiltCase:
    """What ``NAME(n)`` returned, normalised."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def parse_target(text: str) -> Target:
    path, sep, name = text.partition("::")
    if sep and not name.isidentifier():
        raise TargetError(f"{text}: {name!r} after '::' is not a Python name")
    if not path.endswith(".py"):
        raise TargetError(f"{text}: the target must be a .py file, optionally followed by ::NAME")
    if not os.path.exists(path):
        raise TargetError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise TargetError(f"{path}: not a file")
    return Target(path=path, name=name or None)


def user_traceback(error: BaseException, path: str) -> str:
    """The traceback from the first frame in the user's file on (our own frames are noise)."""
    frames = traceback.extract_tb(error.__traceback__)
    real = os.path.realpath(path)
    start = next((i for i, f in enumerate(frames) if os.path.realpath(f.filename) == real), 0)
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames[start:])
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def load_module(path: str) -> ModuleType:
    """Import the user's file under a private name, with its folder on sys.path (like pytest)."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"_jaxlint_target_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise TargetError(f"{path}:{error.lineno}: syntax error: {error.msg}") from error
    except Exception as error:
        raise TargetError(
            f"{path}: importing the file raised {type(error).__name__}: {error}",
            details=user_traceback(error, path),
        ) from error
    return module


def case_names(module: ModuleType, target: Target) -> list[str]:
    """The case functions a target selects, in definition order."""
    if target.name is not None:
        if not hasattr(module, target.name):
            raise TargetError(f"{target.path}: no function named {target.name!r}")
        if not callable(getattr(module, target.name)):
            raise TargetError(f"{target.path}::{target.name} is not callable")
        return [target.name]
    names = [
        name
        for name, value in vars(module).items()
        if callable(value) and getattr(value, CASE_MARKER, False)
    ]
    if not names:
        raise TargetError(
            f"{target.path}: no function is marked @jaxlint.case; name one with {target.path}::NAME"
        )
    return names


def build_case(module: ModuleType, path: str, name: str, n: int) -> BuiltCase:
    """Call ``NAME(n)`` and check it returned ``(fn, args)`` or ``(fn, args, kwargs)``."""
    factory = getattr(module, name)
    try:
        built = factory(n)
    except Exception as error:
        raise TargetError(
            f"{path}::{name}({n}) raised {type(error).__name__}: {error}",
            details=user_traceback(error, path),
        ) from error
    shape_hint = "(fn, args) or (fn, args, kwargs)"
    if not isinstance(built, tuple) or len(built) not in (2, 3):
        raise TargetError(f"{path}::{name}({n}) returned {type(built).__name__}; expected {shape_hint}")
    fn, args = built[0], built[1]
    kwargs = built[2] if len(built) == 3 else {}
    if not callable(fn):
        raise TargetError(f"{path}::{name}({n}) returned a non-callable fn ({type(fn).__name__}); expected {shape_hint}")
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise TargetError(f"{path}::{name}({n}) returned args of type {type(args).__name__}; expected a tuple in {shape_hint}")
    if not isinstance(kwargs, dict):
        raise TargetError(f"{path}::{name}({n}) returned kwargs of type {type(kwargs).__name__}; expected a dict in {shape_hint}")
    return BuiltCase(fn=fn, args=args, kwargs=kwargs)
