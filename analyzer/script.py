"""Plain solve scripts: run the script once, catch its ``diffeqsolve`` calls and the jitted
function around each, re-lower that function at any n.

``jaxlint scale solve.py`` works on a script that names no jaxlint at all. We run it as
``__main__`` (like ``python solve.py ARGS``) with ``jaxlint.solver.diffeqsolve`` and
``diffrax.diffeqsolve`` replaced by an interceptor, everywhere they are bound: on the
package, in its own modules, and in user modules that imported the name already. A package
the script imports later is patched the moment its import finishes (an import hook), so a
script using only one of the two never pays for importing the other. ``jax.jit`` is wrapped
too while the script runs, so that we know which jitted function a solve is traced inside.

The interceptor records the first call made from each call site (the first frame outside
jax, equinox, the solver packages and jaxlint) and then lets the real solve run. When the
call happens while an outermost jitted function (``jax.jit``, ``eqx.filter_jit`` — which
jits through ``jax.jit`` — or ``pjit``) is being traced, that function and the shapes of
its arguments are recorded with it: *that* is the program the user compiles (grad, vmap and
the loss around the solve included), and it is what :mod:`.resize` re-lowers at each n.

A call is keyed by its enclosing function's qualified name and its ordinal among the solve
calls of that function (``solve.py:train_step#1``), so a baseline survives lines added
above it; the line is shown, not used as the key.

Subprocess workers re-run the capture (what a call closes over cannot be pickled): a worker
stops the script as soon as the site it measures is recorded.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import importlib.abc
import importlib.util
import inspect
import os
import runpy
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import jax
import numpy as np

from .attribute import is_internal
from .cases import TargetError, user_traceback

# (module, attribute) of each solve entry point we intercept. More can be named in the
# environment, ``JAXLINT_SOLVE_APIS=mypkg.solve:integrate,other:run`` (workers inherit it):
# any function whose call should be re-lowered with n save points the same way.
SOLVE_APIS: tuple[tuple[str, str], ...] = (("jaxlint.solver", "diffeqsolve"), ("diffrax", "diffeqsolve"))
SOLVE_APIS_ENV = "JAXLINT_SOLVE_APIS"

# Frames of these packages are never the user's call site (diffrax's adjoints call
# diffeqsolve themselves; those inner calls pass straight through).
_SOLVER_PACKAGES = ("diffrax", "lineax", "optimistix")
_SOLVER_DIR = os.path.join(os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "solver")), "")
_THIS_FILE = os.path.realpath(__file__)
_INTERCEPTOR_MARK = "__jaxlint_interceptor__"


@dataclass(frozen=True, order=True)
class CallSite:
    """Where the user's code called diffeqsolve (absolute path, line)."""

    path: str
    line: int

    @property
    def name(self) -> str:
        """``file.py:LINE``: where to look (shown; the case key is :attr:`CapturedCall.key`)."""
        return f"{os.path.basename(self.path)}:{self.line}"

    def key(self) -> str:
        return f"{self.path}:{self.line}"

    @classmethod
    def from_key(cls, key: str) -> "CallSite":
        path, _, line = key.rpartition(":")
        return cls(path, int(line))


@dataclass
class JitEntry:
    """The outermost jitted function a solve call was traced inside, with abstract arguments.

    ``function`` is the Python function jit wraps (equinox's ``filter_jit`` hands jit a
    function of its (dynamic, static) partition: that is what we re-trace). Array leaves of
    the non-static arguments are ``jax.ShapeDtypeStruct``; static arguments are kept as they
    were passed.
    """

    name: str  # the user's function, for reports
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # why it cannot stand for the program


@dataclass
class CapturedCall:
    """The first call made from one site, with array leaves replaced by ShapeDtypeStructs."""

    site: CallSite
    api: str  # "diffrax" or "jaxlint.solver"
    function: Callable[..., Any]  # the real diffeqsolve
    signature: inspect.Signature
    arguments: dict[str, Any]  # as passed (defaults left to the function)
    problems: list[str] = field(default_factory=list)  # traced values we cannot re-lower
    entry: JitEntry | None = None  # the jitted function around the call, if any
    function_name: str = "<module>"  # qualified name of the user function making the call
    ordinal: int = 1  # 1 for its first solve call (in source order), 2 for the next, ...
    under_transform: bool = False  # traced values in the call but no jit around it (vmap/grad)
    nested_jits: int = 0  # user jits between the outermost one and the call (their trace caches go stale)

    @property
    def key(self) -> str:
        """The case name: ``file.py:FUNCTION#ORDINAL`` (stable when lines move)."""
        return f"{os.path.basename(self.site.path)}:{self.function_name}#{self.ordinal}"


@dataclass
class ScriptCapture:
    path: str
    calls: list[CapturedCall]  # one per site, in the order the script reached them
    stopped_early: bool  # the script was stopped once the wanted calls were recorded


class _CaptureComplete(BaseException):
    """Raised by the interceptor to stop the script; a BaseException so that the user's
    ``except Exception`` blocks (and jax's tracing) let it through."""


def solve_apis() -> tuple[tuple[str, str], ...]:
    """:data:`SOLVE_APIS` plus those named in ``$JAXLINT_SOLVE_APIS``."""
    extra = []
    for entry in os.environ.get(SOLVE_APIS_ENV, "").split(","):
        if not entry.strip():
            continue
        module, sep, attribute = entry.strip().partition(":")
        if not (sep and module and attribute.isidentifier()):
            raise TargetError(f"${SOLVE_APIS_ENV}: {entry.strip()!r} is not MODULE:FUNCTION")
        extra.append((module, attribute))
    return SOLVE_APIS + tuple(api for api in extra if api not in SOLVE_APIS)


# ---------------------------------------------------------------------------------------------
# Turning a call's arguments abstract


def _is_tracer(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def _abstract_array(leaf: Any) -> jax.ShapeDtypeStruct:
    if _is_tracer(leaf):
        aval = leaf.aval
        return jax.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=getattr(aval, "weak_type", False))
    dtype = jax.dtypes.canonicalize_dtype(leaf.dtype)
    return jax.ShapeDtypeStruct(np.shape(leaf), dtype, weak_type=bool(getattr(leaf, "weak_type", False)))


def _is_array(leaf: Any) -> bool:
    return _is_tracer(leaf) or isinstance(leaf, (jax.Array, np.ndarray, np.generic))


def _holds_tracer(value: Any, seen: set[int], depth: int = 0) -> bool:
    """Whether a pytree, or a function's closure/defaults (recursively), holds a tracer."""
    if depth > 8 or id(value) in seen:
        return False
    seen.add(id(value))
    for leaf in jax.tree_util.tree_leaves(value):
        if _is_tracer(leaf):
            return True
        if isinstance(leaf, types.FunctionType):
            cells = [c.cell_contents for c in (leaf.__closure__ or ()) if _cell_is_set(c)]
            if any(_holds_tracer(v, seen, depth + 1) for v in [*cells, leaf.__defaults__, leaf.__kwdefaults__]):
                return True
        elif isinstance(leaf, functools.partial):
            if _holds_tracer((leaf.func, leaf.args, leaf.keywords), seen, depth + 1):
                return True
    return False


def _cell_is_set(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell (a variable assigned after the function was made)
        return False
    return True


class _Template:
    """A function's code and static closure, hashed by identity (it is a treedef's aux data)."""

    def __init__(self, function: types.FunctionType, static_cells: dict[int, Any]) -> None:
        self.function = function
        self.static_cells = static_cells


@jax.tree_util.register_pytree_node_class
class RebuiltClosure:
    """A function whose closure held traced values, as a pytree: those values are its children.

    Calling it builds the function again around the current values of its cells, so inside
    a new trace the closure sees that trace's inputs instead of the dead tracers.
    """

    def __init__(self, template: _Template, traced_cells: tuple[tuple[int, Any], ...], defaults: Any) -> None:
        self.template = template
        self.traced_cells = traced_cells
        self.defaults = defaults

    def tree_flatten(self) -> tuple[tuple[Any, ...], _Template]:
        return (self.traced_cells, self.defaults), self.template

    @classmethod
    def tree_unflatten(cls, template: _Template, children: tuple[Any, ...]) -> "RebuiltClosure":
        return cls(template, *children)

    @property
    def __name__(self) -> str:  # some solvers print the vector field's name in errors
        return self.template.function.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        original = self.template.function
        values = dict(self.template.static_cells)
        values.update(dict(self.traced_cells))
        cells = tuple(types.CellType(values[i]) if i in values else types.CellType() for i in range(len(original.__closure__ or ())))
        rebuilt = types.FunctionType(original.__code__, original.__globals__, original.__name__, self.defaults, cells)
        rebuilt.__kwdefaults__ = original.__kwdefaults__
        return rebuilt(*args, **kwargs)


def _describe_function(function: Any) -> str:
    code = getattr(function, "__code__", None)
    name = getattr(function, "__qualname__", type(function).__name__)
    if code is None:
        return f"`{name}`"
    return f"`{name}` ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"


class _Abstractor:
    """Replaces array leaves by ShapeDtypeStructs and rebuildable closures by RebuiltClosure,
    collecting a message for each traced value it cannot replace."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._done: dict[int, Any] = {}

    def tree(self, tree: Any) -> Any:
        return jax.tree_util.tree_map(self.leaf, tree)

    def leaf(self, leaf: Any) -> Any:
        if _is_array(leaf):
            return _abstract_array(leaf)
        if id(leaf) in self._done:
            return self._done[id(leaf)]
        result = leaf
        if isinstance(leaf, types.FunctionType) and _holds_tracer(leaf, set()):
            result = self._closure(leaf)
        elif isinstance(leaf, functools.partial) and _holds_tracer(leaf, set()):
            result = jax.tree_util.Partial(self.leaf(leaf.func), *self.tree(leaf.args), **self.tree(leaf.keywords))
        elif not isinstance(leaf, (types.FunctionType, functools.partial)):
            self._check_hidden(leaf)
        self._done[id(leaf)] = result
        return result

    def _closure(self, function: types.FunctionType) -> RebuiltClosure:
        traced: list[tuple[int, Any]] = []
        static: dict[int, Any] = {}
        for index, cell in enumerate(function.__closure__ or ()):
            if not _cell_is_set(cell):
                continue
            value = cell.cell_contents
            if _holds_tracer(value, set()):
                traced.append((index, self.tree(value)))
            else:
                static[index] = value
        defaults = function.__defaults__
        if _holds_tracer(defaults, set()):
            defaults = self.tree(defaults)
        if _holds_tracer(function.__kwdefaults__, set()):
            self.problems.append(
                f"{_describe_function(function)} has a keyword-only default that is a traced value"
            )
        return RebuiltClosure(_Template(function, static), tuple(traced), defaults)

    def _check_hidden(self, leaf: Any) -> None:
        """A plain object (not a pytree) holding a tracer in an attribute cannot be rebuilt."""
        owner = getattr(leaf, "__self__", None)
        target = owner if owner is not None and not isinstance(owner, types.ModuleType) else leaf
        attributes = getattr(target, "__dict__", None)
        if not isinstance(attributes, dict):
            return
        for name, value in attributes.items():
            if _holds_tracer(value, set()):
                kind = type(target).__name__
                self.problems.append(
                    f"a `{kind}` object in the call holds `{name}`, a value traced by the enclosing "
                    "jit/vmap, in a plain attribute (not a pytree field)"
                )
                return


# ---------------------------------------------------------------------------------------------
# Intercepting diffeqsolve


def _is_solver_internal(path: str) -> bool:
    if is_internal(path):
        return True
    real = os.path.realpath(path) if os.path.isabs(path) else path
    if real == _THIS_FILE or real.startswith(_SOLVER_DIR):
        return True
    parts = real.replace("\\", "/").split("/")
    return any(
        part in ("site-packages", "dist-packages") and index + 1 < len(parts) and parts[index + 1] in _SOLVER_PACKAGES
        for index, part in enumerate(parts)
    )


def _user_frame(frame: types.FrameType | None) -> types.FrameType | None:
    """The first frame outside jax/equinox/solver/jaxlint internals: the line the user wrote."""
    while frame is not None:
        if not _is_solver_internal(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def _site_of(frame: types.FrameType) -> CallSite:
    path = frame.f_code.co_filename
    return CallSite(os.path.realpath(path) if os.path.isabs(path) else path, frame.f_lineno)


def _call_site(frame: types.FrameType | None) -> CallSite | None:
    user = _user_frame(frame)
    return None if user is None else _site_of(user)


class _State(threading.local):
    """Per thread: the jitted functions being called (outermost first), and the resize in force."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []  # (_JitFunction, args, kwargs)
        self.resize: Any = None  # resize.Resize while a program is re-traced at n
        self.recording = True


_STATE = _State()


def current_state() -> _State:
    return _STATE


class _JitFunction:
    """What the wrapped ``jax.jit`` returns while a script runs: the real jitted function,
    plus a note on the thread's stack while it is called (how a solve knows its outermost
    jit). Everything else (``lower``, ``trace``, attributes) is the real one's."""

    def __init__(self, jitted: Any, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self._jaxlint_jitted = jitted
        self._jaxlint_function = function
        self._jaxlint_options = options
        functools.update_wrapper(self, function, updated=())  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = _STATE
        state.entries.append((self, args, kwargs))
        try:
            return self._jaxlint_jitted(*args, **kwargs)
        finally:
            state.entries.pop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jaxlint_jitted, name)

    def __get__(self, instance: Any, owner: Any = None) -> Any:  # @jax.jit on a method
        return self if instance is None else functools.partial(self, instance)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other


def _static_positions(options: dict[str, Any], count: int) -> set[int]:
    numbers = options.get("static_argnums")
    if numbers is None:
        return set()
    if isinstance(numbers, int):
        numbers = (numbers,)
    return {n % count if count else n for n in numbers}


def _static_names(options: dict[str, Any]) -> set[str]:
    names = options.get("static_argnames")
    if names is None:
        return set()
    return {names} if isinstance(names, str) else set(names)


def _abstract_value(leaf: Any) -> Any:
    """Arrays and Python numbers (which jit traces, weakly typed) become ShapeDtypeStructs."""
    if _is_array(leaf):
        return _abstract_array(leaf)
    if isinstance(leaf, (bool, int, float, complex)) and not isinstance(leaf, enum.Enum):
        dtype = jax.dtypes.canonicalize_dtype(np.asarray(leaf).dtype)
        return jax.ShapeDtypeStruct((), dtype, weak_type=not isinstance(leaf, bool))
    return leaf


def _entry_of(jitted: _JitFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> JitEntry:
    options = jitted._jaxlint_options
    static = _static_positions(options, len(args))
    static_names = _static_names(options)
    held_tracer = _holds_tracer((args, kwargs), set())
    abstract_args = tuple(
        value if index in static else jax.tree_util.tree_map(_abstract_value, value) for index, value in enumerate(args)
    )
    abstract_kwargs = {
        name: value if name in static_names else jax.tree_util.tree_map(_abstract_value, value) for name, value in kwargs.items()
    }
    function = jitted._jaxlint_function
    name = getattr(function, "__qualname__", getattr(function, "__name__", type(function).__name__))
    problems = []
    if held_tracer:
        problems.append(
            f"`{name}` was called under a jax transformation (grad/vmap) outside any jit; that "
            "transformation is not part of the re-traced program"
        )
    return JitEntry(name=name, function=function, args=abstract_args, kwargs=abstract_kwargs, problems=problems)


class _Recorder:
    def __init__(self, stop_when: Callable[[dict[CallSite, CapturedCall]], bool]) -> None:
        self.calls: dict[CallSite, CapturedCall] = {}
        self.stop_when = stop_when

    def interceptor(self, api: str, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        def diffeqsolve(*args: Any, **kwargs: Any) -> Any:
            state = _STATE
            if state.resize is not None:
                user = _user_frame(sys._getframe(1))
                if user is not None and state.resize.matches(_site_of(user)):
                    return state.resize.call(original, signature, args, kwargs)
                return original(*args, **kwargs)
            if not state.recording:
                return original(*args, **kwargs)
            user = _user_frame(sys._getframe(1))
            site = None if user is None else _site_of(user)
            if site is not None and site not in self.calls:
                call = self._capture(api, original, signature, site, args, kwargs)
                call.function_name = getattr(user.f_code, "co_qualname", user.f_code.co_name)  # type: ignore[union-attr]
                if state.entries:
                    call.entry = _entry_of(*state.entries[0])
                    call.nested_jits = len(state.entries) - 1
                elif _holds_tracer((args, kwargs), set()):
                    call.under_transform = True
                self.calls[site] = call
                if self.stop_when(self.calls):
                    raise _CaptureComplete()
            return original(*args, **kwargs)

        diffeqsolve.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(diffeqsolve, _INTERCEPTOR_MARK, True)
        diffeqsolve.__doc__ = getattr(original, "__doc__", None)
        return diffeqsolve

    @staticmethod
    def _capture(
        api: str, original: Callable[..., Any], signature: inspect.Signature, site: CallSite, args: Any, kwargs: Any
    ) -> CapturedCall:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:  # the real call will raise the same error right after
            return CapturedCall(site, api, original, signature, {}, [f"the call does not match diffeqsolve: {error}"])
        abstractor = _Abstractor()
        arguments = {name: abstractor.tree(value) for name, value in bound.arguments.items()}
        return CapturedCall(site, api, original, signature, arguments, abstractor.problems)


def _wrapped_jit(real_jit: Callable[..., Any]) -> Callable[..., Any]:
    """``jax.jit`` (or ``pjit``) whose results note themselves on the thread's stack when called."""

    def jit(fun: Any = None, /, *args: Any, **options: Any) -> Any:
        if fun is None or not callable(fun):  # jax.jit(static_argnums=...) used as a decorator factory
            if fun is not None:
                args = (fun, *args)
            return lambda function: jit(function, *args, **options)
        return _JitFunction(real_jit(fun, *args, **options), fun, options)

    jit.__wrapped__ = real_jit  # type: ignore[attr-defined]
    setattr(jit, _INTERCEPTOR_MARK, True)
    return jit


class _PatchingLoader(importlib.abc.Loader):
    """Delegates to the real loader, then patches the module once it has run."""

    def __init__(self, loader: Any, on_loaded: Callable[[str], None], name: str) -> None:
        self._loader = loader
        self._on_loaded = on_loaded
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._on_loaded(self._name)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ... for tracebacks
        return getattr(self._loader, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``on_loaded(name)`` right after one of ``names`` is imported for the first time."""

    def __init__(self, names: Iterable[str], on_loaded: Callable[[str], None]) -> None:
        self.names = set(names)
        self.on_loaded = on_loaded
        self._finding = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.names or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, self.on_loaded, fullname)
        return spec


class _Patches:
    """Swap every binding of each solve API for the recorder's interceptor; undo on exit."""

    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder
        self.undo: list[tuple[Any, str, Any]] = []
        self.apis = dict(solve_apis())
        self.hook = _AfterImport(self.apis, self.patch)

    def __enter__(self) -> "_Patches":
        for module in self.apis:
            if module in sys.modules:
                self.patch(module)
        sys.meta_path.insert(0, self.hook)
        # jit entry points: what the script (and equinox's filter_jit, which calls jax.jit
        # when a function is decorated) jits from now on notes itself when called.
        for owner in (jax, sys.modules.get("jax.experimental.pjit")):
            name = "jit" if owner is jax else "pjit"
            real = getattr(owner, name, None) if owner is not None else None
            if real is not None and not getattr(real, _INTERCEPTOR_MARK, False):
                self.undo.append((owner, name, real))
                setattr(owner, name, _wrapped_jit(real))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.hook in sys.meta_path:
            sys.meta_path.remove(self.hook)
        for owner, name, original in reversed(self.undo):
            setattr(owner, name, original)
        self.undo.clear()

    def patch(self, module_name: str) -> None:
        attribute = self.apis[module_name]
        module = sys.modules.get(module_name)
        original = getattr(module, attribute, None)
        if original is None or getattr(original, _INTERCEPTOR_MARK, False):
            return
        wrapper = self.recorder.interceptor(module_name, original)
        # Rebind the name wherever it is bound to the original: the package, its own
        # modules, and user modules that did `from diffrax import diffeqsolve` already.
        for owner in list(sys.modules.values()):
            namespace = getattr(owner, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for name, value in list(namespace.items()):
                if value is original:
                    self.undo.append((owner, name, original))
                    setattr(owner, name, wrapper)


# ---------------------------------------------------------------------------------------------
# Running the script


def has_case_markers(path: str) -> bool:
    """Whether the file marks a function ``@jaxlint.case`` (decided without running it)."""
    import ast

    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, OSError):
        return True  # let the case loader report the problem in its words
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Name) and decorator.id == "case":
                    return True
                if isinstance(decorator, ast.Attribute) and decorator.attr == "case" and isinstance(decorator.value, ast.Name) and decorator.value.id == "jaxlint":
                    return True
    return False


@contextlib.contextmanager
def _as_main_script(path: str, argv: Sequence[str] = ()) -> Iterator[None]:
    """sys.argv and sys.path as ``python path ARGV...`` sets them; the script's prints go to
    stderr so machine-readable output on stdout stays clean."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    saved_argv = sys.argv
    sys.argv = [path, *argv]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.argv = saved_argv


@functools.lru_cache(maxsize=64)
def _solve_call_lines(path: str, names: frozenset[str]) -> dict[int, tuple[int, int, int]]:
    """Per function (by its ``def`` line; 0 for module level): the (start, end) lines of each
    call of a function named in ``names``, in source order, as {start: (function, start, end)}."""
    import ast

    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
        return {}
    found: dict[int, tuple[int, int, int]] = {}

    def visit(node: ast.AST, owner: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, child.lineno)
                continue
            if isinstance(child, ast.Call):
                func = child.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
                if name in names:
                    found[child.lineno] = (owner, child.lineno, child.end_lineno or child.lineno)
            visit(child, owner)

    visit(tree, 0)
    return found


def _number_calls(calls: list[CapturedCall]) -> None:
    """Give each call its ordinal among the solve calls of its function, in source order
    (static: the same whichever calls a run reaches), or among the recorded calls of that
    function by line when the file does not show the call by name (an alias)."""
    names = frozenset(attribute for _, attribute in solve_apis())
    by_function: dict[tuple[str, str], list[CapturedCall]] = {}
    for call in calls:
        by_function.setdefault((call.site.path, call.function_name), []).append(call)
    for (path, _), group in by_function.items():
        lines = _solve_call_lines(path, names)
        for call in group:
            spans = [span for span in lines.values() if span[1] <= call.site.line <= span[2]]
            if spans:
                owner = spans[0][0]
                starts = sorted(start for function, start, _ in lines.values() if function == owner)
                call.ordinal = starts.index(spans[0][1]) + 1
        unplaced = sorted((c for c in group if not any(s[1] <= c.site.line <= s[2] for s in lines.values())), key=lambda c: c.site.line)
        placed = {c.ordinal for c in group if c not in unplaced}
        next_ordinal = max(placed, default=0)
        for call in unplaced:
            next_ordinal += 1
            call.ordinal = next_ordinal


class ScriptRun:
    """The script run with our patches in place; they stay until :meth:`close` (or the end of
    a ``with`` block), because re-tracing a recorded jitted function at n needs the
    interceptor to resize its solve."""

    def __init__(self, path: str, argv: Sequence[str] = (), *, first_only: bool = False, wanted: Iterable[CallSite] | None = None) -> None:
        self.path = path
        self.argv = tuple(argv)
        wanted_sites = set(wanted) if wanted is not None else None

        def stop_when(calls: dict[CallSite, CapturedCall]) -> bool:
            if first_only:
                return True
            return wanted_sites is not None and wanted_sites <= set(calls)

        self._recorder = _Recorder(stop_when)
        self._patches = _Patches(self._recorder)
        self.capture: ScriptCapture | None = None

    def __enter__(self) -> ScriptCapture:
        self._patches.__enter__()
        try:
            self.capture = self._run()
        except BaseException:
            self.close()
            raise
        return self.capture

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._patches.__exit__(None, None, None)
        _STATE.entries.clear()
        _STATE.resize = None
        _STATE.recording = True

    def _run(self) -> ScriptCapture:
        path = self.path
        stopped = False
        _STATE.recording = True
        with _as_main_script(path, self.argv):
            try:
                runpy.run_path(path, run_name="__main__")
            except _CaptureComplete:
                stopped = True
            except SyntaxError as error:
                if error.filename and os.path.realpath(error.filename) != os.path.realpath(path):
                    raise TargetError(
                        f"{path}: running it raised SyntaxError in {error.filename}:{error.lineno}: {error.msg}",
                        details=user_traceback(error, path),
                    ) from error
                raise TargetError(f"{path}:{error.lineno}: syntax error: {error.msg}") from error
            except SystemExit as exit_:
                if exit_.code not in (None, 0):
                    raise TargetError(f"{path}: the script called sys.exit({exit_.code!r})") from None
            except Exception as error:
                raise TargetError(
                    f"{path}: the script raised {type(error).__name__}: {error}".rstrip(),
                    details=user_traceback(error, path),
                ) from error
            finally:
                _STATE.recording = False
                _STATE.entries.clear()
        calls = list(self._recorder.calls.values())
        if not calls:
            apis = " or ".join(f"{module}.{name}" for module, name in solve_apis())
            raise TargetError(
                f"{path}: running it as a script made no call of {apis}, and no function is marked "
                f"@jaxlint.case; to measure other code, name a case function: {path}::NAME "
                "(NAME(n) returns (fn, args))"
            )
        _number_calls(calls)
        return ScriptCapture(path=path, calls=calls, stopped_early=stopped)


def capture_script(
    path: str, *, first_only: bool = False, wanted: Iterable[CallSite] | None = None, argv: Sequence[str] = ()
) -> ScriptCapture:
    """Run ``path`` as ``__main__`` and record the first diffeqsolve call of each site; the
    patches are undone on return (use :class:`ScriptRun` to keep them for re-tracing).

    ``first_only`` stops the script at its first solve call (``--capture-only``: the real
    solve never runs; sites later in the script are not seen). ``wanted`` stops it as soon
    as all those sites are recorded (how a worker re-captures the one site it measures).
    Raises :class:`TargetError` when the script raises, exits non-zero or calls no solve.
    """
    with ScriptRun(path, argv, first_only=first_only, wanted=wanted) as capture:
        return capture


# ---------------------------------------------------------------------------------------------
# What n is for a call, and the call on its own at size n

SAVE_POINTS = "save points"
MAX_STEPS = "max_steps"
# --size choices -> axis (None: the call's own, save points first)
SIZE_CHOICES = {"auto": None, "save-points": SAVE_POINTS, "max-steps": MAX_STEPS}


class SkipCall(TargetError):
    """The call has nothing n can stand for (or not the one asked for): skipped with this note."""


def _is_sub_saveat(node: Any) -> bool:
    return all(hasattr(node, name) for name in ("t0", "t1", "ts", "steps", "fn")) and not isinstance(node, type)


def _sub_saveats(saveat: Any) -> list[Any]:
    return [node for node in jax.tree_util.tree_leaves(saveat, is_leaf=_is_sub_saveat) if _is_sub_saveat(node)]


def saveat_of(arguments: dict[str, Any], signature: inspect.Signature) -> Any:
    saveat = arguments.get("saveat")
    if saveat is None:
        default = signature.parameters.get("saveat")
        if default is not None and default.default is not inspect.Parameter.empty:
            saveat = default.default
    return saveat


def _max_steps_of(arguments: dict[str, Any], signature: inspect.Signature) -> Any:
    if "max_steps" in arguments:
        return arguments["max_steps"]
    parameter = signature.parameters.get("max_steps")
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def size_axis(call: CapturedCall, wanted: str | None = None) -> str:
    """What n stands for in this call: its save points when it saves at ``ts``; ``max_steps``
    when it saves every step or dense output (buffers of max_steps). Raises :class:`SkipCall`
    with the reason when neither applies (or ``wanted`` does not)."""
    where = call.site.name
    saveat = saveat_of(call.arguments, call.signature)
    subs = _sub_saveats(saveat) if saveat is not None else []
    max_steps = _max_steps_of(call.arguments, call.signature)
    saves_ts = any(sub.ts is not None for sub in subs)
    step_buffers = any(bool(sub.steps) for sub in subs) or bool(getattr(saveat, "dense", False))
    bounded = isinstance(max_steps, (int, np.integer)) and not isinstance(max_steps, bool)
    if wanted == SAVE_POINTS or (wanted is None and saves_ts):
        if saves_ts:
            return SAVE_POINTS
        raise SkipCall(f"{where}: skipped: --size save-points, but the call saves at no `ts`")
    if wanted == MAX_STEPS or (wanted is None and step_buffers):
        if bounded:
            return MAX_STEPS
        raise SkipCall(f"{where}: skipped: --size max-steps, but the call's max_steps is {max_steps!r} (not a number)")
    if saveat is None or not subs:
        raise SkipCall(f"{where}: skipped: found no SubSaveAt in `saveat` ({type(saveat).__name__}); nothing for n to size")
    raise SkipCall(
        f"{where}: skipped: the call saves no `ts`, no steps and no dense output (only t0/t1): no buffer "
        "grows with any size; pick a size with --size max-steps to vary max_steps anyway"
    )


def _save_targets(subs: list[Any]) -> list[int]:
    """The SubSaveAts whose ts get resized: all of them when their lengths agree (the usual
    single one), else the first (so the solution's save axis has one original length)."""
    with_ts = [i for i, sub in enumerate(subs) if sub.ts is not None]
    lengths = {int(np.shape(subs[i].ts)[0]) if np.ndim(subs[i].ts) else 0 for i in with_ts}
    return with_ts if len(lengths) <= 1 else with_ts[:1]


def resize_arguments(
    arguments: dict[str, Any], signature: inspect.Signature, n: int, axis: str, make_ts: Callable[[Any], Any]
) -> tuple[dict[str, Any], int]:
    """The call's arguments at size n, and the size it had: ``make_ts(old_ts)`` makes the new
    ``ts`` for each resized SubSaveAt (save points), or ``max_steps`` becomes n."""
    import equinox as eqx

    arguments = dict(arguments)
    if axis == MAX_STEPS:
        original = int(_max_steps_of(arguments, signature))
        arguments["max_steps"] = n
        return arguments, original
    saveat = saveat_of(arguments, signature)
    subs = _sub_saveats(saveat)
    targets = _save_targets(subs)
    original = int(np.shape(subs[targets[0]].ts)[0])
    # Positions, not identities: tree_at calls `where` on a rebuilt copy of the tree.
    arguments["saveat"] = eqx.tree_at(
        lambda tree: [_sub_saveats(tree)[i].ts for i in targets],
        saveat,
        [make_ts(subs[i].ts) for i in targets],
    )
    return arguments, original


def with_save_points(call: CapturedCall, n: int, axis: str | None = None) -> dict[str, Any]:
    """The call's arguments at size n (abstract: ``ts`` a ShapeDtypeStruct of n times)."""
    axis = axis or size_axis(call)

    def abstract_ts(old: Any) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((n,), jax.dtypes.canonicalize_dtype(old.dtype))

    return resize_arguments(call.arguments, call.signature, n, axis, abstract_ts)[0]


def build_call(call: CapturedCall, n: int, axis: str | None = None) -> tuple[Callable[..., Any], tuple[jax.ShapeDtypeStruct, ...]]:
    """``(fn, abstract_args)``: the solve call *on its own* at size n (no jit around it)."""
    if call.problems:
        raise TargetError(
            f"{call.site.name}: cannot re-lower this call on its own: {call.problems[0]}; "
            "pass such values to diffeqsolve through `args=` (or make the holder an eqx.Module)"
        )
    arguments = with_save_points(call, n, axis)
    leaves, treedef = jax.tree_util.tree_flatten(arguments)
    dynamic = [i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.ShapeDtypeStruct)]
    function = call.function

    def solve(*inputs: Any) -> list[Any]:
        filled = list(leaves)
        for index, value in zip(dynamic, inputs):
            filled[index] = value
        solution = function(**treedef.unflatten(filled))
        # Every array of the Solution is returned, so nothing the solve computes is dropped.
        return [leaf for leaf in jax.tree_util.tree_leaves(solution) if isinstance(leaf, jax.Array)]

    solve.__name__ = f"diffeqsolve_at_{call.site.name.replace('.', '_').replace(':', '_')}"
    return solve, tuple(leaves[i] for i in dynamic)


def explain_lowering_error(call: CapturedCall, error: BaseException) -> str | None:
    """A one-line cause for errors that come from re-lowering outside the user's jit."""
    causes = [error, error.__cause__]
    if any(isinstance(cause, jax.errors.UnexpectedTracerError) for cause in causes):
        return (
            f"{call.site.name}: the call closes over a value traced by the enclosing jit/vmap that "
            "jaxlint could not replace (a global, or an attribute of a plain object); pass it to "
            "diffeqsolve through `args=`"
        )
    return None
