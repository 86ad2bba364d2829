"""Which functions are traced: an ``ast`` summary per file, then a project-wide call graph.

Two stages, so that the expensive part is per file (parallel, cached by content hash) and the
cross-file part is a cheap graph walk:

1. :func:`summarize_module` parses a file with the standard ``ast`` module (about ten times
   cheaper than libcst) and records plain facts: the import alias table, the functions and
   classes defined (by qualified name, ``Outer.method`` / ``f.<locals>.g``), class bases and
   field types, the references each function makes to other functions (calls *and* plain
   mentions: a function handed to another function is usually called by it), method calls on
   typed instances, what call sites pass, and the *roots*: functions that a JAX transform
   receives (``jax.jit``, ``eqx.filter_jit``, ``partial(jax.jit, ...)`` as a decorator or a
   call; ``vmap``/``grad``/``checkpoint``/``custom_vjp`` and its rules; the bodies of
   ``lax.scan``/``while_loop``/``fori_loop``/``cond``/``switch``/``map``; ``ODETerm(f)``).
2. :func:`traced_functions` resolves references across the checked files (imports resolved
   within the project, re-exports followed) and walks the graph breadth-first from all roots
   at once, so each traced function gets the *nearest* root as its reason: "reached from
   `solve` (jitted at model.py:12)".

Methods are resolved the way a reader does (class-hierarchy analysis over the project): the
type of ``x`` in ``x.m()`` comes from an annotation (a parameter, a variable, a dataclass /
``eqx.Module`` field ``solver: AbstractSolver``), a binding ``x = Cls(...)``, ``self``, or
what the project's call sites pass to an unannotated parameter, or what a function or method
returns (``return Cls(...)``; element k of ``return layers, index`` for ``a, b = f()``); a
container stands for its elements (``layers.append(Layer(...))``, ``[A(), B()]``, ``for i, f in
enumerate(self.funcs)``, ``self.funcs[k].m()``); the call reaches ``m`` as the class defines or
inherits it and every override in the project's subclasses. ``x(...)`` reaches ``__call__``. A message through such calls names the call:
"`Euler.step` ← `solver.step` in `_integrate.loop` ← `diffeqsolve` (jitted at ...)".

A static string switch is not followed into NumPy: in a branch of ``if <name> == "<str>":``
(``!=``, ``in``, ``not in``, either side, ``self.<attr>`` too; the ``else`` branch as well)
a reference to a project function that uses ``numpy``/``scipy`` and no ``jax``/``equinox``
is dropped. A name equal to a string is a Python string, never a tracer, so the branch is
chosen before tracing; and a NumPy-only function called on traced values would fail, so
such a branch is the host-side alternative (``method="numpy"``), not traced code.

Everything here over-approximates a little (a mentioned function is assumed called; a
container stands for its elements, whichever of them a subscript picks) and misses what needs
values (``getattr``, a dict's values, a function handed through a parameter and called there). Rules that fire only in traced code err towards silence there.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

# --- the transforms: qualified name -> (positional slots, keyword slots, role) -------------
# A slot holds a function (or a list/tuple of functions, for lax.switch). The role completes
# "`f` is <role> at file:line".
_JIT = "jitted"
TRANSFORMS: dict[str, tuple[tuple[int, ...], tuple[str, ...], str]] = {}


def _add(names: Iterable[str], slots: tuple[int, ...], keywords: tuple[str, ...], role: str) -> None:
    for name in names:
        TRANSFORMS[name] = (slots, keywords, role)


_add(
    ("jax.jit", "jax.pmap", "jax.experimental.pjit.pjit", "equinox.filter_jit", "equinox.filter_pmap"),
    (0,), ("fun", "f"), _JIT,
)
_add(("jax.vmap", "equinox.filter_vmap"), (0,), ("fun", "f"), "vmapped")
_add(
    (
        "jax.grad", "jax.value_and_grad", "jax.jacfwd", "jax.jacrev", "jax.jacobian", "jax.hessian",
        "jax.jvp", "jax.vjp", "jax.linearize", "jax.linear_transpose",
        "equinox.filter_grad", "equinox.filter_value_and_grad", "equinox.filter_jvp",
        "equinox.filter_vjp", "equinox.filter_hessian", "equinox.filter_jacfwd", "equinox.filter_jacrev",
    ),
    (0,), ("fun", "f"), "differentiated",
)
_add(
    ("jax.checkpoint", "jax.remat", "jax.ad_checkpoint.checkpoint", "jax.ad_checkpoint.remat",
     "equinox.filter_checkpoint", "equinox.internal.noinline"),
    (0,), ("fun", "f"), "checkpointed",
)
_add(
    ("jax.custom_vjp", "jax.custom_jvp", "jax.custom_gradient", "equinox.filter_custom_vjp",
     "equinox.filter_custom_jvp", "equinox.filter_closure_convert", "jax.closure_convert"),
    (0,), ("fun",), "a custom-derivative function",
)
_add(("jax.named_call", "jax.experimental.checkify.checkify"), (0,), ("fun", "f"), "traced by a wrapper")
_add(("jax.experimental.shard_map.shard_map", "jax.shard_map"), (0,), ("f",), "the body of shard_map")
_add(("jax.eval_shape", "jax.make_jaxpr", "equinox.filter_eval_shape"), (0,), ("fun", "f"), "traced by eval_shape")
_add(("jax.lax.scan", "equinox.internal.scan"), (0,), ("f",), "the body of lax.scan")
_add(("jax.lax.map",), (0,), ("f",), "the body of lax.map")
_add(("jax.lax.associative_scan",), (0,), ("fn",), "the body of lax.associative_scan")
_add(("jax.lax.fori_loop", "equinox.internal.fori_loop"), (2,), ("body_fun",), "the body of lax.fori_loop")
_add(("jax.lax.while_loop", "equinox.internal.while_loop"), (0, 1), ("cond_fun", "body_fun"), "a function of lax.while_loop")
_add(("jax.lax.cond", "equinox.internal.cond"), (1, 2), ("true_fun", "false_fun"), "a branch of lax.cond")
_add(("jax.lax.custom_root",), (0, 2, 3), ("f", "solve", "tangent_solve"), "a function of lax.custom_root")
_add(("jax.lax.custom_linear_solve",), (0, 2, 3), ("matvec", "solve", "transpose_solve"), "a function of lax.custom_linear_solve")
_add(("jax.lax.switch",), (1,), ("branches",), "a branch of lax.switch")
_add(
    ("diffrax.ODETerm", "diffrax.ControlTerm", "jaxlint.solver.ODETerm"),
    (0,), ("vector_field",), "the vector field of ODETerm",
)

# `f.defvjp(fwd, bwd)`, `@f.defjvp`, `@f.def_fwd`, ...: the rules of a custom derivative.
CUSTOM_RULE_METHODS = frozenset({"defvjp", "defjvp", "defjvps", "def_fwd", "def_bwd", "def_jvp"})
PARTIAL_NAMES = frozenset({"functools.partial", "equinox.Partial"})
CASE_MARKER = "jaxlint.case"
CASE_ROLE = "lowered by `jaxlint scale` (returned by a @jaxlint.case)"


def _looks_like_case_marker(decorator: ast.expr) -> bool:
    """Cheap syntactic test (`@case`, `@jaxlint.case`); finish() confirms the import."""
    return (isinstance(decorator, ast.Name) and decorator.id == "case") or (
        isinstance(decorator, ast.Attribute) and decorator.attr == "case"
    )


def _returned_callables(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """``fn`` of every ``return fn, args[, kwargs]`` in ``function`` itself (not nested defs)."""
    found: list[ast.expr] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) in (2, 3):
            found.append(node.value.elts[0])
        stack.extend(ast.iter_child_nodes(node))
    return found
_CONSTRUCTOR_METHODS = ("__init__", "__post_init__", "__check_init__")


def transform_slot(qualified: str | None, position: int | None, keyword: str | None) -> str | None:
    """The role of argument ``position``/``keyword`` of a call to ``qualified``, if it is a
    function slot of a JAX transform (``None`` otherwise)."""
    if qualified is None:
        return None
    entry = TRANSFORMS.get(qualified)
    if entry is None:
        return None
    slots, keywords, role = entry
    if (position is not None and position in slots) or (keyword is not None and keyword in keywords):
        return role
    return None


def pretty_name(qualified: str) -> str:
    """``jax.lax.scan`` -> ``lax.scan``; ``equinox.filter_jit`` -> ``eqx.filter_jit``."""
    if qualified.startswith("jax.lax."):
        return qualified[4:]
    if qualified.startswith("equinox."):
        return "eqx." + qualified[len("equinox."):]
    return qualified


# --- per-file summary ----------------------------------------------------------------------
Ref = tuple[str, str]  # ("local", "Class.method") or ("ext", "package.module.name")
# An instance's type, as written: (kind, name, attrs). kind "local"/"ext": instances of the
# class `name` (a Ref), then the field types of `attrs` in turn (``self.solver.root_finder``:
# ("local", "Cls", ("solver", "root_finder"))); kind "param": an unannotated parameter
# ("func_qual\tparam"), typed by what the project's call sites pass (resolved project-wide);
# kind "super": the bases of the class `name` (``super().method``).
TypeExpr = tuple[str, str, tuple[str, ...]]


@dataclass
class Root:
    """A function handed to a transform: ``ref`` is what was handed, ``role`` what it became.

    With ``method`` set, ``ref``/``attrs`` are an instance's type (a :data:`TypeExpr`) and the
    root is that method of it (``jax.jit(self.step)``, ``eqx.filter_jit(model)`` -> ``__call__``);
    ``text`` is the expression as written."""

    ref: Ref
    role: str
    line: int
    via_lambda: bool = False  # the reference sat inside a lambda handed to the transform
    attrs: tuple[str, ...] = ()
    method: str = ""
    text: str = ""


@dataclass
class ModuleSummary:
    """Plain facts about one file, cached by content hash (tagged JSON: plain data only)."""

    module: str
    imports: dict[str, str]  # local alias -> qualified name (all scopes, flattened)
    defined: frozenset[str]  # names bound at module level (they shadow builtins)
    functions: dict[str, int]  # qualname -> line of the def
    classes: frozenset[str]  # class qualnames
    edges: list[tuple[str, Ref]] = field(default_factory=list)  # caller qualname -> reference
    roots: list[Root] = field(default_factory=list)
    transform_lambdas: bool = False  # a lambda sits in a transform's function slot: traced code
    # For the engine's pre-filter (LintRule.REQUIRES), computed in the same walk:
    names: frozenset[str] = frozenset()  # every dotted name used, imports resolved
    keywords: frozenset[str] = frozenset()  # keyword-argument names used in calls
    features: dict[str, frozenset[str]] = field(default_factory=dict)  # function ("" = module) -> syntax features
    # The line where each top-level statement's syntax starts, `a = 1; b = 2` counted once:
    # one entry per libcst top-level statement, for cheap positions (RuleContext.position).
    statement_lines: tuple[int, ...] = ()
    # -- types, for method calls (class-hierarchy analysis in traced_functions) --
    bases: dict[str, list[Ref]] = field(default_factory=dict)  # class -> base classes
    fields: dict[str, dict[str, list[TypeExpr]]] = field(default_factory=dict)  # class -> attr -> types
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)  # function -> positional params
    # caller -> a method of an instance: (caller, type, method, text as written, guarded,
    # called: a field of that name is then called too, `self.func(...)` -> its __call__)
    dispatches: list[tuple[str, TypeExpr, str, str, bool, bool]] = field(default_factory=list)
    # what call sites pass: (callee, position or -1, keyword or "", argument types); callee is
    # ("ref", Ref) or ("dispatch", TypeExpr, method)
    flows: list[tuple[tuple, int, str, list[TypeExpr]]] = field(default_factory=list)
    # references made inside a branch of a static string switch (`if method == "numpy":`)
    guarded_edges: list[tuple[str, Ref]] = field(default_factory=list)
    numpy_only: frozenset[str] = frozenset()  # functions that use numpy and no jax/equinox
    # references that are not called (`isinstance(x, C)`, `f` handed on): a function is
    # assumed called by whoever receives it; a class is not constructed
    mentions: list[tuple[str, Ref]] = field(default_factory=list)
    # function -> types of what it returns: (-1, type) for the value, (k, type) for element k
    # of a returned tuple (`return layers, index`); a call's result is typed from these
    returns: dict[str, list[tuple[int, TypeExpr]]] = field(default_factory=dict)


def module_name_for(path: Path) -> str:
    """Dotted module name: the file's stem prefixed by every enclosing package (a folder
    with ``__init__.py``). A loose script is just its stem."""
    path = path.resolve() if not path.is_absolute() else path
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.append(folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    return ".".join(reversed(parts)) or path.stem


def _chain(node: ast.AST) -> tuple[str, ...] | None:
    """``a.b.c`` -> ("a", "b", "c"); None for anything that is not a dotted name."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
        return tuple(reversed(names))
    return None


_GENERIC: list[Any] = []  # a handler's answer: "visit this node's fields" (compared by identity)


class _Action:
    """A step of the iterative walk that is not a node: entering/leaving a scope."""

    __slots__ = ("run",)

    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run


_NUMPY_PREFIXES = ("numpy.", "scipy.")
_JAX_PREFIXES = ("jax.", "jaxlib.", "equinox.")
_SWITCH_OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
# `jax.pure_callback(f, ...)`, `jax.debug.callback(f, ...)`, `io_callback(f, ...)`: f runs on
# the host with concrete arrays, never traced; matched by the callee's last name.
_HOST_CALLBACKS = frozenset({"pure_callback", "io_callback", "callback"})
_MAX_TYPE_DEPTH = 8
# `layers.append(x)`, `.extend(xs)`, `.add(x)`, `.insert(i, x)` (the last argument is the element)
_CONTAINER_ADDERS = frozenset({"append", "extend", "add", "insert", "appendleft"})
# Builtins a loop walks through to the same elements: `for layer in reversed(self.layers)`.
_ELEMENT_WRAPPERS = frozenset({"reversed", "list", "tuple", "sorted", "iter", "set"})


def _is_str_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    return False


class _Summarizer:
    """One walk over a module: definitions, imports, references, types and transform calls.

    The walk is iterative (an explicit stack, not recursion): a 500-term sum or a 200-call
    method chain is valid Python that ``ast.NodeVisitor``'s recursion cannot summarise.
    Names are resolved only at the end (:meth:`finish`), when every definition is known:
    Python resolves a function body's names at call time, after the whole module ran.
    """

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: dict[str, str] = {}
        self.functions: dict[str, int] = {}
        self.classes: set[str] = set()
        self.defined: set[str] = set()
        # scope qualname ("" = module) -> {local def/class name: qualname}
        self.local_defs: dict[str, dict[str, str]] = {"": {}}
        self.qual_stack: list[str] = []  # enclosing def/class qualnames
        self.function_stack: list[str] = []  # enclosing function qualnames (name lookup scopes)
        self.class_stack: list[str | None] = []  # class of the innermost method, for self.x
        self.guard_stack: list[int] = [0]  # per function: depth of static string-switch branches
        self.host_depth = 0  # inside the function argument of a host callback
        # (caller, scopes, class, chain, called, guarded)
        self.pending_refs: list[tuple[str, tuple[str, ...], str | None, tuple[str, ...], bool, bool]] = []
        self.pending_calls: list[tuple[ast.Call, tuple[str, ...], str | None, str]] = []
        self.pending_decorators: list[tuple[ast.expr, str, tuple[str, ...], int]] = []
        # `fn` of each `return fn, args` in a function decorated `@...case` (confirmed to be
        # `jaxlint.case` in finish): `jaxlint scale` jits what such a factory returns.
        self.pending_case_returns: list[tuple[ast.expr, tuple[ast.expr, ...], tuple[str, ...], str | None, int]] = []
        self.used_chains: set[tuple[str, ...]] = set()
        self._context_cache: tuple[int, tuple[str, tuple[str, ...], str | None]] | None = None
        self.keywords: set[str] = set()
        self.features: dict[str, set[str]] = {}
        self.called: set[int] = set()  # id() of every Call's func node
        # Type sources, resolved in finish: (kind, expr, scopes, class); kind "ann" (an
        # annotation), "val" (a value bound), "param" (an unannotated parameter).
        Source = tuple[str, "ast.expr | None", tuple[str, ...], "str | None"]
        self.var_sources: dict[str, dict[str, list[Source]]] = {}
        self.field_sources: dict[str, dict[str, list[Source]]] = {}
        self.base_exprs: dict[str, tuple[list[ast.expr], tuple[str, ...]]] = {}
        self.params: dict[str, tuple[str, ...]] = {}
        self.return_sources: dict[str, list[tuple[ast.expr, tuple[str, ...], str | None]]] = {}
        self._flow_keys: set[tuple] = set()
        # `self.layers[i].step(...)`, `make().step(...)`: a method of a value that is not a
        # dotted name: (caller, scopes, class, receiver, method, called, guarded)
        self.pending_value_calls: list[tuple[str, tuple[str, ...], str | None, ast.expr, str, bool, bool]] = []
        self._handlers = self._bind_handlers()
        self._type_memo: dict[tuple[str, str], list[TypeExpr]] = {}

    # -- traversal: iterative, minus the subtrees that cannot hold a reference (expression
    # contexts, annotations: never executed as traced code; they are read for types only).
    _SKIP_FIELDS = frozenset({"ctx", "annotation", "returns", "type_comment", "type_params"})
    _LEAVES = (ast.Constant, ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal)
    _fields_by_type: dict[type, tuple[str, ...]] = {}
    _methods_by_type: dict[type, str] = {}

    def _bind_handlers(self) -> dict[type, Callable[[Any], Any]]:
        if not _Summarizer._methods_by_type:
            for name in dir(_Summarizer):
                if name.startswith("visit_") and hasattr(ast, name[6:]):
                    _Summarizer._methods_by_type[getattr(ast, name[6:])] = name
        handlers: dict[type, Callable[[Any], Any]] = {t: getattr(self, name) for t, name in self._methods_by_type.items()}
        for leaf in self._LEAVES:
            handlers[leaf] = _no_children
        handlers[_Action] = _run_action
        return handlers

    def walk(self, tree: ast.AST) -> None:
        """Pre-order, children in field order (the order a recursive visitor would take).

        A handler returns None (no children to visit), ``_GENERIC`` (visit the node's fields)
        or the list of nodes and :class:`_Action` steps to take, in order."""
        handlers = self._handlers
        fields_by_type = self._fields_by_type
        node_type = ast.AST
        stack: list[Any] = [tree]
        pop, push = stack.pop, stack.append
        while stack:
            item = pop()
            cls = item.__class__
            handler = handlers.get(cls)
            if handler is not None:
                children = handler(item)
                if children is None:
                    continue
                if children is not _GENERIC:
                    for child in reversed(children):
                        push(child)
                    continue
            fields = fields_by_type.get(cls)
            if fields is None:  # visited last to first: pushed in reverse
                fields = fields_by_type[cls] = tuple(f for f in reversed(cls._fields) if f not in self._SKIP_FIELDS)
            for name in fields:
                value = getattr(item, name, None)
                if value is None:
                    continue
                if value.__class__ is list:
                    for index in range(len(value) - 1, -1, -1):
                        child = value[index]
                        if isinstance(child, node_type):
                            push(child)
                elif isinstance(value, node_type):
                    push(value)

    def _feature(self, name: str) -> None:
        self.features.setdefault(self.function_stack[-1] if self.function_stack else "", set()).add(name)

    # -- definitions --
    def _qual_for(self, name: str) -> str:
        if not self.qual_stack:
            return name
        parent = self.qual_stack[-1]
        return f"{parent}.<locals>.{name}" if parent in self.functions else f"{parent}.{name}"

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Any]:
        qual = self._qual_for(node.name)
        self.functions[qual] = node.lineno
        scope = self.function_stack[-1] if self.function_stack else ""
        if not self.qual_stack or self.qual_stack[-1] == scope:
            self.local_defs.setdefault(scope, {})[node.name] = qual
        if not self.qual_stack:
            self.defined.add(node.name)
        is_method = bool(self.qual_stack) and self.qual_stack[-1] in self.classes
        if is_method:
            enclosing_class: str | None = self.qual_stack[-1]  # a method: `self` is this class
        else:  # a closure inside a method still sees the method's `self`
            enclosing_class = self.class_stack[-1] if self.class_stack else None
        # Decorators and defaults run in the enclosing scope, not in the function.
        for decorator in node.decorator_list:
            self.pending_decorators.append((decorator, qual, tuple(reversed(self.function_stack)), decorator.lineno))
        defaults = [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]

        def enter() -> None:
            self.local_defs.setdefault(qual, {})
            self.qual_stack.append(qual)
            self.function_stack.append(qual)
            self.class_stack.append(enclosing_class)
            self.guard_stack.append(0)
            self._context_cache = None
            scopes = tuple(reversed(self.function_stack))
            self._record_params(node, qual, scopes, enclosing_class, is_method)
            case_decorators = tuple(d for d in node.decorator_list if _looks_like_case_marker(d))
            if case_decorators:
                for returned in _returned_callables(node):
                    self.pending_case_returns.append((returned, case_decorators, scopes, enclosing_class, returned.lineno))

        def leave() -> None:
            self.guard_stack.pop()
            self.class_stack.pop()
            self.function_stack.pop()
            self.qual_stack.pop()
            self._context_cache = None

        return [*node.decorator_list, *defaults, _Action(enter), *node.body, _Action(leave)]

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _record_params(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, qual: str,
                       scopes: tuple[str, ...], cls: str | None, is_method: bool) -> None:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        self.params[qual] = tuple(a.arg for a in positional)
        sources = self.var_sources.setdefault(qual, {})
        defaults: dict[str, ast.expr] = {}
        for argument, default in zip(reversed(positional), reversed(args.defaults)):
            defaults[argument.arg] = default
        for argument, default in zip(args.kwonlyargs, args.kw_defaults):
            if default is not None:
                defaults[argument.arg] = default
        everything = [*positional, *args.kwonlyargs]
        for index, argument in enumerate(everything):
            if is_method and index == 0 and positional:
                continue  # self / cls
            found = sources.setdefault(argument.arg, [])
            if argument.annotation is not None:
                found.append(("ann", argument.annotation, scopes[1:], cls))
            else:
                found.append(("param", None, scopes, cls))
                if argument.arg in defaults:  # `adjoint=RecursiveCheckpointAdjoint()`
                    found.append(("val", defaults[argument.arg], scopes[1:], cls))

    def visit_ClassDef(self, node: ast.ClassDef) -> list[Any]:
        qual = self._qual_for(node.name)
        self.classes.add(qual)
        scope = self.function_stack[-1] if self.function_stack else ""
        if not self.qual_stack or self.qual_stack[-1] == scope:
            self.local_defs.setdefault(scope, {})[node.name] = qual
        if not self.qual_stack:
            self.defined.add(node.name)
        self.base_exprs[qual] = (list(node.bases), tuple(reversed(self.function_stack)))

        def enter() -> None:
            self.qual_stack.append(qual)

        def leave() -> None:
            self.qual_stack.pop()

        return [*node.decorator_list, *node.bases, *(k.value for k in node.keywords), _Action(enter), *node.body,
                _Action(leave)]

    # -- imports --
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.imports[alias.asname] = alias.name
            else:
                top = alias.name.partition(".")[0]
                self.imports[top] = top
            if not self.qual_stack:
                self.defined.add(alias.asname or alias.name.partition(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package_parts = self.package.split(".") if self.package else []
            keep = len(package_parts) - (node.level - 1)
            prefix = ".".join(package_parts[: max(keep, 0)])
            base = ".".join(p for p in (prefix, base) if p)
        for alias in node.names:
            if alias.name == "*":
                continue
            local = alias.asname or alias.name
            self.imports[local] = f"{base}.{alias.name}" if base else alias.name
            if not self.qual_stack:
                self.defined.add(local)

    # -- bindings: module-level names that shadow builtins; types of variables and fields --
    def _in_class_body(self) -> str | None:
        if self.qual_stack and self.qual_stack[-1] in self.classes:
            return self.qual_stack[-1]
        return None

    def _bind(self, target: ast.expr, kind: str, expr: ast.expr | None) -> None:
        if expr is None:
            return
        if isinstance(target, (ast.Tuple, ast.List)) and kind == "val":
            # `a, b = A(), B()` pairwise; `layers, index = self.build()`: element k of the value
            if isinstance(expr, (ast.Tuple, ast.List)) and len(expr.elts) == len(target.elts):
                for element, value in zip(target.elts, expr.elts):
                    if not isinstance(element, ast.Starred) and not isinstance(value, ast.Starred):
                        self._bind(element, kind, value)
                return
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    break
                self._bind(element, kind, ast.Subscript(value=expr, slice=ast.Constant(value=index), ctx=ast.Load()))
            return
        cls_body = self._in_class_body()
        if isinstance(target, ast.Name):
            if cls_body is not None and kind == "ann":  # `solver: AbstractSolver` in a class body
                scopes = tuple(reversed(self.function_stack))
                self.field_sources.setdefault(cls_body, {}).setdefault(target.id, []).append((kind, expr, scopes, None))
            elif self.function_stack and cls_body is None:
                caller, scopes, cls = self._context()
                self.var_sources.setdefault(caller, {}).setdefault(target.id, []).append((kind, expr, scopes, cls))
        elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
              and self.function_stack and cls_body is None):
            caller, scopes, cls = self._context()
            if cls is not None:  # `self.solver = solver` in a method
                self.field_sources.setdefault(cls, {}).setdefault(target.attr, []).append((kind, expr, scopes, cls))

    def visit_Assign(self, node: ast.Assign) -> list[Any]:
        if not self.qual_stack:
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        self.defined.add(name.id)
        for target in node.targets:
            self._bind(target, "val", node.value)
        return _GENERIC

    def visit_AnnAssign(self, node: ast.AnnAssign) -> list[Any]:
        self._bind(node.target, "ann", node.annotation)
        return _GENERIC

    # -- references and calls --
    def _context(self) -> tuple[str, tuple[str, ...], str | None]:
        """(caller, enclosing scopes innermost first, class of `self`), cached per function."""
        key = len(self.function_stack)
        cached = self._context_cache
        if cached is None or cached[0] != key:
            caller = self.function_stack[-1] if self.function_stack else ""
            context = (caller, tuple(reversed(self.function_stack)), (self.class_stack[-1] if self.class_stack else None))
            self._context_cache = cached = (key, context)
        return cached[1]

    def visit_Name(self, node: ast.Name) -> None:
        self.used_chains.add((node.id,))
        if self.function_stack and isinstance(node.ctx, ast.Load) and not self.host_depth:
            caller, scopes, cls = self._context()
            self.pending_refs.append((caller, scopes, cls, (node.id,), id(node) in self.called, self.guard_stack[-1] > 0))

    def visit_Attribute(self, node: ast.Attribute) -> list[Any] | None:
        chain = _chain(node)
        if chain is None:
            value = node.value  # `super().method`: the method as the bases define it
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"
                    and self.function_stack and not self.host_depth):
                caller, scopes, cls = self._context()
                if cls is not None:
                    self.pending_refs.append((caller, scopes, cls, ("super()", node.attr), id(node) in self.called,
                                              self.guard_stack[-1] > 0))
            elif (isinstance(value, (ast.Subscript, ast.Call)) and isinstance(node.ctx, ast.Load)
                  and self.function_stack and not self.host_depth):
                # `self.func_list[k].derivatives(...)`, `EPLMajorAxis(q).derivatives(...)`
                caller, scopes, cls = self._context()
                self.pending_value_calls.append((caller, scopes, cls, value, node.attr, id(node) in self.called,
                                                 self.guard_stack[-1] > 0))
            return _GENERIC
        self.used_chains.add(chain)
        if self.function_stack and isinstance(node.ctx, ast.Load) and not self.host_depth:
            caller, scopes, cls = self._context()
            self.pending_refs.append((caller, scopes, cls, chain, id(node) in self.called, self.guard_stack[-1] > 0))
        return None

    def visit_Call(self, node: ast.Call) -> list[Any]:
        for keyword in node.keywords:
            if keyword.arg is not None:
                self.keywords.add(keyword.arg)
        caller, scopes, cls = self._context()
        self.pending_calls.append((node, scopes, cls, caller))
        self.called.add(id(node.func))
        func = node.func
        if self.function_stack and not self.host_depth:
            if isinstance(func, ast.Subscript):  # `self.layers[i](x)`: the element's __call__
                self.pending_value_calls.append((caller, scopes, cls, func, "__call__", True, self.guard_stack[-1] > 0))
            elif (isinstance(func, ast.Attribute) and func.attr in _CONTAINER_ADDERS and len(node.args) >= 1
                  and isinstance(func.value, (ast.Name, ast.Attribute))):
                self._bind_element(func.value, node.args[-1])
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in _HOST_CALLBACKS and node.args and not isinstance(node.args[0], ast.Starred):

            def enter() -> None:
                self.host_depth += 1

            def leave() -> None:
                self.host_depth -= 1

            return [func, _Action(enter), node.args[0], _Action(leave), *node.args[1:], *node.keywords]
        return _GENERIC

    # -- syntax features (LintRule.REQUIRES) --
    def visit_For(self, node: ast.For | ast.AsyncFor) -> list[Any]:
        self._feature("for")
        self._bind_loop(node.target, node.iter)  # `for layer in self.layers`: element ~ container
        return _GENERIC

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node: ast.comprehension) -> list[Any]:
        self._bind_loop(node.target, node.iter)
        return _GENERIC

    def _bind_loop(self, target: ast.expr, iterable: ast.expr, depth: int = 0) -> None:
        """A loop variable is typed as the container's element (the container's type stands
        for its elements): through ``enumerate``, ``zip``, ``reversed``/``list``/``sorted``
        and ``d.items()``/``d.values()``."""
        if depth > 4:
            return
        if isinstance(iterable, ast.Call):
            func = iterable.func
            name = func.id if isinstance(func, ast.Name) and func.id not in self.imports else None
            arguments = [a for a in iterable.args if not isinstance(a, ast.Starred)]
            if name in _ELEMENT_WRAPPERS and len(arguments) >= 1:
                return self._bind_loop(target, arguments[0], depth + 1)
            if isinstance(target, ast.Tuple):
                if name == "enumerate" and len(target.elts) == 2 and arguments:
                    return self._bind_loop(target.elts[1], arguments[0], depth + 1)
                if name == "zip" and len(target.elts) == len(arguments):
                    for element, argument in zip(target.elts, arguments):
                        self._bind_loop(element, argument, depth + 1)
                    return
                if (isinstance(func, ast.Attribute) and func.attr == "items" and not iterable.args
                        and len(target.elts) == 2):
                    return self._bind_loop(target.elts[1], func.value, depth + 1)
            elif isinstance(func, ast.Attribute) and func.attr == "values" and not iterable.args:
                return self._bind_loop(target, func.value, depth + 1)
        if isinstance(target, (ast.Name, ast.Attribute)):
            self._bind(target, "val", iterable)

    def _bind_element(self, container: ast.Name | ast.Attribute, element: ast.expr) -> None:
        """``layers.append(Layer(...))`` / ``self.blocks.extend(blocks)``: the container's type
        stands for its elements, so it gains the element's. Only a local variable of this
        function (or ``self.<attr>``), not a global list or an import."""
        if isinstance(container, ast.Name):
            caller = self.function_stack[-1]
            if container.id not in self.var_sources.get(caller, ()):
                return
        elif not (isinstance(container.value, ast.Name) and container.value.id == "self"):
            return
        self._bind(container, "val", element)  # `extend(xs)`: xs stands for its elements too

    def visit_Return(self, node: ast.Return) -> list[Any]:
        if node.value is not None and self.function_stack and not self.host_depth:
            caller, scopes, cls = self._context()
            if caller in self.functions:
                self.return_sources.setdefault(caller, []).append((node.value, scopes, cls))
        return _GENERIC

    def visit_While(self, node: ast.While) -> list[Any]:
        self._feature("while")
        return _GENERIC

    def _visit_comprehension(self, node: ast.AST) -> list[Any]:
        self._feature("comprehension")
        return _GENERIC

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_Lambda(self, node: ast.Lambda) -> list[Any]:
        self._feature("lambda")
        return _GENERIC

    def visit_Subscript(self, node: ast.Subscript) -> list[Any]:
        if isinstance(node.value, ast.Attribute) and node.value.attr == "at":
            self._feature("at-update")
        return _GENERIC

    def visit_If(self, node: ast.If) -> list[Any]:
        self._feature("if")
        if not self.function_stack or not self._is_string_switch(node.test):
            return _GENERIC

        def enter() -> None:
            self.guard_stack[-1] += 1

        def leave() -> None:
            self.guard_stack[-1] -= 1

        return [node.test, _Action(enter), *node.body, *node.orelse, _Action(leave)]

    def _is_string_switch(self, test: ast.expr) -> bool:
        """``param == "numpy"`` / ``self.method in ("a", "b")`` (either side; ``or`` of such):
        a branch chosen by a Python string, fixed before any tracing starts."""
        if isinstance(test, ast.BoolOp):
            return all(self._is_string_switch(value) for value in test.values)
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], _SWITCH_OPS)):
            return False
        left, right = test.left, test.comparators[0]
        if _is_str_literal(left) and not isinstance(test.ops[0], (ast.In, ast.NotIn)):
            left, right = right, left
        if not _is_str_literal(right):
            return False
        if isinstance(left, ast.Name):  # a name equal to a str is a str: never a tracer
            return True
        chain = _chain(left)
        return chain is not None and len(chain) == 2 and chain[0] == "self"

    # -- resolution --
    def resolve(self, chain: tuple[str, ...], scopes: tuple[str, ...], cls: str | None) -> Ref | None:
        head, rest = chain[0], chain[1:]
        for scope in (*scopes, ""):
            qual = self.local_defs.get(scope, {}).get(head)
            if qual is not None:
                return ("local", ".".join((qual, *rest)))
        target = self.imports.get(head)
        if target is not None:
            return ("ext", ".".join((target, *rest)))
        return None

    def qualified(self, expr: ast.expr, scopes: tuple[str, ...], cls: str | None) -> str | None:
        chain = _chain(expr)
        if chain is None:
            return None
        ref = self.resolve(chain, scopes, cls)
        return ref[1] if ref and ref[0] == "ext" else None

    def _variable_scope(self, name: str, scopes: tuple[str, ...]) -> str | None:
        """The innermost function scope binding ``name`` as a variable (a parameter or an
        assignment), if it is one; locals shadow imports and module-level definitions."""
        for scope in scopes:
            if name in self.var_sources.get(scope, ()):
                return scope
            if name in self.local_defs.get(scope, ()):
                return None
        return None

    def _receiver_types(self, chain: tuple[str, ...], scopes: tuple[str, ...], cls: str | None) -> list[TypeExpr] | None:
        """Types of the instance ``chain`` denotes (``self.solver``, ``solver``, ``x.a``); None
        when the chain's head is not an instance (a module, a class, a function)."""
        head = chain[0]
        if head in ("self", "cls") and cls is not None and self._variable_scope(head, scopes) is None:
            return [("local", cls, chain[1:])]
        scope = self._variable_scope(head, scopes)
        if scope is None:
            return None
        return [(kind, name, attrs + chain[1:]) for kind, name, attrs in self._name_types(head, scope, 0)]

    def _name_types(self, name: str, scope: str, depth: int) -> list[TypeExpr]:
        key = (scope, name)
        memo = self._type_memo.get(key)
        if memo is not None:
            return memo
        self._type_memo[key] = []  # a cycle (`x = x.parent`) adds nothing
        found: list[TypeExpr] = []
        for kind, expr, scopes, cls in self.var_sources.get(scope, {}).get(name, ()):
            if kind == "param":
                found.append(("param", f"{scope}\t{name}", ()))
            elif expr is not None:
                found += self._source_types(kind, expr, scopes, cls, depth + 1)
        found = list(dict.fromkeys(found))
        self._type_memo[key] = found
        return found

    def _source_types(self, kind: str, expr: ast.expr, scopes: tuple[str, ...], cls: str | None, depth: int) -> list[TypeExpr]:
        if kind == "ann":
            return self._annotation_types(expr, scopes, cls)
        return self._expr_types(expr, scopes, cls, depth)

    def _annotation_types(self, annotation: ast.expr, scopes: tuple[str, ...], cls: str | None) -> list[TypeExpr]:
        """Every class an annotation names: ``X``, ``"X"``, ``Optional[X]``, ``X | None``,
        ``PyTree[X]``, ``tuple[X, ...]`` (a container's element type stands for the container:
        a loop over it binds the element). ``type[X]`` is a class, not an instance."""
        found: list[TypeExpr] = []
        stack = [annotation]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
                try:
                    stack.append(ast.parse(node.value, mode="eval").body)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    pass
                continue
            if isinstance(node, ast.Subscript):
                value = _chain(node.value)
                if value and value[-1] in ("type", "Type", "Callable", "Literal"):
                    continue
                stack.extend((node.slice, node.value))
            elif isinstance(node, ast.BinOp):
                stack.extend((node.right, node.left))
            elif isinstance(node, (ast.Tuple, ast.List)):
                stack.extend(reversed(node.elts))
            else:
                chain = _chain(node)
                ref = self.resolve(chain, scopes, cls) if chain else None
                if ref is not None:
                    found.append((ref[0], ref[1], ()))
        return found

    def _expr_types(self, expr: ast.expr, scopes: tuple[str, ...], cls: str | None, depth: int = 0) -> list[TypeExpr]:
        """Types of the value of ``expr``: ``Cls(...)`` (kept if Cls turns out to be a class),
        a typed variable or field, a subscript of one (its element), either arm of ``a if c
        else b`` / ``a or b``."""
        if depth > _MAX_TYPE_DEPTH:
            return []
        if isinstance(expr, ast.Call):
            return self._call_types(expr, -1, scopes, cls, depth)
        if (isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Call) and isinstance(expr.slice, ast.Constant)
                and isinstance(expr.slice.value, int) and not isinstance(expr.slice.value, bool)):
            # `layers, index = self.build()`: element k of what the callee returns
            return self._call_types(expr.value, expr.slice.value, scopes, cls, depth)
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):  # a container stands for its elements
            return [t for element in expr.elts for t in self._expr_types(element, scopes, cls, depth + 1)]
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            return self._expr_types(expr.elt, scopes, cls, depth + 1)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            chain = _chain(expr)
            if chain is None:
                return []
            if len(chain) == 1:
                scope = self._variable_scope(chain[0], scopes)
                return self._name_types(chain[0], scope, depth) if scope is not None else []
            return self._receiver_types(chain, scopes, cls) or []
        if isinstance(expr, (ast.Subscript, ast.Starred, ast.NamedExpr)):
            return self._expr_types(expr.value, scopes, cls, depth + 1)
        if isinstance(expr, ast.IfExp):
            return self._expr_types(expr.body, scopes, cls, depth + 1) + self._expr_types(expr.orelse, scopes, cls, depth + 1)
        if isinstance(expr, ast.BoolOp):
            return [t for value in expr.values for t in self._expr_types(value, scopes, cls, depth + 1)]
        return []

    def _call_types(self, call: ast.Call, index: int, scopes: tuple[str, ...], cls: str | None,
                    depth: int) -> list[TypeExpr]:
        """What ``call`` returns (``index`` >= 0: element ``index`` of a returned tuple):
        ``Cls(...)`` is an instance (kept if Cls turns out to be a class), ``f(...)`` and
        ``obj.method(...)`` are typed from the callee's ``return`` statements (a "ret" type,
        resolved project-wide)."""
        chain = _chain(call.func)
        if chain is None:
            if isinstance(call.func, (ast.Subscript, ast.Call)):  # `self.factories[k](...)`
                receivers = self._expr_types(call.func, scopes, cls, depth + 1)
                return [_returned_type(("disp", list(r), "__call__", index)) for r in receivers]
            return []
        receivers = self._receiver_types(chain[:-1], scopes, cls) if len(chain) > 1 else None
        if receivers is not None:  # a method's return value
            return [_returned_type(("disp", [k, n, list(a)], chain[-1], index)) for k, n, a in receivers]
        if len(chain) == 1 and self._variable_scope(chain[0], scopes) is not None:
            return []  # calling a variable: a callable object or a closure, unknown
        ref = self.resolve(chain, scopes, cls)
        if ref is None:
            return []
        if index < 0:
            return [(ref[0], ref[1], ())]  # an instance of a class, or what a function returns
        return [_returned_type(("ref", ref[0], ref[1], index))]

    def function_refs(self, expr: ast.expr, scopes: tuple[str, ...], cls: str | None) -> list[tuple[Ref, bool, tuple[str, ...], str, str]]:
        """What functions an argument in a function slot denotes: (ref, came-from-a-lambda,
        attrs, method, text); with ``method`` set, ``ref``+``attrs`` is an instance's type."""
        if isinstance(expr, (ast.List, ast.Tuple)):
            return [r for element in expr.elts for r in self.function_refs(element, scopes, cls)]
        if isinstance(expr, ast.Lambda):
            found: list[tuple[Ref, bool, tuple[str, ...], str, str]] = []
            for chain, called in _outer_chains(expr.body):
                found += [(r, True, a, m, t) for r, _, a, m, t in self._chain_refs(chain, scopes, cls, called)]
            return found
        if isinstance(expr, ast.Call):
            if self.qualified(expr.func, scopes, cls) in PARTIAL_NAMES and expr.args:
                return self.function_refs(expr.args[0], scopes, cls)
            # `C(...)` handed to a transform: the instance is called, so C.__call__ is traced.
            chain = _chain(expr.func)
            if chain is None or self._receiver_types(chain, scopes, cls) is not None:
                return []
            ref = self.resolve(chain, scopes, cls)
            return [(ref, False, (), "__call__", ".".join(chain) + "(...)")] if ref else []
        chain = _chain(expr)
        return self._chain_refs(chain, scopes, cls, True) if chain else []

    def _chain_refs(self, chain: tuple[str, ...], scopes: tuple[str, ...], cls: str | None,
                    called: bool) -> list[tuple[Ref, bool, tuple[str, ...], str, str]]:
        """A dotted name as a function: a plain reference, or a method of a typed instance
        (``self.step``, ``solver.step``; a bare typed name only when ``called``: ``__call__``)."""
        text = ".".join(chain)
        if chain[0] == "super()":
            return [(("super", cls), False, (), chain[1], text)] if cls is not None else []
        if len(chain) > 1:
            receivers = self._receiver_types(chain[:-1], scopes, cls)
            if receivers is not None:
                return [((k, n), False, a, chain[-1], text) for k, n, a in receivers]
        else:
            scope = self._variable_scope(chain[0], scopes)
            if scope is not None:
                if not called:
                    return []
                return [((k, n), False, a, "__call__", text) for k, n, a in self._name_types(chain[0], scope, 0)]
        ref = self.resolve(chain, scopes, cls)
        return [(ref, False, (), "", text)] if ref is not None else []

    def transform_of(self, func: ast.expr, scopes: tuple[str, ...], cls: str | None) -> str | None:
        """The transform a callee denotes: ``jax.jit``, ``partial(jax.jit, ...)``, ``jax.jit(...)``."""
        name = self.qualified(func, scopes, cls)
        if name in TRANSFORMS:
            return name
        if isinstance(func, ast.Call):
            inner = self.qualified(func.func, scopes, cls)
            if inner in PARTIAL_NAMES and func.args:
                name = self.qualified(func.args[0], scopes, cls)
                return name if name in TRANSFORMS else None
            if inner in TRANSFORMS and not func.args:  # eqx.filter_jit(donate=...)(f)
                return inner
        return None

    def _custom_rule_root(self, func: ast.expr) -> str | None:
        """``f.defvjp(fwd, bwd)`` / ``f.defjvp(jvp)`` / ``@f.def_fwd``: the rule functions of a
        ``jax.custom_vjp``/``custom_jvp``/``eqx.filter_custom_vjp`` are traced."""
        if isinstance(func, ast.Attribute) and func.attr in CUSTOM_RULE_METHODS:
            owner = _chain(func.value)
            return f"a custom derivative rule of `{'.'.join(owner) if owner else '?'}`"
        return None

    def finish(self, summary_module: str) -> ModuleSummary:
        edges: list[tuple[str, Ref]] = []
        guarded_edges: list[tuple[str, Ref]] = []
        mentions: list[tuple[str, Ref]] = []
        dispatches: list[tuple[str, TypeExpr, str, str, bool, bool]] = []
        seen: set[tuple] = set()
        numpy_users: set[str] = set()
        jax_users: set[str] = set()
        for caller, scopes, cls, chain, called, guarded in self.pending_refs:
            for ref, _, attrs, method, text in self._chain_refs(chain, scopes, cls, called):
                if method:
                    key: tuple = (caller, ref, attrs, method, guarded, called)
                    if key not in seen:
                        seen.add(key)
                        dispatches.append((caller, (ref[0], ref[1], attrs), method, text, guarded, called))
                    continue
                if ref[0] == "ext":
                    if ref[1].startswith(_NUMPY_PREFIXES):
                        numpy_users.add(caller)
                    elif ref[1].startswith(_JAX_PREFIXES) or ref[1] in ("jax", "equinox"):
                        jax_users.add(caller)
                key = (caller, ref, guarded, called)
                if key not in seen:
                    seen.add(key)
                    (guarded_edges if guarded else edges if called else mentions).append((caller, ref))
        for caller, scopes, cls, value, method, called, guarded in self.pending_value_calls:
            text = f"{_short_text(value)}.{method}" if method != "__call__" else _short_text(value)
            for texpr in self._expr_types(value, scopes, cls):
                key = (caller, texpr, method, guarded, called)
                if key not in seen:
                    seen.add(key)
                    dispatches.append((caller, texpr, method, text, guarded, called))
        returns: dict[str, list[tuple[int, TypeExpr]]] = {}
        for qual, sources in self.return_sources.items():
            found_returns: list[tuple[int, TypeExpr]] = []
            for value, scopes, cls in sources:
                if isinstance(value, ast.Tuple):
                    for index, element in enumerate(value.elts):
                        if isinstance(element, ast.Starred):
                            break
                        found_returns += [(index, t) for t in self._expr_types(element, scopes, cls)]
                else:
                    found_returns += [(-1, t) for t in self._expr_types(value, scopes, cls)]
            if found_returns:
                returns[qual] = list(dict.fromkeys(found_returns))
        roots: list[Root] = []
        transform_lambdas = False
        for decorator, qual, scopes, line in self.pending_decorators:
            # The decorator expression is applied to the function like a callee: `@jax.jit`,
            # `@partial(jax.jit, static_argnums=0)`, `@eqx.filter_jit(donate="all")`.
            name = self.transform_of(decorator, scopes, None)
            if name is not None and 0 in TRANSFORMS[name][0]:
                roots.append(Root(("local", qual), TRANSFORMS[name][2], line))
            else:
                rule = self._custom_rule_root(decorator)
                if rule is not None:
                    roots.append(Root(("local", qual), rule, line))
        for returned, decorators, scopes, cls, line in self.pending_case_returns:
            outer_scopes = scopes[1:]  # the decorator is resolved where the factory is defined
            if any(self.qualified(d, outer_scopes, None) == CASE_MARKER for d in decorators):
                for ref, via_lambda, attrs, method, text in self.function_refs(returned, scopes, cls):
                    roots.append(Root(ref, CASE_ROLE, line, via_lambda, attrs, method, text))
                if isinstance(returned, ast.Lambda):
                    transform_lambdas = True
        flows: list[tuple[tuple, int, str, list[TypeExpr]]] = []
        for call, scopes, cls, _caller in self.pending_calls:
            name = self.transform_of(call.func, scopes, cls)
            if name is not None:
                slots, keywords, role = TRANSFORMS[name]
                arguments = [a for i, a in enumerate(call.args) if i in slots]
                arguments += [k.value for k in call.keywords if k.arg in keywords]
            else:
                role = self._custom_rule_root(call.func) or ""
                arguments = list(call.args) if role else []
                if not role and _caller:
                    self._record_flows(call, scopes, cls, flows)
            for argument in arguments:
                elements = argument.elts if isinstance(argument, (ast.List, ast.Tuple)) else [argument]
                if any(isinstance(e, ast.Lambda) for e in elements):
                    transform_lambdas = True
                for ref, via_lambda, attrs, method, text in self.function_refs(argument, scopes, cls):
                    roots.append(Root(ref, role, call.lineno, via_lambda, attrs, method, text))
        fields: dict[str, dict[str, list[TypeExpr]]] = {}
        for cls_name, attributes in self.field_sources.items():
            for attr, sources in attributes.items():
                types = [t for kind, expr, scopes, owner in sources if expr is not None
                         for t in self._source_types(kind, expr, scopes, owner, 0)]
                if types:
                    fields.setdefault(cls_name, {})[attr] = list(dict.fromkeys(types))
        bases: dict[str, list[Ref]] = {}
        for cls_name, (exprs, scopes) in self.base_exprs.items():
            resolved = []
            for expr in exprs:
                chain = _chain(expr.value if isinstance(expr, ast.Subscript) else expr)
                ref = self.resolve(chain, scopes, None) if chain else None
                if ref is not None:
                    resolved.append(ref)
            if resolved:
                bases[cls_name] = resolved
        return ModuleSummary(
            module=summary_module,
            imports=dict(self.imports),
            defined=frozenset(self.defined),
            functions=dict(self.functions),
            classes=frozenset(self.classes),
            edges=edges,
            roots=roots,
            transform_lambdas=transform_lambdas,
            names=frozenset(self._qualified_names()),
            keywords=frozenset(self.keywords),
            features={scope: frozenset(found) for scope, found in self.features.items()},
            bases=bases,
            fields=fields,
            params={q: p for q, p in self.params.items() if p},
            dispatches=dispatches,
            flows=flows,
            guarded_edges=guarded_edges,
            mentions=mentions,
            numpy_only=frozenset(numpy_users - jax_users),
            returns=returns,
        )

    def _record_flows(self, call: ast.Call, scopes: tuple[str, ...], cls: str | None,
                      flows: list[tuple[tuple, int, str, list[TypeExpr]]]) -> None:
        """What a call passes, where an argument's type is known: types of unannotated
        parameters come from the call sites (``adjoint.loop(solver=solver)``)."""
        arguments: list[tuple[int, str, ast.expr]] = []
        for index, argument in enumerate(call.args):
            if isinstance(argument, ast.Starred):
                break
            arguments.append((index, "", argument))
        arguments += [(-1, k.arg, k.value) for k in call.keywords if k.arg is not None]
        typed = []
        for index, keyword, argument in arguments:
            if isinstance(argument, (ast.Name, ast.Attribute, ast.Call)):
                types = self._expr_types(argument, scopes, cls)
                if types:
                    typed.append((index, keyword, types))
        if not typed:
            return
        chain = _chain(call.func)
        if chain is None:
            return
        for ref, _, attrs, method, _ in self._chain_refs(chain, scopes, cls, True):
            callee: tuple = ("dispatch", (ref[0], ref[1], attrs), method) if method else ("ref", ref)
            for index, keyword, types in typed:
                key = (callee, index, keyword, tuple(types))
                if key not in self._flow_keys:  # the same call written again adds nothing
                    self._flow_keys.add(key)
                    flows.append((callee, index, keyword, types))

    def _qualified_names(self) -> set[str]:
        """Every dotted name the file uses, with its head resolved through the imports."""
        names: set[str] = set()
        for chain in self.used_chains:
            target = self.imports.get(chain[0])
            full = ".".join((target, *chain[1:])) if target is not None else ".".join(chain)
            # Store every prefix too ("jax", "jax.numpy", "jax.numpy.stack"), so that a rule's
            # requirement "jax.numpy" or "jax.numpy.stack" is one set lookup.
            while full and full not in names:
                names.add(full)
                full = full.rpartition(".")[0]
        return names


def _no_children(node: ast.AST) -> None:
    return None


def _returned_type(spec: list | tuple) -> TypeExpr:
    """A "ret" type: what a callee returns, ``spec`` = ("ref", kind, name, index) or
    ("disp", receiver type, method, index), JSON-encoded (a type is plain hashable data)."""
    return ("ret", json.dumps(spec, separators=(",", ":")), ())


def _short_text(expr: ast.expr) -> str:
    """``self.func_list[...]``, ``EPLMajorAxis(...)``: a receiver as a message shows it."""
    if isinstance(expr, ast.Subscript):
        return f"{_short_text(expr.value)}[...]"
    if isinstance(expr, ast.Call):
        return f"{_short_text(expr.func)}(...)"
    chain = _chain(expr)
    return ".".join(chain) if chain else "(...)"


def _run_action(action: _Action) -> None:
    action.run()


def _outer_chains(expr: ast.expr) -> list[tuple[tuple[str, ...], bool]]:
    """The dotted names in ``expr`` that are not part of a longer one, and whether each is
    called (``lambda x: self.solver.step(x)`` -> ``self.solver.step``, called)."""
    found: list[tuple[tuple[str, ...], bool]] = []
    called: set[int] = set()
    stack: list[ast.AST] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Name, ast.Attribute)):
            chain = _chain(node)
            if chain is not None:
                found.append((chain, id(node) in called))
                continue
        if isinstance(node, ast.Call):
            called.add(id(node.func))
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


def summarize_module(source: str | bytes, module: str, is_package: bool = False) -> ModuleSummary:
    """Summarize one module's source; raises ``SyntaxError`` (or ``ValueError`` for NUL bytes)."""
    tree = ast.parse(source)
    summarizer = _Summarizer(module, is_package)
    summarizer.walk(tree)
    summary = summarizer.finish(module)
    lines: list[int] = []
    for statement in tree.body:
        if not lines or statement.lineno != lines[-1]:
            lines.append(statement.lineno)
    summary.statement_lines = tuple(lines)
    return summary


# --- cross-file graph ------------------------------------------------------------------------
Node = tuple[str, str]  # (display path, qualname) of a function or class


@dataclass
class _Project:
    summaries: Mapping[str, ModuleSummary]  # display path -> summary
    modules: dict[str, str]  # dotted module -> display path
    _resolved: dict[tuple[str, Ref], tuple[str, str] | None] = field(default_factory=dict)

    def lookup(self, dotted: str, hops: int = 0) -> tuple[str, str] | None:
        """(path, qualname) of a project function or class named ``dotted``, following
        re-exports (``from ._src.api import jit`` in ``jax/__init__.py``)."""
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            path = self.modules.get(".".join(parts[:cut]))
            if path is not None:
                return self.lookup_in(path, parts[cut:], hops)
        return None

    def lookup_in(self, path: str, rest: list[str], hops: int = 0) -> tuple[str, str] | None:
        summary = self.summaries[path]
        qual = ".".join(rest)
        if qual in summary.functions or qual in summary.classes:
            return path, qual
        target = summary.imports.get(rest[0])
        if target is not None and hops < 8:
            return self.lookup(".".join((target, *rest[1:])), hops + 1)
        return None

    def resolve(self, path: str, ref: Ref) -> tuple[str, str] | None:
        key = (path, ref)
        if key in self._resolved:
            return self._resolved[key]
        found = self._resolved[key] = self._resolve(path, ref)
        return found

    def _resolve(self, path: str, ref: Ref) -> tuple[str, str] | None:
        kind, name = ref
        if kind == "local":
            summary = self.summaries[path]
            if name in summary.functions or name in summary.classes:
                return path, name
            # `Cls.method` where the method is inherited: the hierarchy finds it
            owner, _, method = name.rpartition(".")
            if owner in summary.classes and method:
                return path, name
            return None
        return self.lookup(name)


class _Hierarchy:
    """Class-hierarchy analysis over the checked project: bases, subclasses, field types,
    and which methods a call ``x.m()`` on an instance of static type ``C`` can reach (``C.m``
    or the one it inherits, and every override in C's subclasses)."""

    def __init__(self, project: _Project) -> None:
        self.project = project
        self.summaries = project.summaries
        self.bases: dict[Node, list[Node]] = {}
        self.subclasses: dict[Node, list[Node]] = {}
        for path, summary in self.summaries.items():
            for cls, refs in summary.bases.items():
                found = []
                for ref in refs:
                    target = project.resolve(path, ref)
                    if target is not None and target[1] in self.summaries[target[0]].classes and target != (path, cls):
                        found.append(target)
                        self.subclasses.setdefault(target, []).append((path, cls))
                self.bases[(path, cls)] = found
        self._mro: dict[Node, list[Node]] = {}
        self._below: dict[Node, list[Node]] = {}
        self._methods: dict[tuple[Node, str], list[Node]] = {}
        self._fields: dict[tuple[Node, str], frozenset[Node]] = {}
        self._texprs: dict[tuple[str, TypeExpr], frozenset[Node]] = {}
        self.param_types: dict[tuple[str, str], set[Node]] = {}  # (path, "func\tparam") -> classes
        self._decoded: dict[str, tuple | None] = {}  # "ret" type names, parsed once

    def is_class(self, node: Node) -> bool:
        return node[1] in self.summaries[node[0]].classes

    def mro(self, cls: Node) -> list[Node]:
        """``cls`` and its project ancestors, depth-first left to right (close to C3 for
        the single-inheritance-plus-mixins code this meets)."""
        found = self._mro.get(cls)
        if found is None:
            found, stack, seen = [], [cls], set()
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                found.append(current)
                stack.extend(reversed(self.bases.get(current, ())))
            self._mro[cls] = found
        return found

    def below(self, cls: Node) -> list[Node]:
        """Every project subclass of ``cls``, transitively."""
        found = self._below.get(cls)
        if found is None:
            found, stack, seen = [], list(self.subclasses.get(cls, ())), {cls}
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                found.append(current)
                stack.extend(self.subclasses.get(current, ()))
            self._below[cls] = found
        return found

    def find_up(self, cls: Node, method: str) -> Node | None:
        for path, qual in self.mro(cls):
            name = f"{qual}.{method}"
            if name in self.summaries[path].functions:
                return path, name
        return None

    def methods(self, cls: Node, method: str) -> list[Node]:
        """What ``x.method`` can run for ``x`` an instance of ``cls``."""
        key = (cls, method)
        found = self._methods.get(key)
        if found is None:
            targets = [self.find_up(cls, method), *(self.find_up(sub, method) for sub in self.below(cls))]
            found = self._methods[key] = list(dict.fromkeys(t for t in targets if t is not None))
        return found

    def constructors(self, cls: Node) -> list[Node]:
        """What ``C(...)`` runs: ``__init__``/``__post_init__`` as inherited, and every
        ``__check_init__`` of the hierarchy (equinox runs each)."""
        found = [self.find_up(cls, "__init__"), self.find_up(cls, "__post_init__")]
        found += [(p, f"{q}.__check_init__") for p, q in self.mro(cls) if f"{q}.__check_init__" in self.summaries[p].functions]
        return [f for f in dict.fromkeys(found) if f is not None]

    def field_types(self, cls: Node, attr: str, depth: int) -> frozenset[Node]:
        key = (cls, attr)
        found = self._fields.get(key)
        if found is None:
            self._fields[key] = frozenset()  # a cycle adds nothing
            collected: set[Node] = set()
            for path, qual in self.mro(cls):
                for texpr in self.summaries[path].fields.get(qual, {}).get(attr, ()):
                    collected |= self.types(path, texpr, depth + 1)
            found = self._fields[key] = frozenset(collected)
        return found

    def types(self, path: str, texpr: TypeExpr, depth: int = 0) -> frozenset[Node]:
        """The project classes an instance of ``texpr`` (written in ``path``) can be."""
        key = (path, texpr)
        found = self._texprs.get(key)
        if found is not None:
            return found
        if depth > _MAX_TYPE_DEPTH:
            return frozenset()
        self._texprs[key] = frozenset()
        kind, name, attrs = texpr
        current: set[Node]
        if kind == "super":
            current = set(self.bases.get((path, name), ()))
        elif kind == "param":
            current = set(self.param_types.get((path, name), ()))
        elif kind == "ret":
            current = self._returned(path, name, depth)
        else:
            target = self.project.resolve(path, (kind, name))
            if target is None:
                current = set()
            elif self.is_class(target):
                current = {target}
            else:  # `f(...)`: what the function returns
                current = self._returns_of([target], -1, depth)
        for attr in attrs:
            if not current:
                break
            current = {t for cls in current for t in self.field_types(cls, attr, depth)}
        found = self._texprs[key] = frozenset(current)
        return found

    def _decode(self, encoded: str) -> tuple | None:
        """("ref", Ref, index) or ("disp", receiver TypeExpr, method, index); None for anything
        _returned_type did not write (a planted cache entry types nothing)."""
        if encoded in self._decoded:
            return self._decoded[encoded]
        found: tuple | None
        try:
            spec = json.loads(encoded)
            if spec[0] == "ref":
                found = ("ref", (str(spec[1]), str(spec[2])), int(spec[3]))
            else:
                receiver = spec[1]
                receiver_type = (str(receiver[0]), str(receiver[1]), tuple(str(a) for a in receiver[2]))
                found = ("disp", receiver_type, str(spec[2]), int(spec[3]))
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):
            found = None
        self._decoded[encoded] = found
        return found

    def _returned(self, path: str, encoded: str, depth: int) -> set[Node]:
        spec = self._decode(encoded)
        if spec is None:
            return set()
        if spec[0] == "ref":
            _, ref, index = spec
            target = self.project.resolve(path, ref)
            if target is None or self.is_class(target):
                return set()  # a tuple's element of an instance: unknown
            return self._returns_of([target], index, depth)
        _, receiver_type, method, index = spec
        functions: list[Node] = []
        for cls in sorted(self.types(path, receiver_type, depth + 1)):
            functions += self.methods(cls, method)  # `__call__` for `self.factories[k](...)`
        return self._returns_of(functions, index, depth)

    def _returns_of(self, functions: list[Node], index: int, depth: int) -> set[Node]:
        found: set[Node] = set()
        for fpath, fqual in functions:
            for entry in self.summaries[fpath].returns.get(fqual, ()):
                if len(entry) == 2 and entry[0] == index and len(entry[1]) == 3:
                    found |= self.types(fpath, tuple(entry[1]), depth + 1)  # type: ignore[arg-type]
        return found

    def dispatch(self, path: str, texpr: TypeExpr, method: str, called: bool) -> list[Node]:
        """The functions ``<instance of texpr>.method`` reaches; a field of that name that
        is called reaches its type's ``__call__``."""
        found: list[Node] = []
        for cls in sorted(self.types(path, texpr)):
            if texpr[0] == "super":  # no override below: the bases' own (or inherited) method
                inherited = self.find_up(cls, method)
                found += [inherited] if inherited is not None else []
                continue
            targets = self.methods(cls, method)
            if not targets and called and method != "__call__":
                targets = [t for f in sorted(self.field_types(cls, method, 0)) for t in self.methods(f, "__call__")]
            found += targets
        return list(dict.fromkeys(found))

    def reset_types(self) -> None:
        self._texprs.clear()
        self._fields.clear()


def _callees(hierarchy: _Hierarchy, path: str, callee: tuple) -> list[tuple[Node, int]]:
    """(function, positional arguments it takes before the call's first) for a flow's callee."""
    if callee[0] == "ref":
        target = hierarchy.project.resolve(path, tuple(callee[1]))
        if target is None:
            return []
        if hierarchy.is_class(target):
            return [(c, 1) for c in hierarchy.constructors(target)]
        return [(target, 0)]
    return [(t, 1) for t in hierarchy.dispatch(path, tuple(callee[1]), callee[2], True)]


def _propagate_parameter_types(hierarchy: _Hierarchy, rounds: int = 4) -> None:
    """Types of unannotated parameters from what the project's call sites pass, to a fixed
    point (a few rounds: each round follows one more level of plumbing)."""
    flows = [(path, flow) for path, summary in hierarchy.summaries.items() for flow in summary.flows]
    if not flows:
        return
    fixed_callees: dict[int, list[tuple[Node, int]]] = {}  # a plain function's callee never changes
    for _ in range(rounds):
        changed = False
        for index, (path, (callee, position, keyword, types)) in enumerate(flows):
            classes: set[Node] = set()
            for texpr in types:
                classes |= hierarchy.types(path, tuple(texpr))
            if not classes:
                continue
            callees = fixed_callees.get(index)
            if callees is None:
                callees = _callees(hierarchy, path, callee)
                if callee[0] == "ref":
                    fixed_callees[index] = callees
            for (tpath, tqual), skip in callees:
                if keyword:
                    name = keyword
                else:
                    params = hierarchy.summaries[tpath].params.get(tqual, ())
                    if position + skip >= len(params):
                        continue
                    name = params[position + skip]
                slot = hierarchy.param_types.setdefault((tpath, f"{tqual}\t{name}"), set())
                if not classes <= slot:
                    slot |= classes
                    changed = True
        if not changed:
            break
        hierarchy.reset_types()


def _node(path: str, qual: str) -> str:
    return f"{path}::{qual}"


def _short_where(path: str, qual: str, summaries: Mapping[str, ModuleSummary]) -> str:
    """``diffrax._integrate`` + ``loop.<locals>.body_fun`` -> ``_integrate.loop.body_fun``."""
    module = summaries[path].module.rpartition(".")[2]
    return f"{module}.{qual.replace('.<locals>.', '.')}"


@dataclass(frozen=True)
class _Reach:
    """How a traced function was reached: its root and the last method dispatch on the way."""

    root: str  # "`solve` (jitted at model.py:12)" or "a lambda (...)"
    hop: tuple[str, str, str] | None = None  # (method landed on, call as written, caller)
    more_hops: bool = False

    def reason(self, qual: str) -> str:
        if self.hop is None:
            return f"reached from {self.root}"
        landed, text, caller = self.hop
        parts = [f"`{qual}`"]
        if landed != qual:
            parts.append(f"`{landed}`")
        parts.append(f"`{text}` in `{caller}`")
        if self.more_hops:
            parts.append("…")
        parts.append(self.root)
        return " ← ".join(parts)


def traced_functions(
    summaries: Mapping[str, ModuleSummary],
    entry_points: Sequence[str] = (),
    unresolved: list[str] | None = None,
) -> dict[str, dict[str, str]]:
    """For every file, the traced functions (qualname -> reason).

    ``summaries`` maps the display path (as shown in messages) to that file's summary.
    ``entry_points``: functions declared traced (``"pkg.module:function"``,
    ``"pkg.module:Class.method"``; a class means its ``__call__``); those that name nothing in
    the project are appended to ``unresolved``.
    """
    modules: dict[str, str] = {}
    for path, summary in summaries.items():
        modules.setdefault(summary.module, path)
    project = _Project(summaries, modules)
    hierarchy = _Hierarchy(project)
    _propagate_parameter_types(hierarchy)

    # adjacency in insertion order (deterministic: the nearest root wins, first one on ties)
    graph: dict[Node, dict[Node, tuple[str, str] | None]] = {}

    def add(source: Node, target: Node, hop: tuple[str, str] | None = None) -> None:
        graph.setdefault(source, {}).setdefault(target, hop)

    for path, summary in summaries.items():
        for edges, kind in ((summary.edges, "call"), (summary.mentions, "mention"), (summary.guarded_edges, "guarded")):
            for caller, ref in edges:
                if caller not in summary.functions:
                    continue
                target = project.resolve(path, ref)
                if target is None:
                    continue
                tpath, tqual = target
                if hierarchy.is_class(target):  # C(...) runs the constructor methods
                    if kind == "mention":  # isinstance(x, C), a type handed on: nothing runs
                        continue
                    for constructor in hierarchy.constructors(target):
                        add((path, caller), constructor)
                else:
                    if tqual not in summaries[tpath].functions:  # `Base.method(self)`, inherited
                        owner, _, method = tqual.rpartition(".")
                        if not (owner and hierarchy.is_class((tpath, owner))):
                            continue
                        found = hierarchy.find_up((tpath, owner), method)
                        if found is None:
                            continue
                        target = found
                    # A NumPy-only helper in a branch of a static string switch
                    # (`if method == "numpy":`) is the host alternative, not traced code.
                    if kind == "guarded" and target[1] in summaries[target[0]].numpy_only:
                        continue
                    add((path, caller), target)
        for caller, texpr, method, text, guarded, called in summary.dispatches:
            if caller not in summary.functions:
                continue
            for target in hierarchy.dispatch(path, tuple(texpr), method, called):
                if guarded and target[1] in summaries[target[0]].numpy_only:
                    continue
                add((path, caller), target, (text, _short_where(path, caller, summaries)))

    reach: dict[Node, _Reach] = {}
    own: dict[Node, str] = {}
    queue: list[Node] = []

    def start(node: Node, own_reason: str, passed_on: _Reach) -> None:
        if node in reach:
            return
        reach[node] = passed_on
        own[node] = own_reason
        queue.append(node)

    for path, summary in summaries.items():
        for root in summary.roots:
            where = f"{root.role} at {path}:{root.line}"
            if root.method:
                targets = hierarchy.dispatch(path, (root.ref[0], root.ref[1], tuple(root.attrs)), root.method, True)
            else:
                target = project.resolve(path, root.ref)
                if target is None:
                    continue
                if hierarchy.is_class(target):
                    targets = hierarchy.methods(target, "__call__")
                elif target[1] in summaries[target[0]].functions:
                    targets = [target]
                else:
                    targets = []
            for tpath, tqual in targets:
                short = tqual.rpartition(".")[2]
                if root.via_lambda:
                    start((tpath, tqual), f"called from a lambda that is {where}", _Reach(f"a lambda ({where})"))
                else:
                    start((tpath, tqual), f"`{short}` is {where}", _Reach(f"`{short}` ({where})"))
    for entry in entry_points:
        module, _, qual = entry.partition(":")
        targets = _entry_targets(project, hierarchy, module, qual)
        if not targets and unresolved is not None:
            unresolved.append(entry)
        for target in targets:
            start(target, f"`{target[1]}` is declared traced (`{entry}`)",
                  _Reach(f"`{target[1]}` (declared traced: `{entry}`)"))

    index = 0
    while index < len(queue):
        node = queue[index]
        index += 1
        passed = reach[node]
        for child, hop in graph.get(node, {}).items():
            if child in reach:
                continue
            if hop is None:
                inherited = passed
            else:
                inherited = _Reach(passed.root, (child[1], hop[0], hop[1]), passed.hop is not None or passed.more_hops)
            reach[child] = inherited
            own[child] = inherited.reason(child[1])
            queue.append(child)

    traced: dict[str, dict[str, str]] = {path: {} for path in summaries}
    for (path, qual), reason in own.items():
        traced[path][qual] = reason
    return traced


def _entry_targets(project: _Project, hierarchy: _Hierarchy, module: str, qual: str) -> list[Node]:
    path = project.modules.get(module)
    found = project.lookup_in(path, qual.split(".")) if path is not None and qual else None
    if found is None:
        found = project.lookup(f"{module}.{qual}") if qual else None
    if found is None:
        owner, _, method = qual.rpartition(".")
        cls = project.lookup(f"{module}.{owner}") if owner else None
        if cls is not None and hierarchy.is_class(cls):
            inherited = hierarchy.find_up(cls, method)
            return [inherited] if inherited is not None else []
        return []
    if hierarchy.is_class(found):
        return hierarchy.methods(found, "__call__")
    return [found] if found[1] in project.summaries[found[0]].functions else []


# --- the engine's pre-filter on summaries (LintRule.REQUIRES) ---------------------------------
SYNTAX_FEATURES = frozenset({"for", "while", "comprehension", "lambda", "at-update", "if"})


def traced_features(summary: ModuleSummary, traced: Mapping[str, str], transform_lambdas: bool) -> frozenset[str]:
    """Syntax features that occur in traced code: in traced functions or functions nested in
    them, or anywhere if the file has a lambda in a transform's slot (its body cannot be
    attributed to a function)."""
    if transform_lambdas:
        return frozenset().union(*summary.features.values()) if summary.features else frozenset()
    found: set[str] = set()
    for scope, features in summary.features.items():
        if not scope:
            continue
        parts = scope.split(".<locals>.")
        if any(".<locals>.".join(parts[: i + 1]) in traced for i in range(len(parts))):
            found |= features
    return frozenset(found)


def requirement_met(requirement: str, summary: ModuleSummary, in_traced_code: frozenset[str] | None) -> bool:
    """One REQUIRES item against a file's summary. ``in_traced_code``: the syntax features of
    the file's traced code (for TRACED_ONLY rules), or None to count them anywhere;
    ``"traced:<feature>"`` always asks about traced code."""
    if requirement.startswith("traced:"):
        return requirement[len("traced:") :] in (in_traced_code or frozenset())
    if requirement in SYNTAX_FEATURES:
        if in_traced_code is not None:
            return requirement in in_traced_code
        return any(requirement in features for features in summary.features.values())
    if requirement.startswith("keyword:"):
        return requirement[len("keyword:") :] in summary.keywords
    return requirement.rstrip(".") in summary.names
