"""Which functions are traced: an ``ast`` summary per file, then a networkx call graph.

Two stages, so that the expensive part is per file (parallel, cached by content hash) and the
cross-file part is a cheap graph walk:

1. :func:`summarize_module` parses a file with the standard ``ast`` module (about ten times
   cheaper than libcst) and records plain, picklable facts: the import alias table, the
   functions defined (by qualified name, ``Outer.method`` / ``f.<locals>.g``), the references
   each function makes to other functions (calls *and* plain mentions: a function handed to
   another function is usually called by it), and the *roots*: functions that a JAX
   transform receives (``jax.jit``, ``eqx.filter_jit``, ``partial(jax.jit, ...)`` as a
   decorator or a call; ``vmap``/``grad``/``jvp``/``checkpoint``; the bodies of
   ``lax.scan``/``while_loop``/``fori_loop``/``cond``/``switch``/``map``; ``ODETerm(f)``).
2. :func:`traced_functions` resolves references across the checked files (imports resolved
   within the project, re-exports followed), builds a :class:`networkx.DiGraph`, and walks it
   breadth-first from all roots at once, so each traced function gets the *nearest* root as
   its reason: "reached from `solve` (jitted at model.py:12)".

Everything here over-approximates a little (a mentioned function is assumed called) and
misses what needs types (``self.solver.step`` on an attribute of unknown class). Rules that
fire only in traced code therefore err towards silence in untyped plumbing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

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
    ("jax.checkpoint", "jax.remat", "jax.ad_checkpoint.checkpoint", "equinox.filter_checkpoint"),
    (0,), ("fun", "f"), "checkpointed",
)
_add(("jax.eval_shape", "jax.make_jaxpr", "equinox.filter_eval_shape"), (0,), ("fun", "f"), "traced by eval_shape")
_add(("jax.lax.scan", "equinox.internal.scan"), (0,), ("f",), "the body of lax.scan")
_add(("jax.lax.map",), (0,), ("f",), "the body of lax.map")
_add(("jax.lax.associative_scan",), (0,), ("fn",), "the body of lax.associative_scan")
_add(("jax.lax.fori_loop", "equinox.internal.fori_loop"), (2,), ("body_fun",), "the body of lax.fori_loop")
_add(("jax.lax.while_loop", "equinox.internal.while_loop"), (0, 1), ("cond_fun", "body_fun"), "a function of lax.while_loop")
_add(("jax.lax.cond",), (1, 2), ("true_fun", "false_fun"), "a branch of lax.cond")
_add(("jax.lax.switch",), (1,), ("branches",), "a branch of lax.switch")
_add(
    ("diffrax.ODETerm", "diffrax.ControlTerm", "jaxlint.solver.ODETerm"),
    (0,), ("vector_field",), "the vector field of ODETerm",
)

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


@dataclass
class Root:
    """A function handed to a transform: ``ref`` is what was handed, ``role`` what it became."""

    ref: Ref
    role: str
    line: int
    via_lambda: bool = False  # the reference sat inside a lambda handed to the transform


@dataclass
class ModuleSummary:
    """Plain facts about one file, picklable and cached by content hash."""

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


def _ignore(node: ast.AST) -> None:
    return None


class _Summarizer(ast.NodeVisitor):
    """One walk over a module: definitions, imports, references and transform calls.

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
        self.pending_refs: list[tuple[str, tuple[str, ...], str | None, tuple[str, ...]]] = []
        self.pending_calls: list[tuple[ast.Call, tuple[str, ...], str | None, str]] = []
        self.pending_decorators: list[tuple[ast.expr, str, tuple[str, ...], int]] = []
        # `fn` of each `return fn, args` in a function decorated `@...case` (confirmed to be
        # `jaxlint.case` in finish): `jaxlint scale` jits what such a factory returns.
        self.pending_case_returns: list[tuple[ast.expr, tuple[ast.expr, ...], tuple[str, ...], str | None, int]] = []
        self.used_chains: set[tuple[str, ...]] = set()
        self._context_cache: tuple[int, tuple[str, tuple[str, ...], str | None]] | None = None
        self.keywords: set[str] = set()
        self.features: dict[str, set[str]] = {}

    # -- traversal: ast.NodeVisitor's, minus per-node name formatting and the subtrees that
    # cannot hold a reference (expression contexts, annotations: never executed as traced code).
    _SKIP_FIELDS = frozenset({"ctx", "annotation", "returns", "type_comment", "type_params"})
    _LEAVES = (ast.Constant, ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal)
    _fields_by_type: dict[type, tuple[str, ...]] = {}
    _methods_by_type: dict[type, str] = {}

    def visit(self, node: ast.AST) -> None:
        handlers = self.__dict__.get("_handlers")
        if handlers is None:
            handlers = self._handlers = self._bind_handlers()
        handler = handlers.get(node.__class__)
        if handler is None:
            self.generic_visit(node)
        else:
            handler(node)

    def _bind_handlers(self) -> dict[type, object]:
        if not _Summarizer._methods_by_type:
            for name in dir(_Summarizer):
                if name.startswith("visit_") and hasattr(ast, name[6:]):
                    _Summarizer._methods_by_type[getattr(ast, name[6:])] = name
        handlers: dict[type, object] = {t: getattr(self, name) for t, name in self._methods_by_type.items()}
        for leaf in self._LEAVES:
            handlers[leaf] = _ignore
        return handlers

    def generic_visit(self, node: ast.AST) -> None:
        cls = node.__class__
        fields = self._fields_by_type.get(cls)
        if fields is None:
            fields = self._fields_by_type[cls] = tuple(f for f in cls._fields if f not in self._SKIP_FIELDS)
        visit = self.visit
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        visit(item)
            elif isinstance(value, ast.AST):
                visit(value)

    def _feature(self, name: str) -> None:
        self.features.setdefault(self.function_stack[-1] if self.function_stack else "", set()).add(name)

    # -- definitions --
    def _qual_for(self, name: str) -> str:
        if not self.qual_stack:
            return name
        parent = self.qual_stack[-1]
        return f"{parent}.<locals>.{name}" if parent in self.functions else f"{parent}.{name}"

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qual = self._qual_for(node.name)
        self.functions[qual] = node.lineno
        scope = self.function_stack[-1] if self.function_stack else ""
        if not self.qual_stack or self.qual_stack[-1] == scope:
            self.local_defs.setdefault(scope, {})[node.name] = qual
        if not self.qual_stack:
            self.defined.add(node.name)
        if self.qual_stack and self.qual_stack[-1] in self.classes:
            enclosing_class: str | None = self.qual_stack[-1]  # a method: `self` is this class
        else:  # a closure inside a method still sees the method's `self`
            enclosing_class = self.class_stack[-1] if self.class_stack else None
        # Decorators and defaults run in the enclosing scope, not in the function.
        for decorator in node.decorator_list:
            self.pending_decorators.append((decorator, qual, tuple(reversed(self.function_stack)), decorator.lineno))
            self.visit(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.local_defs.setdefault(qual, {})
        self.qual_stack.append(qual)
        self.function_stack.append(qual)
        self.class_stack.append(enclosing_class)
        self._context_cache = None
        case_decorators = tuple(d for d in node.decorator_list if _looks_like_case_marker(d))
        if case_decorators:
            _, scopes, cls = self._context()
            for returned in _returned_callables(node):
                self.pending_case_returns.append((returned, case_decorators, scopes, cls, returned.lineno))
        for statement in node.body:
            self.visit(statement)
        self.class_stack.pop()
        self.function_stack.pop()
        self.qual_stack.pop()
        self._context_cache = None

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        qual = self._qual_for(node.name)
        self.classes.add(qual)
        scope = self.function_stack[-1] if self.function_stack else ""
        if not self.qual_stack or self.qual_stack[-1] == scope:
            self.local_defs.setdefault(scope, {})[node.name] = qual
        if not self.qual_stack:
            self.defined.add(node.name)
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self.qual_stack.append(qual)
        for statement in node.body:
            self.visit(statement)
        self.qual_stack.pop()

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

    # -- module-level bindings that shadow builtins --
    def visit_Assign(self, node: ast.Assign) -> None:
        if not self.qual_stack:
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        self.defined.add(name.id)
        self.generic_visit(node)

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
        if self.function_stack and isinstance(node.ctx, ast.Load):
            caller, scopes, cls = self._context()
            self.pending_refs.append((caller, scopes, cls, (node.id,)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain is None:
            self.generic_visit(node)
            return
        self.used_chains.add(chain)
        if self.function_stack and isinstance(node.ctx, ast.Load):
            caller, scopes, cls = self._context()
            self.pending_refs.append((caller, scopes, cls, chain))

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg is not None:
                self.keywords.add(keyword.arg)
        caller, scopes, cls = self._context()
        self.pending_calls.append((node, scopes, cls, caller))
        self.generic_visit(node)

    # -- syntax features (LintRule.REQUIRES) --
    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._feature("for")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self._feature("while")
        self.generic_visit(node)

    def _visit_comprehension(self, node: ast.AST) -> None:
        self._feature("comprehension")
        self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._feature("lambda")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.value, ast.Attribute) and node.value.attr == "at":
            self._feature("at-update")
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        self._feature("if")
        self.generic_visit(node)

    # -- resolution --
    def resolve(self, chain: tuple[str, ...], scopes: tuple[str, ...], cls: str | None) -> Ref | None:
        head, rest = chain[0], chain[1:]
        if head in ("self", "cls") and cls is not None and rest:
            return ("local", f"{cls}.{rest[0]}")
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

    def function_refs(self, expr: ast.expr, scopes: tuple[str, ...], cls: str | None) -> list[tuple[Ref, bool]]:
        """What functions an argument in a function slot denotes: (ref, came-from-a-lambda)."""
        if isinstance(expr, (ast.List, ast.Tuple)):
            return [r for element in expr.elts for r in self.function_refs(element, scopes, cls)]
        if isinstance(expr, ast.Lambda):
            found: list[tuple[Ref, bool]] = []
            for sub in ast.walk(expr.body):
                if isinstance(sub, (ast.Name, ast.Attribute)):
                    chain = _chain(sub)
                    ref = self.resolve(chain, scopes, cls) if chain else None
                    if ref is not None:
                        found.append((ref, True))
            return found
        if isinstance(expr, ast.Call):
            if self.qualified(expr.func, scopes, cls) in PARTIAL_NAMES and expr.args:
                return self.function_refs(expr.args[0], scopes, cls)
            # `C(...)` handed to a transform: the instance is called, so C.__call__ is traced.
            chain = _chain(expr.func)
            ref = self.resolve(chain, scopes, cls) if chain else None
            return [(("local" if ref[0] == "local" else "ext", ref[1] + ".__call__"), False)] if ref else []
        chain = _chain(expr)
        ref = self.resolve(chain, scopes, cls) if chain else None
        return [(ref, False)] if ref else []

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

    def finish(self, summary_module: str) -> ModuleSummary:
        edges: list[tuple[str, Ref]] = []
        seen: set[tuple[str, Ref]] = set()
        for caller, scopes, cls, chain in self.pending_refs:
            ref = self.resolve(chain, scopes, cls)
            if ref is not None and (caller, ref) not in seen:
                seen.add((caller, ref))
                edges.append((caller, ref))
        roots: list[Root] = []
        transform_lambdas = False
        for decorator, qual, scopes, line in self.pending_decorators:
            # The decorator expression is applied to the function like a callee: `@jax.jit`,
            # `@partial(jax.jit, static_argnums=0)`, `@eqx.filter_jit(donate="all")`.
            name = self.transform_of(decorator, scopes, None)
            if name is not None and 0 in TRANSFORMS[name][0]:
                roots.append(Root(("local", qual), TRANSFORMS[name][2], line))
        for returned, decorators, scopes, cls, line in self.pending_case_returns:
            outer_scopes = scopes[1:]  # the decorator is resolved where the factory is defined
            if any(self.qualified(d, outer_scopes, None) == CASE_MARKER for d in decorators):
                for ref, via_lambda in self.function_refs(returned, scopes, cls):
                    roots.append(Root(ref, CASE_ROLE, line, via_lambda))
                if isinstance(returned, ast.Lambda):
                    transform_lambdas = True
        for call, scopes, cls, _caller in self.pending_calls:
            name = self.transform_of(call.func, scopes, cls)
            if name is None:
                continue
            slots, keywords, role = TRANSFORMS[name]
            arguments = [a for i, a in enumerate(call.args) if i in slots]
            arguments += [k.value for k in call.keywords if k.arg in keywords]
            for argument in arguments:
                elements = argument.elts if isinstance(argument, (ast.List, ast.Tuple)) else [argument]
                if any(isinstance(e, ast.Lambda) for e in elements):
                    transform_lambdas = True
                for ref, via_lambda in self.function_refs(argument, scopes, cls):
                    roots.append(Root(ref, role, call.lineno, via_lambda))
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
        )

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


def summarize_module(source: str | bytes, module: str, is_package: bool = False) -> ModuleSummary:
    """Summarize one module's source; raises ``SyntaxError`` (or ``ValueError`` for NUL bytes)."""
    tree = ast.parse(source)
    summarizer = _Summarizer(module, is_package)
    summarizer.visit(tree)
    summary = summarizer.finish(module)
    lines: list[int] = []
    for statement in tree.body:
        if not lines or statement.lineno != lines[-1]:
            lines.append(statement.lineno)
    summary.statement_lines = tuple(lines)
    return summary


# --- cross-file graph ------------------------------------------------------------------------
_SOURCE = "<roots>"


@dataclass
class _Project:
    summaries: Mapping[str, ModuleSummary]  # display path -> summary
    modules: dict[str, str]  # dotted module -> display path

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
        kind, name = ref
        if kind == "local":
            summary = self.summaries[path]
            if name in summary.functions or name in summary.classes:
                return path, name
            return None
        return self.lookup(name)


def _node(path: str, qual: str) -> str:
    return f"{path}::{qual}"


def traced_functions(summaries: Mapping[str, ModuleSummary]) -> dict[str, dict[str, str]]:
    """For every file, the traced functions (qualname -> reason).

    ``summaries`` maps the display path (as shown in messages) to that file's summary.
    """
    import networkx as nx  # imported here: the warm (cached) path never needs it

    modules: dict[str, str] = {}
    for path, summary in summaries.items():
        modules.setdefault(summary.module, path)
    project = _Project(summaries, modules)

    graph = nx.DiGraph()
    for path, summary in summaries.items():
        for caller, ref in summary.edges:
            if caller not in summary.functions:
                continue
            target = project.resolve(path, ref)
            if target is None:
                continue
            tpath, tqual = target
            tsummary = summaries[tpath]
            if tqual in tsummary.classes:  # C(...) runs the constructor methods
                for method in _CONSTRUCTOR_METHODS:
                    if f"{tqual}.{method}" in tsummary.functions:
                        graph.add_edge(_node(path, caller), _node(tpath, f"{tqual}.{method}"))
            else:
                graph.add_edge(_node(path, caller), _node(tpath, tqual))

    root_reasons: dict[str, tuple[str, str]] = {}  # node -> (own reason, reason for callees)
    for path, summary in summaries.items():
        for root in summary.roots:
            target = project.resolve(path, root.ref)
            if target is None:
                continue
            tpath, tqual = target
            if tqual in summaries[tpath].classes:
                tqual = f"{tqual}.__call__"
                if tqual not in summaries[tpath].functions:
                    continue
            node = _node(tpath, tqual)
            if node in root_reasons:
                continue
            where = f"{root.role} at {path}:{root.line}"
            short = tqual.rpartition(".")[2]
            if root.via_lambda:
                root_reasons[node] = (f"called from a lambda that is {where}", f"reached from a lambda ({where})")
            else:
                root_reasons[node] = (f"`{short}` is {where}", f"reached from `{short}` ({where})")
            graph.add_edge(_SOURCE, node)

    traced: dict[str, dict[str, str]] = {path: {} for path in summaries}
    if _SOURCE not in graph:
        return traced
    inherited: dict[str, str] = {}
    for parent, child in nx.bfs_edges(graph, _SOURCE):
        if parent == _SOURCE:
            own, passed_on = root_reasons[child]
        else:
            own = passed_on = inherited[parent]
        inherited[child] = passed_on
        path, _, qual = child.partition("::")
        traced[path][qual] = own
    return traced


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
