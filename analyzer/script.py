"""Plain solve scripts: run the script once, catch its ``diffeqsolve`` calls, re-lower them at any n.

``jaxlint scale solve.py`` works on a script that names no jaxlint at all. We run it as
``__main__`` (like ``python solve.py``) with ``jaxlint.solver.diffeqsolve`` and
``diffrax.diffeqsolve`` replaced by an interceptor, everywhere they are bound: on the
package, in its own modules, and in user modules that imported the name already. A package
the script imports later is patched the moment its import finishes (an import hook), so a
script using only one of the two never pays for importing the other.

The interceptor records the first call made from each call site (the first frame outside
jax, equinox, the solver packages and jaxlint) and then lets the real solve run. Calls made
while tracing under ``jax.jit``/``eqx.filter_jit``/``vmap`` are caught the same way: their
array arguments are tracers, of which we keep the shape and dtype only.

A recorded call is re-lowered at size n on its own: every array leaf of its arguments
(terms, solver, t0, t1, dt0, y0, args, controller, ...) becomes an abstract input of the
same shape and dtype, and each ``SubSaveAt`` with ``ts`` gets ``ts`` of length n instead
(the rest of ``SaveAt`` is kept; when no part saves at ``ts``, the first part gains them).
Save-point *values* never enter a lowered program: ``ts`` is an input, so only its length n
matters. A vector field that closes over a traced value of the enclosing jit (``lambda t,
y, a: -k * y`` with ``k`` traced) is rebuilt around a fresh abstract input for it; a traced
value hidden where that cannot be done (an attribute of a plain object, a global) is
reported by name.

Subprocess mode re-runs the capture in each worker (what a call closes over cannot be
pickled): the worker stops the script as soon as the site it measures is recorded.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.util
import inspect
import os
import runpy
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

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
        """The case name: ``file.py:LINE``."""
        return f"{os.path.basename(self.path)}:{self.line}"

    def key(self) -> str:
        return f"{self.path}:{self.line}"

    @classmethod
    def from_key(cls, key: str) -> "CallSite":
        path, _, line = key.rpartition(":")
        return cls(path, int(line))


@dataclass
class CapturedCall:
    """The first call made from one site, with array leaves replaced by ShapeDtypeStructs."""

    site: CallSite
    api: str  # "diffrax" or "jaxlint.solver"
    function: Callable[..., Any]  # the real diffeqsolve
    signature: inspect.Signature
    arguments: dict[str, Any]  # as passed (defaults left to the function)
    problems: list[str] = field(default_factory=list)  # traced values we cannot re-lower


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


def _call_site(frame: types.FrameType | None) -> CallSite | None:
    """The first frame outside jax/equinox/solver/jaxlint internals: the line the user wrote."""
    while frame is not None:
        path = frame.f_code.co_filename
        if not _is_solver_internal(path):
            return CallSite(os.path.realpath(path) if os.path.isabs(path) else path, frame.f_lineno)
        frame = frame.f_back
    return None


class _Recorder:
    def __init__(self, stop_when: Callable[[dict[CallSite, CapturedCall]], bool]) -> None:
        self.calls: dict[CallSite, CapturedCall] = {}
        self.stop_when = stop_when

    def interceptor(self, api: str, original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        def diffeqsolve(*args: Any, **kwargs: Any) -> Any:
            site = _call_site(sys._getframe(1))
            if site is not None and site not in self.calls:
                self.calls[site] = self._capture(api, original, signature, site, args, kwargs)
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
def _as_main_script(path: str) -> Iterator[None]:
    """sys.argv and sys.path as ``python path`` sets them; the script's prints go to stderr so
    machine-readable output on stdout stays clean."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    saved_argv = sys.argv
    sys.argv = [path]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.argv = saved_argv


def capture_script(path: str, *, first_only: bool = False, wanted: Iterable[CallSite] | None = None) -> ScriptCapture:
    """Run ``path`` as ``__main__`` and record the first diffeqsolve call of each site.

    ``first_only`` stops the script at its first solve call (``--capture-only``: the real
    solve never runs; sites later in the script are not seen). ``wanted`` stops it as soon
    as all those sites are recorded (how a worker re-captures the one site it measures).
    Raises :class:`TargetError` when the script raises or calls no solve at all.
    """
    wanted_sites = set(wanted) if wanted is not None else None

    def stop_when(calls: dict[CallSite, CapturedCall]) -> bool:
        if first_only:
            return True
        return wanted_sites is not None and wanted_sites <= set(calls)

    recorder = _Recorder(stop_when)
    stopped = False
    with _Patches(recorder), _as_main_script(path):
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
                raise TargetError(f"{path}: the script exited with status {exit_.code}") from None
        except Exception as error:
            raise TargetError(
                f"{path}: the script raised {type(error).__name__}: {error}".rstrip(),
                details=user_traceback(error, path),
            ) from error
    calls = list(recorder.calls.values())
    if not calls:
        apis = " or ".join(f"{module}.{name}" for module, name in solve_apis())
        raise TargetError(
            f"{path}: running it as a script made no call of {apis}, and no function is marked "
            f"@jaxlint.case; to measure other code, name a case function: {path}::NAME "
            "(NAME(n) returns (fn, args))"
        )
    return ScriptCapture(path=path, calls=calls, stopped_early=stopped)


# ---------------------------------------------------------------------------------------------
# Re-lowering a recorded call at n save points


def _is_sub_saveat(node: Any) -> bool:
    return all(hasattr(node, name) for name in ("t0", "t1", "ts", "steps", "fn")) and not isinstance(node, type)


def _sub_saveats(saveat: Any) -> list[Any]:
    return [node for node in jax.tree_util.tree_leaves(saveat, is_leaf=_is_sub_saveat) if _is_sub_saveat(node)]


def _times_dtype(call: CapturedCall, subs: list[Any]) -> Any:
    for sub in subs:
        if isinstance(sub.ts, jax.ShapeDtypeStruct):
            return sub.ts.dtype
    for name in ("t0", "t1"):
        value = call.arguments.get(name)
        if isinstance(value, jax.ShapeDtypeStruct):
            return value.dtype
    return jax.dtypes.canonicalize_dtype(np.float64)


def with_save_points(call: CapturedCall, n: int) -> dict[str, Any]:
    """The call's arguments with every ``SubSaveAt.ts`` an abstract array of n times."""
    import equinox as eqx

    arguments = dict(call.arguments)
    saveat = arguments.get("saveat")
    if saveat is None:
        default = call.signature.parameters.get("saveat")
        if default is None or default.default is inspect.Parameter.empty:
            raise TargetError(f"{call.site.name}: this diffeqsolve takes no `saveat`; there are no save points to vary")
        saveat = default.default
    subs = _sub_saveats(saveat)
    if not subs:
        raise TargetError(f"{call.site.name}: found no SubSaveAt in `saveat` ({type(saveat).__name__})")
    # Positions, not identities: tree_at calls `where` on a rebuilt copy of the tree.
    targets = [i for i, sub in enumerate(subs) if sub.ts is not None] or [0]
    ts = jax.ShapeDtypeStruct((n,), _times_dtype(call, subs))
    arguments["saveat"] = eqx.tree_at(
        lambda tree: [_sub_saveats(tree)[i].ts for i in targets],
        saveat,
        [ts] * len(targets),
        is_leaf=lambda node: node is None,
    )
    return arguments


def build_call(call: CapturedCall, n: int) -> tuple[Callable[..., Any], tuple[jax.ShapeDtypeStruct, ...]]:
    """``(fn, abstract_args)`` such that lowering ``fn(*abstract_args)`` is the call at n save points."""
    if call.problems:
        raise TargetError(
            f"{call.site.name}: cannot re-lower this call on its own: {call.problems[0]}; "
            "pass such values to diffeqsolve through `args=` (or make the holder an eqx.Module)"
        )
    arguments = with_save_points(call, n)
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
