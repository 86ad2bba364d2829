"""Import libcst with its node classes' dataclass methods built when first called.

Why: libcst defines ~200 frozen dataclasses, and ``dataclasses`` writes out and compiles
about 1,000 methods for them (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__``, ``__delattr__``) while ``import libcst`` runs: 0.09 s of its 0.16 s on this
machine. A pre-commit run of ``jaxlint check`` on one small file pays that on every commit,
yet builds a few dozen node types and calls almost none of the other methods.

How: while libcst's modules execute, and only then, ``dataclasses._create_fn`` (the private
helper that compiles one generated method, Python 3.8 to 3.12) is replaced by one that returns
a stand-in. The stand-in's first call compiles the real method from the very same arguments,
puts it on the class in the stand-in's place (so later calls cost nothing extra) and runs it.
Every method a class ends up with is the one ``dataclasses`` would have made, compiled later;
``tests/rules/test_lazy_libcst.py`` checks the two imports agree on every node class and on
parsed, printed, compared, hashed and changed trees. On Python 3.13+, where the helper does not
exist (methods are compiled in one batch per class), libcst is imported as usual.

Only ``jaxlint check`` turns this on (:func:`defer_on_import`), in its own process, which runs
no user code. Importing ``jaxlint`` as a library, the server and the plugin change nothing.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Callable


def _deferring(create: Callable[..., Callable]) -> Callable[..., Callable]:
    """A stand-in for ``dataclasses._create_fn`` that defers each compilation to first use."""

    def create_on_first_call(name: str, *args: Any, **kwargs: Any) -> Callable:
        compiled: Callable | None = None

        def method(*call_args: Any, **call_kwargs: Any) -> Any:
            nonlocal compiled
            if compiled is None:
                compiled = create(name, *args, **kwargs)
                compiled.__qualname__ = method.__qualname__
                # Every generated method takes the instance first: find the class holding
                # this stand-in and put the real method there.
                for owner in type(call_args[0]).__mro__ if call_args else ():
                    if vars(owner).get(name) is method:
                        setattr(owner, name, compiled)
                        break
            return compiled(*call_args, **call_kwargs)

        method.__name__ = method.__qualname__ = name
        return method

    return create_on_first_call


class _DeferringLoader:
    """libcst's own loader, running the package's import with deferred dataclass methods (a
    loader needs only these two methods; ``importlib.abc`` would cost an import)."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        create = dataclasses._create_fn  # type: ignore[attr-defined]
        dataclasses._create_fn = _deferring(create)  # type: ignore[attr-defined]
        try:
            self._loader.exec_module(module)  # libcst/__init__ imports every node module
        finally:
            dataclasses._create_fn = create  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self._loader, name)


class _DeferOnImport:
    """Answers the first ``import libcst`` (then leaves ``sys.meta_path``)."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "libcst":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _DeferringLoader(spec.loader)
        return spec


def defer_on_import() -> bool:
    """Make this process's first ``import libcst`` defer its dataclass methods (see the module
    docstring). Nothing is imported now: a run that needs no rule never pays for libcst. Returns
    whether the deferral is armed (False when libcst is already imported, or on Python 3.13+)."""
    if "libcst" in sys.modules or not callable(getattr(dataclasses, "_create_fn", None)):
        return False
    if not any(isinstance(finder, _DeferOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferOnImport())
    return True
